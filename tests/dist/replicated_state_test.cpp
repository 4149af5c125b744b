// Replicated state stays identical on every rank through real training steps:
// parameters, SN power-iteration vectors, the VBN reference batch (drawn per
// rank, made rank 0's by the start-up broadcast), historical averages, EMA of
// G, and optimizer-updated weights — each rank training on its own slice of
// the global batch with fused gradient all-reduce.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/replicas.h"
#include "dist/test_util.h"
#include "models/networks.h"
#include "reg/historical_averaging.h"
#include "train/checkpoint_layout.h"
#include "train/ema.h"

using namespace gantry;

namespace {
void expect_consistent(const dist::ConsistencyReport& r, const std::string& what) {
  EXPECT_TRUE(r.consistent) << what << ": " << r.message();
}
}  // namespace

TEST(ReplicatedState, IdenticalOnEveryRankAfterSeveralSteps) {
  auto& world = test::world();
  auto& comm = world.comm();
  models::ModelConfig c;
  c.arch = models::Arch::kDcgan;
  c.resolution = 28;
  c.channels = 1;
  c.z_dim = 16;
  c.g_width = 16;
  c.d_width = 16;
  c.g_norm = models::NormKind::kVirtualBatch;
  c.vbn_reference = 4;
  c.d_weight_norm = models::WeightNorm::kSpectral;
  torch::manual_seed(100 + world.rank());  // every rank initialises differently...
  auto g = models::build_generator(c, &comm);
  auto d = models::build_discriminator(c, &comm);
  auto g_ema = models::build_generator(c, &comm);
  const auto u_before = d->named_buffers()["conv1.sn_u"].clone();
  dist::broadcast_parameters(*g, comm);  // ...and the start-up broadcast makes rank 0's state everyone's
  dist::broadcast_parameters(*d, comm);
  if (world.size() > 1 && world.rank() > 0) {
    EXPECT_FALSE(torch::equal(u_before, d->named_buffers()["conv1.sn_u"])) << "broadcast did not replace SN u";
  }
  expect_consistent(dist::check_consistency(*g, comm), "G after broadcast");

  train::Ema ema(g, g_ema, 0.9, 1);
  reg::HistoricalAverage ha(d->parameters(), 1e-3);
  torch::optim::Adam opt_g(g->parameters(), torch::optim::AdamOptions(2e-4).betas({0.0, 0.9}));
  torch::optim::Adam opt_d(d->parameters(), torch::optim::AdamOptions(2e-4).betas({0.0, 0.9}));
  dist::GradSync sync_g(*g, comm), sync_d(*d, comm);

  const int64_t global = 8, local = global / world.size();
  for (int64_t step = 0; step < 4; ++step) {
    torch::manual_seed(1000 + step);  // the global batch, the same on every rank; each takes its rows
    const auto real = torch::rand({global, 1, 28, 28}).mul(2).sub(1).narrow(0, world.rank() * local, local);
    const auto z = torch::randn({global, c.z_dim}).narrow(0, world.rank() * local, local);

    ha.update();
    sync_d.begin();
    const auto fake = g->forward(z).detach();
    const auto d_loss = torch::relu(1 - d->forward(real).logits).mean() +
                        torch::relu(1 + d->forward(fake).logits).mean() + ha.penalty();
    d_loss.backward();
    sync_d.finish();
    opt_d.step();

    sync_g.begin();
    const auto g_loss = -d->forward(g->forward(z)).logits.mean();
    g_loss.backward();
    sync_g.finish();
    opt_g.step();
    ema.update(step);
  }
  expect_consistent(dist::check_consistency(*g, comm), "G (incl. VBN reference)");
  expect_consistent(dist::check_consistency(*d, comm), "D (incl. SN u, v)");
  expect_consistent(dist::check_consistency(*g_ema, comm), "EMA of G");
  dist::NamedTensors ha_state;
  const auto s = ha.state();
  for (size_t i = 0; i < s.size(); ++i) ha_state.emplace_back("ha." + std::to_string(i), s[i]);
  expect_consistent(dist::check_consistency(ha_state, comm), "historical averages");
  // The state really moved: SN u changed by the power iterations, EMA differs from G.
  EXPECT_FALSE(torch::equal(u_before, d->named_buffers()["conv1.sn_u"]));
  EXPECT_FALSE(torch::equal(g_ema->named_parameters()["project.weight"], g->named_parameters()["project.weight"]));

  // The trainer's pre-checkpoint check covers all of it, the optimizers' moments included: every
  // tensor once, under its part's archive key, and a difference in one rank's Adam state is caught.
  const train::CheckpointParts parts{g.get(), d.get(), g_ema.get(), &opt_g, &opt_d, nullptr, &ha};
  const auto tensors = train::replicated_tensors(parts);
  const auto count = [](const torch::nn::Module& m) { return dist::parameters_and_buffers(m).size(); };
  EXPECT_EQ(tensors.size(),
            2 * count(*g) + count(*d) + 2 * opt_g.state().size() + 2 * opt_d.state().size() + ha.state().size());
  EXPECT_EQ(opt_d.state().size(), d->parameters().size()) << "every D parameter has Adam moments after 4 steps";
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) names.insert(name);
  EXPECT_EQ(names.size(), tensors.size()) << "names are not unique";
  EXPECT_TRUE(names.count("G_ema.project.weight") && names.count("opt_d.0.0.exp_avg_sq") && names.count("ha_d.0"));
  expect_consistent(dist::check_consistency(tensors, comm), "every part of a checkpoint");
  if (world.size() > 1) {
    auto& state = opt_d.state().at(d->parameters()[0].unsafeGetTensorImpl());
    static_cast<torch::optim::AdamParamState&>(*state).exp_avg().add_(world.rank() == world.size() - 1 ? 1e-3 : 0.0);
    const auto report = dist::check_consistency(train::replicated_tensors(parts), comm);
    EXPECT_FALSE(report.consistent);
    EXPECT_EQ(report.first_tensor, "opt_d.0.0.exp_avg");
    EXPECT_EQ(report.first_rank, world.size() - 1);
  }
}
