#include "data/interrupt.h"

#include "common/signal_flag.h"

namespace gantry::data {

void install_interrupt_handlers() {
  flag_on_signal(SIGINT);
  flag_on_signal(SIGTERM);
}

bool interrupt_requested() { return signal_flag().load() != 0; }
int interrupt_signal() { return signal_flag().load(); }

}  // namespace gantry::data
