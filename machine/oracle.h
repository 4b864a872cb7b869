// The hardware scheduler as a swappable oracle.
//
// At every switch point the machine asks its Oracle which runnable CPU takes
// the next shared step. Oracles are deterministic functions of their seed and
// the decisions asked of them, so a run is a pure function of (config,
// seed). A FairnessGuard (fairness.h) wraps whichever oracle runs.
#ifndef STRATA_MACHINE_ORACLE_H_
#define STRATA_MACHINE_ORACLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "machine/ids.h"

namespace strata::machine {

// What the oracle sees at a switch point.
class Machine;

struct Decision {
  std::uint64_t step = 0;           // shared steps taken so far
  std::span<const CpuId> runnable;  // sorted ascending, never empty
  CpuId last;                       // the CPU that took the previous step (none at step 0)
  // The CPU the fairness guard will run whatever the oracle picks (none if
  // no CPU is overdue); a replaying oracle that picks another is unfair.
  CpuId overdue;
  const Machine* machine = nullptr;  // for Machine::pending(cpu)
};

class Oracle {
 public:
  virtual ~Oracle() = default;

  // A one-line description, e.g. "pct (seed 7, depth 3, horizon 10000)".
  virtual std::string Describe() const = 0;

  // Returns one of d.runnable, or none when the oracle's input (a replayed
  // schedule) does not fit this run; error() then says why and the run stops
  // as bad input. (Not a StatusOr: this is the simulator's hottest call.)
  virtual CpuId Pick(const Decision& d) = 0;
  virtual absl::Status error() const { return absl::OkStatus(); }

  // Called once when the run ends after `steps` shared steps. An error means
  // the oracle's input does not fit (a replayed schedule with steps left over).
  virtual absl::Status Finish(std::uint64_t steps) {
    (void)steps;
    return absl::OkStatus();
  }

  // True if the oracle follows a recorded schedule: the fairness guard then
  // reports unfair choices instead of overriding them.
  virtual bool replays() const { return false; }

  // True if the oracle was made to fit the length of the run and was not
  // given it (pct with horizon 0): it runs as if it had nothing to fit (pct:
  // its priorities without change points), and a caller that can measure
  // the run (a first run of the same config) makes it again with the length.
  virtual bool wants_run_length() const { return false; }
};

enum class OracleKind { kRoundRobin, kRandom, kPct, kReplay };
std::string_view OracleKindName(OracleKind k);
std::optional<OracleKind> ParseOracleKind(std::string_view name);
// "round-robin, random, pct, replay", for error messages.
std::string_view OracleKindNames();

struct OracleOptions {
  OracleKind kind = OracleKind::kRoundRobin;
  std::uint64_t seed = 1;
  int cpus = 1;
  int pct_depth = 3;                  // d: number of priority change points + 1
  // k: steps over which change points are drawn; 0 = not known yet (no
  // change points, Oracle::wants_run_length).
  std::uint64_t pct_horizon = 10000;
  std::vector<CpuId> replay;          // the choices, for kReplay
  std::string replay_source;          // where they came from, for error messages
  // kReplay: the run may end before the choices do. For a recorded
  // environment, whose focused code may fail (or diverge) before the
  // recording ends; the caller compares the logs. Off: choices left over
  // do not fit the run.
  bool replay_may_end_early = false;
};

// Builds the oracle `o.kind`. Precondition: options validated (cpus >= 1,
// pct_depth >= 1).
std::unique_ptr<Oracle> MakeOracle(const OracleOptions& o);

}  // namespace strata::machine

#endif  // STRATA_MACHINE_ORACLE_H_
