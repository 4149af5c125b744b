// Numeric precision and memory layout of training (`train.precision`,
// `train.channels_last`).
//
// bf16: the forwards of G and D run under autocast (convolutions and matmuls
// in bfloat16, ATen's autocast policy for the rest); parameters, gradients,
// optimizer state and EMA stay float32; the trainer casts the nets' outputs
// to float32 so that losses, penalties (GP, R1, GN/PGN's gradient norms,
// DiReAL, split loss, FM) and their backward-of-backward terms are float32.
// bf16 has float32's exponent range, so no loss scaling is needed.
//
// channels_last: 4-D parameters and image batches in NHWC strides, the layout
// oneDNN (CPU) and cuDNN (tensor cores) prefer for convolutions; values and
// checkpoints are layout-independent.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/nn/module.h>

#include "common/named_enum.h"

#include <stdexcept>
#include <string>

namespace gantry::train {

enum class Precision { kFp32, kBf16 };
inline constexpr EnumName<Precision> kPrecisionNames[] = {{Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}};
constexpr std::span<const EnumName<Precision>> enum_names(Precision) { return kPrecisionNames; }

// Autocast to `dtype` on `device`'s type while alive (enabled = false: a region
// without autocast inside one); restores the previous state, as Python's
// torch.autocast does, and frees the cast-weight cache when the outermost
// region ends.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled, at::ScalarType dtype = at::kBFloat16)
      : type_(device.type()),
        was_enabled_(at::autocast::is_autocast_enabled(type_)),
        previous_dtype_(at::autocast::get_autocast_dtype(type_)) {
    at::autocast::set_autocast_enabled(type_, enabled);
    at::autocast::set_autocast_dtype(type_, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, previous_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType type_;
  bool was_enabled_;
  at::ScalarType previous_dtype_;
};

// Every 4-D parameter and buffer of `module` in channels_last strides (values
// unchanged; same tensors, so optimizer state and hooks stay attached).
inline void use_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard ng;
  auto convert = [](torch::Tensor& t) {
    if (t.dim() == 4 && !t.is_contiguous(at::MemoryFormat::ChannelsLast))
      t.set_data(t.contiguous(at::MemoryFormat::ChannelsLast));
  };
  for (auto& p : module.parameters()) convert(p);
  for (auto& b : module.buffers()) convert(b);
}

// An image batch in the layout the nets use.
inline torch::Tensor in_layout(const torch::Tensor& x, bool channels_last) {
  return channels_last && x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

}  // namespace gantry::train
