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
    if (name == "is") m.is = true;
    else if (name == "fid") m.fid = true;
    else if (name == "modes") m.modes = true;
    else if (name == "diversity") m.diversity = true;
    else throw std::invalid_argument("unknown metric '" + name + "' (is, fid, modes, diversity)");
  }
  if (!m.any()) throw std::invalid_argument("no metric named (is, fid, modes, diversity)");
  return m;
}

}  // namespace gantry::eval
