#include "boot/interrupt.h"

#include "boot/files.h"
#include "machine/check.h"

namespace strata::boot {
namespace {

volatile std::sig_atomic_t received = 0;
bool live = false;

void OnSignal(int sig) {
  if (received != 0) {
    // The second one: the default action, now (async-signal-safe calls
    // only), leaving no output half-written.
    RemoveUncommittedOutputs();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  received = sig;
}

}  // namespace

InterruptScope::InterruptScope() {
  STRATA_CHECK(!live, "two InterruptScopes at once");
  live = true;
  received = 0;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;  // a write to a pipe goes on after the first signal
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
}

InterruptScope::~InterruptScope() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  live = false;
}

const volatile std::sig_atomic_t* InterruptScope::flag() const { return &received; }

std::string InterruptScope::name() const {
  switch (signal()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "no signal";
  }
}

}  // namespace strata::boot
