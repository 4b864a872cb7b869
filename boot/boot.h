// The boot sequence: build a machine from a config, run its workload under
// the configured oracle (or a recorded schedule), and tell the user what
// happened — a summary on success, a report plus a schedule file on failure.
#ifndef STRATA_BOOT_BOOT_H_
#define STRATA_BOOT_BOOT_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boot/config.h"
#include "boot/steps.h"
#include "boot/workloads.h"
#include "machine/environment.h"
#include "machine/machine.h"

namespace strata::boot {

// One finished run of a config.
struct BootRun {
  // For an environment context that replays a recording: the recorded
  // run's events as the environment. Declared first: the machine's fibers,
  // unwound when it goes, may be replaying them.
  std::unique_ptr<machine::RecordedEnvironment> environment;
  std::unique_ptr<machine::Machine> machine;  // the run (a per-CPU machine when focused)
  machine::RunReport report;  // kWrongResult if the run finished with failed checks
  // A failure shrunk by Boot: the steps of the run first found, and the
  // candidates tried.
  std::uint64_t original_steps = 0;
  std::uint64_t shrink_attempts = 0;
  // A failure left as it was found: why ("" when shrunk, or not asked to).
  std::string not_shrunk;
  std::vector<Check> checks;  // empty unless the run finished
  std::string oracle;         // the oracle's description
  std::string details;        // thread workloads: per-CPU and per-thread summary lines
  std::string waits;          // thread workloads that deadlocked: who waits for what
  double wall_seconds = 0;
};

// `config`'s workload set up on a fresh machine made with `options` (the
// config's, or a per-CPU machine's): the same objects, made the same way,
// whatever the options. `catalog` outlives the machine.
struct SetUpRun {
  std::unique_ptr<machine::Machine> machine;
  WorkloadRun workload;
};
SetUpRun SetUp(const Config& config, const Catalog& catalog, const machine::MachineOptions& options);
// The machine options of a run of `config`.
machine::MachineOptions MachineOptionsFor(const Config& config);

// Runs `config`: on the multicore machine, or with `env.focus` set, as the
// per-CPU machine of that CPU in the environment context `env.kind` (for a
// recorded one, after a multicore run of the config to record). With
// `replay`, follows those choices instead of the configured oracle or the
// recorded schedule. An error Status only if the replay does not fit.
// `catalog` names the config's workload, scheduler and oracle, and outlives
// the run. `prepare`, if set, is called with the machine before the run.
// With `guide`, follows it where it can (machine::GuidedOracle: shrinking).
absl::StatusOr<BootRun> RunConfig(const Config& config, const Catalog& catalog,
                                  const std::vector<machine::CpuId>* replay = nullptr,
                                  const std::string& replay_source = "",
                                  const std::function<void(machine::Machine&)>& prepare = nullptr,
                                  const std::vector<machine::CpuId>* guide = nullptr);

// The horizon to run `config`'s oracle with when oracle.pct_horizon is 0
// and the oracle wants the run's length (machine::Oracle::wants_run_length:
// pct): the steps of a first run of the config under it, which has no
// horizon to fit (pct: its priorities without change points), at least 1.
// 0 when the oracle wants none or the config sets a horizon.
absl::StatusOr<std::uint64_t> MeasuredHorizon(const Config& config, const Catalog& catalog);

struct BootOptions {
  std::string log_path;       // --log: JSON lines to this file, text to FILE.txt
  std::string schedule_path;  // where a failure's schedule goes ("" = derived name)
  bool json = false;  // --json: one JSON object on `out` in place of the text summary
  StepsOptions steps;  // replay: how the run is shown step by step
  std::string report_path;  // --report: the HTML report of the run (boot/report.h)
  std::string trace_path;     // --trace: the run's timeline (boot/trace.h) to this file
};

// `strata boot`: runs, prints the summary to `out`, writes the log and, on
// failure, the schedule file. Returns the exit status (0 ok, 1 the simulated
// system failed); an error Status is bad input (exit 2).
absl::StatusOr<int> Boot(const Config& config, const Catalog& catalog, const BootOptions& options,
                         std::FILE* out);

// `strata replay`: re-runs a schedule file and checks it reproduces the
// recorded outcome and log hash. Refused up front (an error Status): a
// schedule that does not load, outputs that cannot be written or that are
// the schedule or its recording (CheckOutputs), a run the host cannot hold,
// --log with a check's schedule.
absl::StatusOr<int> Replay(const std::string& schedule_path, const Catalog& catalog,
                           const BootOptions& options, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_BOOT_H_
