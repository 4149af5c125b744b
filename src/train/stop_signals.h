// Stop requests for `gantry train`: the handler of each configured signal only
// sets a flag; the trainer polls it at step boundaries, where the ranks agree,
// checkpoint together and exit with kExitPreempted (75).
#pragma once
#include <atomic>
#include <string>

namespace gantry::train {

// "TERM,INT,USR1,USR2" (any subset, "" for none); throws std::invalid_argument for unknown names.
const std::atomic<int>& install_stop_signals(const std::string& names);

}  // namespace gantry::train
