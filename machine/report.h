// How a run ended. A failure of the simulated system (race, deadlock, ...) is
// a RunReport, never a crash of the simulator; the machine fills in which
// CPUs were involved and what happened, and the caller adds the schedule
// file that replays it.
#ifndef STRATA_MACHINE_REPORT_H_
#define STRATA_MACHINE_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "machine/ids.h"

namespace strata::machine {

enum class Outcome {
  kOk,              // every CPU finished
  kDataRace,        // a block touched without owning it, or pulled while owned
  kImpossibleLog,   // a replay function rejected an event
  kException,       // an exception escaped the simulated code
  kStackOverflow,   // a simulated stack hit its guard page
  kDeadlock,        // some CPUs wait and none can run
  kStepBudget,      // the run took more shared steps than allowed
  kUnfairSchedule,  // a replayed schedule kept a runnable CPU waiting past the bound
  kWrongResult,     // the run finished but its final state is not the expected one
  kThreadStarved,   // a kernel thread waited READY past its limit, or one ran past its progress bound
};

std::string_view OutcomeName(Outcome o);
// The outcome named `name` (as printed by OutcomeName), if any.
std::optional<Outcome> ParseOutcome(std::string_view name);
inline std::string_view format_as(Outcome o) { return OutcomeName(o); }

struct RunReport {
  Outcome outcome = Outcome::kOk;
  std::vector<CpuId> cpus;  // the CPUs involved in the failure
  std::string message;      // one line: what happened
  std::uint64_t steps = 0;  // shared steps taken

  bool ok() const { return outcome == Outcome::kOk; }
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_REPORT_H_
