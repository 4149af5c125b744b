// gantry diff A B [--tol X] [--rtol R]: the largest absolute and relative
// difference of every tensor of two checkpoints (JSON); exit 0 when every
// element satisfies |a − b| <= tol + rtol·|b| (numpy's allclose), 1 otherwise;
// a bad tolerance is bad input (exit 2). Relative = max|a − b| / max|b| per
// tensor, so that small tensors (Adam's second moments) are visible. The
// world size at save and the parameter hash describe the save, not the state,
// and are not compared.
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "train/checkpoint_nets.h"

namespace gantry::cli {

CLI::App* add_diff_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("diff", "Compare two checkpoints tensor by tensor");
  struct Opts {
    std::string a, b;
    double tol = 0, rtol = 0;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("a", o->a, "checkpoint")->required();
  sub->add_option("b", o->b, "checkpoint")->required();
  sub->add_option("--tol", o->tol, "allowed absolute difference (default 0: identical)");
  sub->add_option("--rtol", o->rtol, "allowed difference relative to B's element (default 0)");
  sub->callback([&action, o] {
    action = [o] {
      if (!(o->tol >= 0 && std::isfinite(o->tol)) || !(o->rtol >= 0 && std::isfinite(o->rtol)))
        throw std::invalid_argument("diff: --tol and --rtol must be finite and non-negative");
      const auto fa = train::flatten_checkpoint(o->a).tensors, fb = train::flatten_checkpoint(o->b).tensors;
      nlohmann::json per, relative;
      double worst = 0, worst_rel = 0;
      bool ok = true, close = true;
      for (const auto& [k, ta] : fa) {
        if (!train::describes_state(k)) continue;  // who saved it (world size, hash), not the state
        const auto it = fb.find(k);
        if (it == fb.end() || it->second.sizes() != ta.sizes()) {
          per[k] = "missing or different shape";
          ok = false;
          continue;
        }
        double d = 0, rel = 0;
        if (ta.numel()) {
          const auto a = ta.to(torch::kDouble), b = it->second.to(torch::kDouble);
          const auto diff = (a - b).abs();
          d = diff.max().item<double>();
          const double scale = b.abs().max().item<double>();
          rel = scale > 0 ? d / scale : (d > 0 ? std::numeric_limits<double>::infinity() : 0.0);
          close = close && (diff <= o->tol + o->rtol * b.abs()).all().item<bool>();
        }
        per[k] = d;
        relative[k] = rel;
        worst = std::max(worst, d);
        worst_rel = std::max(worst_rel, rel);
      }
      for (const auto& [k, tb] : fb)
        if (!fa.count(k)) {
          per[k] = "missing or different shape";
          ok = false;
        }
      ok = ok && close;
      std::printf("%s\n", nlohmann::json({{"max_abs_diff", worst},
                                          {"max_rel_diff", worst_rel},
                                          {"within_tol", ok},
                                          {"tensors", per},
                                          {"relative", relative}})
                              .dump()
                              .c_str());
      return ok ? 0 : 1;
    };
  });
  return sub;
}

}  // namespace gantry::cli
