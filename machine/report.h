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

// One vocabulary for how anything strata runs ends: the outcome of a run
// and the verdict of a check are values of this one enum, with one name
// table (OutcomeName). A run ends kOk or in a failure of the simulated code;
// a check ends kRefines, in one of the check's own verdicts, or in the
// failure of the run it checked (kDeadlock, ...).
enum class Outcome {
  // How a run ends.
  kOk,              // every CPU finished
  kDataRace,        // a block touched without owning it, or pulled while owned
  kImpossibleLog,   // a replay function rejected an event
  kException,       // an exception escaped the simulated code
  kStackOverflow,   // a simulated stack hit its guard page
  kDeadlock,        // some CPUs wait and none can run
  kStepBudget,      // the run took more shared steps than allowed
  kUnfairSchedule,  // a runnable CPU waited past the fairness bound (a replayed schedule, or F too small)
  kWrongResult,     // the run finished but its final state is not the expected one
  kInvariantBroken, // a lock's invariant did not hold where it must (a release, freelock)
  kThreadStarved,   // a kernel thread waited READY past its limit, or one ran past its progress bound
  kInvalidEnvironment,  // an environment context broke its rules: appended an event a replay
                        // function refuses, or (a thread's) never gave the focused thread its turn
  // How a check ends (layers/refinement.h, sched/tsched.h).
  kRefines,              // every checked execution refines the spec
  kImpossibleLowerLog,   // the module's own replay rejected the lower log
  kImpossibleUpperLog,   // the mapped log is not allowed by the atomic spec
  kRefinementViolation,  // the spec cannot do what the mapped log says
  kReturnMismatch,       // a primitive returned another value than the spec's
  kRelationBroken,       // R failed at a border crossing
  kStarvation,           // a call took longer than its liveness bound
  kNondeterminism,       // the same schedule gave another log
  kTLinkMismatch,        // the per-thread runs do not compose to the recorded run
  kNotCompositional,     // the per-CPU machines do not compose to the multicore run
};

std::string_view OutcomeName(Outcome o);
// The outcome named `name` (as printed by OutcomeName), if any.
std::optional<Outcome> ParseOutcome(std::string_view name);
// "ok, data-race, ..., tlink-mismatch": every name, for error messages.
std::string OutcomeNames();
// How a run can end (kOk ... kInvalidEnvironment).
inline bool IsRunOutcome(Outcome o) { return o <= Outcome::kInvalidEnvironment; }
// How `strata check` can end: kRefines, a check verdict, or the failure of
// the run it checked (any run outcome but kOk).
inline bool IsCheckVerdict(Outcome o) { return o != Outcome::kOk; }
// Whether `o` is something wrong (neither a run that finished nor a check
// that refines).
inline bool IsFailure(Outcome o) { return o != Outcome::kOk && o != Outcome::kRefines; }
inline std::string_view format_as(Outcome o) { return OutcomeName(o); }

struct RunReport {
  Outcome outcome = Outcome::kOk;
  std::vector<CpuId> cpus;  // the CPUs involved in the failure
  std::string message;      // one line: what happened
  std::uint64_t steps = 0;  // shared steps taken
  // The event the failure is at, when a monitor refused one (the log's
  // last event then: an impossible log, an unfair schedule, a starved
  // thread); none for a failure between events (a race is refused before
  // its step is logged, a lock invariant is checked before the release's
  // step, a deadlock is no one event).
  std::optional<std::uint64_t> event;

  bool ok() const { return outcome == Outcome::kOk; }
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_REPORT_H_
