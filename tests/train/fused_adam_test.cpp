// FusedAdam against LibTorch's own Adam (an independent implementation of the
// same update): trajectories, skipped steps, parameters without gradients,
// channels_last parameters, and checkpoints read by either class.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/fused_adam.h"

using gantry::train::FusedAdam;

namespace {

torch::optim::AdamOptions options() { return torch::optim::AdamOptions(2e-3).betas({0.5, 0.99}).eps(1e-8); }

std::vector<torch::Tensor> make_params(uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({4, 3, 3, 3}).requires_grad_(true), torch::randn({7}).requires_grad_(true),
          torch::randn({5, 6}).requires_grad_(true)};
}

// Gradient of step s for parameter i (the same whatever the optimizer).
torch::Tensor grad_for(int s, size_t i, const torch::Tensor& p) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 * s + i);
  return torch::randn(p.sizes(), gen) * (1 + s % 3);
}

void set_grads(std::vector<torch::Tensor>& params, int s) {
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grad_for(s, i, params[i]);
}

double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / (b.abs() + 1e-6)).max().item<double>();
}

torch::optim::AdamParamState& state_of(torch::optim::Optimizer& opt, const torch::Tensor& p) {
  return static_cast<torch::optim::AdamParamState&>(*opt.state().at(p.unsafeGetTensorImpl()));
}

}  // namespace

TEST(FusedAdam, FollowsLibTorchAdam) {
  auto a = make_params(1), b = make_params(1);
  torch::optim::Adam reference(a, options());
  FusedAdam fused(b, options());
  for (int s = 0; s < 30; ++s) {
    set_grads(a, s);
    set_grads(b, s);
    reference.step();
    fused.step();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    // The fused expression rounds differently (~1 ulp per step), nothing more.
    EXPECT_LT(max_rel_diff(b[i], a[i]), 1e-5) << "param " << i;
    EXPECT_LT(max_rel_diff(state_of(fused, b[i]).exp_avg_sq(), state_of(reference, a[i]).exp_avg_sq()), 1e-5);
    EXPECT_GT((b[i] - make_params(1)[i]).abs().max().item<double>(), 1e-2) << "param " << i << " did not move";
  }
}

TEST(FusedAdam, SkipFlagLeavesEverythingUntouchedAndCountsNoStep) {
  auto a = make_params(2), b = make_params(2);
  torch::optim::Adam reference(a, options());
  FusedAdam fused(b, options());
  const auto no = torch::zeros({}), yes = torch::ones({});
  for (int s = 0; s < 6; ++s) {
    set_grads(b, s);
    if (s == 2 || s == 3) {  // skipped by the flag: the reference does not step at all
      const auto before = b[0].clone();
      fused.step_unless(yes);
      EXPECT_TRUE(torch::equal(before, b[0]));
      continue;
    }
    set_grads(a, s);
    reference.step();
    fused.step_unless(no);
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_rel_diff(b[i], a[i]), 1e-5) << "param " << i;
  // The count (what bias correction uses) is 4 steps, as the reference's.
  torch::serialize::OutputArchive archive;
  fused.save(archive);
  EXPECT_EQ(state_of(fused, b[0]).step(), 4);
  EXPECT_EQ(state_of(reference, a[0]).step(), 4);
}

TEST(FusedAdam, ParameterWithoutGradientIsNotUpdated) {
  auto b = make_params(3);
  FusedAdam fused(b, options());
  const auto untouched = b[1].clone();
  for (int s = 0; s < 3; ++s) {
    set_grads(b, s);
    b[1].mutable_grad().reset();
    fused.step();
  }
  EXPECT_TRUE(torch::equal(untouched, b[1]));
  EXPECT_EQ(fused.state().count(b[1].unsafeGetTensorImpl()), 0u);
}

TEST(FusedAdam, ChannelsLastParameterWithContiguousGradient) {
  // The fused kernel walks raw memory: grads and state must be brought to the parameter's strides.
  auto a = make_params(4), b = make_params(4);
  {
    torch::NoGradGuard ng;
    b[0].set_data(b[0].contiguous(at::MemoryFormat::ChannelsLast));
  }
  ASSERT_FALSE(b[0].is_contiguous());
  torch::optim::Adam reference(a, options());
  FusedAdam fused(b, options());
  for (int s = 0; s < 5; ++s) {
    set_grads(a, s);
    set_grads(b, s);  // contiguous gradient for a channels_last parameter
    reference.step();
    fused.step();
  }
  EXPECT_LT(max_rel_diff(b[0].contiguous(), a[0]), 1e-5);
}

TEST(FusedAdam, CheckpointsAreInterchangeableWithLibTorchAdam) {
  // Save from FusedAdam, load into LibTorch's Adam (and back): the trajectories continue identically.
  auto a = make_params(5), b = make_params(5);
  FusedAdam fused(b, options());
  for (int s = 0; s < 4; ++s) {
    set_grads(b, s);
    fused.step();
  }
  {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < a.size(); ++i) a[i].copy_(b[i]);
  }
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    fused.save(archive);
    archive.save_to(buffer);
  }
  torch::optim::Adam reference(a, options());
  {
    torch::serialize::InputArchive archive;
    archive.load_from(buffer);
    reference.load(archive);
  }
  EXPECT_EQ(state_of(reference, a[0]).step(), 4);
  EXPECT_TRUE(torch::equal(state_of(reference, a[2]).exp_avg(), state_of(fused, b[2]).exp_avg()));
  // An old (LibTorch Adam) checkpoint into a fresh FusedAdam.
  std::stringstream old;
  {
    torch::serialize::OutputArchive archive;
    reference.save(archive);
    archive.save_to(old);
  }
  auto c = make_params(5);
  {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < c.size(); ++i) c[i].copy_(b[i]);
  }
  FusedAdam resumed(c, options());
  {
    torch::serialize::InputArchive archive;
    archive.load_from(old);
    resumed.load(archive);
  }
  for (int s = 4; s < 8; ++s) {
    set_grads(a, s);
    set_grads(c, s);
    reference.step();
    resumed.step();
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_rel_diff(c[i], a[i]), 1e-5) << "param " << i;
  EXPECT_EQ(state_of(reference, a[0]).step(), 8);
}
