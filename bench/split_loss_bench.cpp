// Split loss benchmark (JSON on stdout): the fused pair sum (reg::split_loss: one autograd node that
// computes its gradient in forward, block by block of rows) against the row loop it replaced (one
// autograd chain per row of the batch, kept here as the baseline), forward + backward per shape:
//   mlp-b100 / mlp-b400: the 2-D protocol's banks (2 maps of 400 per sample) at batch 100 and 400;
//   conv-b64: two sdeconv maps of an image G (64 × 8 × 8 and 32 × 16 × 16) at batch 64.
// Alternating reps (the order swaps every rep), medians; the ratio is baseline / fused. retained_mib is what the heap
// holds between forward and backward (what autograd saved), from mallinfo2. max_abs_diff compares the two
// implementations' loss and gradients, as a sanity check (tests/reg check the formula). Run:
// build/bench/bench_split_loss [--reps N] [--threads N] [--block-elements N (the fused node's block)]
#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reg/split_loss.h"

namespace {
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Bytes the heap holds (glibc: in-use chunks plus mmapped ones); NaN where mallinfo2 is missing (glibc < 2.33).
double heap_mib() {
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 33)
  const auto mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) / (1 << 20);
#endif
#endif
  return std::numeric_limits<double>::quiet_NaN();
}

// The implementation before the fused node: per row k, rows k+1..B−1 through tanh(((·)/25)^4).
torch::Tensor rowloop_split_loss(const std::vector<torch::Tensor>& maps, const std::vector<double>& weights) {
  torch::Tensor total;
  for (size_t i = 0; i < maps.size(); ++i) {
    const int64_t b = maps[i].size(0);
    const auto m = maps[i].reshape({b, -1});
    torch::Tensor sum_log;
    for (int64_t k = 0; k + 1 < b; ++k) {
      const auto rest = m.narrow(0, k + 1, b - k - 1);
      const auto s = torch::log(torch::tanh(((rest - m[k]) / 25.0).pow(4)).mean(1) + 1e-8).sum();
      sum_log = sum_log.defined() ? sum_log + s : s;
    }
    const auto term = (2.0 * weights[i] / static_cast<double>(b * (b - 1))) * sum_log;
    total = total.defined() ? total + term : term;
  }
  return -total;
}

struct Run {
  double seconds = 0, retained_mib = 0;
  torch::Tensor loss;
  std::vector<torch::Tensor> grads;
};

template <typename Loss>
Run forward_backward(const std::vector<torch::Tensor>& data, const std::vector<double>& w, Loss loss_fn) {
  std::vector<torch::Tensor> maps;
  for (const auto& d : data) maps.push_back(d.clone().requires_grad_(true));
  Run r;
  const double before = heap_mib();
  const auto t0 = Clock::now();
  r.loss = loss_fn(maps, w);
  r.retained_mib = heap_mib() - before;
  r.loss.backward();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& m : maps) r.grads.push_back(m.grad());
  return r;
}

nlohmann::json bench(const std::string& name, const std::vector<std::vector<int64_t>>& shapes, int reps,
                     const gantry::reg::SplitLossOptions& fused) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> data;
  // Differences of O(25) put tanh's argument in its working range, as trained maps are.
  for (const auto& s : shapes) data.push_back(torch::randn(s) * 20);
  const auto w = gantry::reg::split_loss_weights(data.size());
  std::vector<double> fused_t, rowloop_t, fused_mib, rowloop_mib;
  double diff = 0;
  for (int r = 0; r < reps + 1; ++r) {  // rep 0 warms up
    const auto run_fused = [&] {
      return forward_backward(data, w,
                              [&](const auto& m, const auto& wt) { return gantry::reg::split_loss(m, wt, fused); });
    };
    Run f, l;
    if (r % 2) {
      l = forward_backward(data, w, rowloop_split_loss);
      f = run_fused();
    } else {
      f = run_fused();
      l = forward_backward(data, w, rowloop_split_loss);
    }
    if (r == 0) {
      diff = (f.loss - l.loss).abs().item<double>();
      for (size_t i = 0; i < f.grads.size(); ++i)
        diff = std::max(diff, (f.grads[i] - l.grads[i]).abs().max().item<double>());
      continue;
    }
    fused_t.push_back(f.seconds);
    rowloop_t.push_back(l.seconds);
    fused_mib.push_back(f.retained_mib);
    rowloop_mib.push_back(l.retained_mib);
  }
  nlohmann::json shape_list = nlohmann::json::array();
  for (const auto& s : shapes) shape_list.push_back(s);
  return {{"name", name},
          {"maps", shape_list},
          {"fused_ms", median(fused_t) * 1e3},
          {"rowloop_ms", median(rowloop_t) * 1e3},
          {"rowloop_over_fused", median(rowloop_t) / median(fused_t)},
          {"fused_retained_mib", median(fused_mib)},
          {"rowloop_retained_mib", median(rowloop_mib)},
          {"max_abs_diff", diff}};
}

int parse_int(const char* flag, const char* v) {
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (!*v || *end || x < 1 || x > (1L << 30)) {
    std::fprintf(stderr, "bench_split_loss: %s needs a positive integer, not '%s'\n", flag, v);
    std::exit(2);
  }
  return static_cast<int>(x);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5, threads = 1;
  gantry::reg::SplitLossOptions fused;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--reps" || a == "--threads") && i + 1 < argc) {
      (a == "--reps" ? reps : threads) = parse_int(argv[i], argv[i + 1]);
      ++i;
    } else if (a == "--block-elements" && i + 1 < argc) {
      fused.block_elements = parse_int(argv[i], argv[i + 1]);
      ++i;
    } else {
      std::fprintf(stderr,
                   "bench_split_loss: unknown argument '%s' (flags: --reps N, --threads N, --block-elements N)\n",
                   argv[i]);
      return 2;
    }
  }
  torch::set_num_threads(threads);
  nlohmann::json out = {{"bench", "split_loss"},
                        {"reps", reps},
                        {"threads", threads},
                        {"block_elements", fused.block_elements},
                        {"cases", nlohmann::json::array()}};
  out["cases"].push_back(bench("mlp-b100", {{100, 400}, {100, 400}}, reps, fused));
  out["cases"].push_back(bench("mlp-b400", {{400, 400}, {400, 400}}, reps, fused));
  out["cases"].push_back(bench("conv-b64", {{64, 64, 8, 8}, {64, 32, 16, 16}}, reps, fused));
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
