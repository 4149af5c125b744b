#include "train/checkpoint_layout.h"

#include <memory>
#include <stdexcept>
#include <vector>

#include "reg/historical_averaging.h"

namespace gantry::train {

std::vector<PartEntry> part_entries(const CheckpointParts& p) {
  const auto key = [](Net net) { return std::string(enum_name(net)); };
  return {{key(Net::kG), p.g}, {key(Net::kD), p.d}, {key(Net::kGEma), p.g_ema}, {"opt_g", p.opt_g}, {"opt_d", p.opt_d},
          {"ha_g", p.ha_g},    {"ha_d", p.ha_d}};
}

dist::NamedTensors replicated_tensors(const CheckpointParts& parts) {
  dist::NamedTensors out;
  for (const auto& [key, part] : part_entries(parts)) {
    if (const auto* m = std::get_if<torch::nn::Module*>(&part)) {
      if (*m == nullptr) continue;
      for (auto& [name, t] : dist::parameters_and_buffers(**m)) out.emplace_back(key + "." + name, t);
    } else if (const auto* o = std::get_if<torch::optim::Optimizer*>(&part)) {
      if (*o == nullptr) continue;
      const auto& groups = (*o)->param_groups();
      const auto& state = (*o)->state();
      for (size_t g = 0; g < groups.size(); ++g) {
        const auto& params = groups[g].params();
        for (size_t i = 0; i < params.size(); ++i) {
          const auto it = state.find(params[i].unsafeGetTensorImpl());
          if (it == state.end()) continue;  // no update yet (no gradient): nothing to compare
          const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(it->second.get());
          if (adam == nullptr) throw std::logic_error("replicated_tensors: " + key + " holds non-Adam state");
          const auto name = key + "." + std::to_string(g) + "." + std::to_string(i) + ".";
          out.emplace_back(name + "exp_avg", adam->exp_avg());
          out.emplace_back(name + "exp_avg_sq", adam->exp_avg_sq());
          if (adam->max_exp_avg_sq().defined()) out.emplace_back(name + "max_exp_avg_sq", adam->max_exp_avg_sq());
        }
      }
    } else if (auto* ha = std::get<reg::HistoricalAverage*>(part)) {
      const auto state = ha->state();  // averages, then the count
      for (size_t i = 0; i < state.size(); ++i) out.emplace_back(key + "." + std::to_string(i), state[i]);
    }
  }
  return out;
}

namespace {

void write_part(torch::serialize::OutputArchive& out, const PartRef& part) {
  if (const auto* m = std::get_if<torch::nn::Module*>(&part)) {
    (*m)->save(out);
  } else if (const auto* o = std::get_if<torch::optim::Optimizer*>(&part)) {
    (*o)->save(out);
  } else {
    const auto state = std::get<reg::HistoricalAverage*>(part)->state();  // averages, then the count
    for (size_t i = 0; i < state.size(); ++i) out.write(std::to_string(i), state[i]);
  }
}

void read_part(torch::serialize::InputArchive& in, const PartRef& part) {
  if (const auto* m = std::get_if<torch::nn::Module*>(&part)) {
    (*m)->load(in);
  } else if (const auto* o = std::get_if<torch::optim::Optimizer*>(&part)) {
    // LibTorch's optimizer archive holds each group's options (lr, β, ε, ...) beside the moments, and
    // loading restores both. The options belong to the run that loads: its config built the optimizer,
    // and a resume with --set train.beta1_d=0 must train with β1 0 (it silently kept the saved β
    // before). So only the state comes from the archive; the options the optimizer was built with
    // are put back, whatever the optimizer type and option.
    auto& groups = (*o)->param_groups();
    std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> built;
    built.reserve(groups.size());
    for (auto& g : groups) built.push_back(g.options().clone());
    (*o)->load(in);
    for (size_t i = 0; i < groups.size(); ++i) groups[i].set_options(std::move(built[i]));
  } else {
    auto* ha = std::get<reg::HistoricalAverage*>(part);
    std::vector<torch::Tensor> state(ha->state().size());
    for (size_t i = 0; i < state.size(); ++i) in.read(std::to_string(i), state[i]);
    ha->load_state(state);
  }
}

bool is_null(const PartRef& part) {
  return std::visit([](auto* p) { return p == nullptr; }, part);
}

}  // namespace

void write_checkpoint_parts(torch::serialize::OutputArchive& archive, const CheckpointParts& parts,
                            const CheckpointCounters& counters, const std::string& config_toml) {
  for (const auto& [key, part] : part_entries(parts)) {
    if (is_null(part)) continue;
    torch::serialize::OutputArchive sub;
    write_part(sub, part);
    archive.write(key, sub);
  }
  for (const auto& c : kCounterEntries) archive.write(c.key, torch::tensor(counters.*c.member));
  archive.write(kConfigKey, c10::IValue(config_toml));
}

CheckpointCounters read_checkpoint_parts(torch::serialize::InputArchive& archive, const CheckpointParts& parts) {
  for (const auto& [key, part] : part_entries(parts)) {
    if (is_null(part)) continue;
    torch::serialize::InputArchive sub;
    archive.read(key, sub);
    read_part(sub, part);
  }
  CheckpointCounters counters;
  for (const auto& c : kCounterEntries) {
    torch::Tensor t;
    archive.read(c.key, t);
    counters.*c.member = t.item<int64_t>();
  }
  return counters;
}

std::string read_checkpoint_config(torch::serialize::InputArchive& archive) {
  c10::IValue text;
  if (!archive.try_read(kConfigKey, text) || !text.isString())
    throw std::invalid_argument("a checkpoint without its config (not written by gantry train?)");
  return text.toStringRef();
}

}  // namespace gantry::train
