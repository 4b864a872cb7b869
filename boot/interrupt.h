// Ctrl-C and SIGTERM during a long command: while an InterruptScope lives,
// the first SIGINT or SIGTERM only sets a flag that the explorer polls
// between executions (layers::ExploreOptions::stop), so the command can
// print what it covered and exit 130 or 143; a second one ends the process
// at once, as without the scope, after removing the temporary files of the
// outputs not yet written (boot/files.h).
#ifndef STRATA_BOOT_INTERRUPT_H_
#define STRATA_BOOT_INTERRUPT_H_

#include <csignal>
#include <string>

namespace strata::boot {

class InterruptScope {
 public:
  // Installs the handlers; the destructor puts the previous ones back. At
  // most one scope lives at a time.
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  // Nonzero once a signal came: its number.
  const volatile std::sig_atomic_t* flag() const;
  int signal() const { return static_cast<int>(*flag()); }
  // "SIGINT" or "SIGTERM".
  std::string name() const;
  // The exit status of a command it ended: 128 + the signal's number.
  int exit_status() const { return 128 + signal(); }

 private:
  struct sigaction old_int_, old_term_;
};

}  // namespace strata::boot

#endif  // STRATA_BOOT_INTERRUPT_H_
