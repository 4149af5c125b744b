// SIGINT / SIGTERM for long-running data commands (pack, synth): the handler
// only sets a flag; the work loop polls it and unwinds, so that the writer's
// destructor removes the partial output.
#pragma once

namespace gantry::data {

void install_interrupt_handlers();
bool interrupt_requested();
int interrupt_signal();  // the signal received (0 if none)

}  // namespace gantry::data
