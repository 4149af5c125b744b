// gantry diff A B [--tol X]: the largest absolute difference of every tensor
// of two checkpoints (JSON); exit 0 when all are within tol, 1 otherwise. The
// world size at save and the parameter hash describe the save, not the state,
// and are not compared.
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/commands.h"
#include "train/checkpoint_file.h"

namespace gantry::cli {

namespace {
using Flat = std::map<std::string, torch::Tensor>;

void flatten(torch::serialize::InputArchive& a, const std::string& prefix, Flat& out,
             std::map<std::string, std::string>& strings) {
  for (const auto& k : a.keys()) {
    torch::Tensor t;
    if (a.try_read(k, t)) {
      out[prefix + k] = t;
      continue;
    }
    torch::serialize::InputArchive sub;
    if (a.try_read(k, sub)) {
      flatten(sub, prefix + k + "/", out, strings);
      continue;
    }
    c10::IValue v;
    if (a.try_read(k, v) && v.isString()) strings[prefix + k] = v.toStringRef();
  }
}

// LibTorch keys optimizer state by the parameter's address in the saving
// process; rename "opt_x/state/<address>/..." to "opt_x/state/<group>.<index>/..."
// using the param_groups lists, so that two processes' checkpoints compare.
Flat canonical(const Flat& flat, const std::map<std::string, std::string>& strings) {
  static const std::regex param(R"(^(opt_[a-z]+)/param_groups/param_groups/(\d+)/params/(\d+)$)");
  static const std::regex state(R"(^(opt_[a-z]+)/state/(\d+)/(.*)$)");
  std::map<std::string, std::string> position;  // "opt_g/<address>" → "<group>.<index>"
  std::smatch m;
  for (const auto& [k, v] : strings)
    if (std::regex_match(k, m, param)) position[m[1].str() + "/" + v] = m[2].str() + "." + m[3].str();
  Flat out;
  for (const auto& [k, t] : flat) {
    if (std::regex_match(k, m, state)) {
      const auto it = position.find(m[1].str() + "/" + m[2].str());
      if (it != position.end()) {
        out[m[1].str() + "/state/" + it->second + "/" + m[3].str()] = t;
        continue;
      }
    }
    out[k] = t;
  }
  return out;
}

Flat read_all(const std::string& path) {
  std::string payload;
  try {
    payload = train::read_checkpoint_payload(path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
  torch::serialize::InputArchive a;
  train::load_archive(a, payload);
  Flat f;
  std::map<std::string, std::string> strings;
  flatten(a, "", f, strings);
  return canonical(f, strings);
}
}  // namespace

CLI::App* add_diff_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("diff", "Compare two checkpoints tensor by tensor");
  struct Opts {
    std::string a, b;
    double tol = 0;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("a", o->a, "checkpoint")->required();
  sub->add_option("b", o->b, "checkpoint")->required();
  sub->add_option("--tol", o->tol, "largest allowed absolute difference (default 0: identical)");
  sub->callback([&action, o] {
    action = [o] {
      const auto fa = read_all(o->a), fb = read_all(o->b);
      nlohmann::json per;
      double worst = 0;
      bool ok = true;
      for (const auto& [k, ta] : fa) {
        if (k == "world_size" || k == "param_hash") continue;  // about the save, not the state
        const auto it = fb.find(k);
        if (it == fb.end() || it->second.sizes() != ta.sizes()) {
          per[k] = "missing or different shape";
          ok = false;
          continue;
        }
        const double d = ta.numel() ? (ta.to(torch::kDouble) - it->second.to(torch::kDouble)).abs().max().item<double>() : 0.0;
        per[k] = d;
        worst = std::max(worst, d);
      }
      for (const auto& [k, tb] : fb)
        if (!fa.count(k)) {
          per[k] = "missing or different shape";
          ok = false;
        }
      ok = ok && worst <= o->tol;
      std::printf("%s\n", nlohmann::json({{"max_abs_diff", worst}, {"within_tol", ok}, {"tensors", per}}).dump().c_str());
      return ok ? 0 : 1;
    };
  });
  return sub;
}

}  // namespace gantry::cli
