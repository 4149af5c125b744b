// gantry diff A B [--tol X]: the largest absolute difference of every tensor
// of two checkpoints (JSON); exit 0 when all are within tol, 1 otherwise. The
// world size at save and the parameter hash describe the save, not the state,
// and are not compared.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "train/checkpoint_nets.h"

namespace gantry::cli {

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
      const auto fa = train::flatten_checkpoint(o->a).tensors, fb = train::flatten_checkpoint(o->b).tensors;
      nlohmann::json per;
      double worst = 0;
      bool ok = true;
      for (const auto& [k, ta] : fa) {
        if (k == "world_size" || k == "param_hash") continue;
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
