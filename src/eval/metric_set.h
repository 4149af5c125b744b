// The metrics `gantry eval --metrics` and `[eval] metrics` name: a comma list
// of is, fid, modes, diversity. Header-only so that config validation can
// check a list without linking the metrics.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gantry::eval {

struct MetricSet {
  bool is = false, fid = false, modes = false, diversity = false;
  bool any() const { return is || fid || modes || diversity; }
  bool needs_feature_net() const { return is || fid; }
};

// Throws std::invalid_argument for an empty list or an unknown name.
inline MetricSet parse_metric_set(const std::string& list) {
  MetricSet m;
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name == "is")
      m.is = true;
    else if (name == "fid")
      m.fid = true;
    else if (name == "modes")
      m.modes = true;
    else if (name == "diversity")
      m.diversity = true;
    else
      throw std::invalid_argument("unknown metric '" + name + "' (is, fid, modes, diversity)");
  }
  if (!m.any()) throw std::invalid_argument("no metric named (is, fid, modes, diversity)");
  return m;
}

// What a metric set needs of the model and the feature network: modes only for
// 2-D (point) generators, IS and FID only for images and only with a feature
// network. Throws std::invalid_argument (the caller prefixes where the set came
// from: `gantry eval` or the config's [eval]).
inline void check_metrics_fit(const MetricSet& m, bool points, bool have_feature_net) {
  if (m.modes && !points) throw std::invalid_argument("modes needs a 2-D model (model.arch = \"mlp\")");
  if (m.needs_feature_net() && points) throw std::invalid_argument("is and fid are for image models");
  if (m.needs_feature_net() && !have_feature_net)
    throw std::invalid_argument("is and fid need a feature network (--feature-net, or eval.feature_net)");
}

}  // namespace gantry::eval
