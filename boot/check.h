// `strata check`, `strata layers` and the replay of a check's schedule: the
// command-line face of layers/ (the refinement checker and the explorer) over
// the kernel's stack (kernel/stack.h).
#ifndef STRATA_BOOT_CHECK_H_
#define STRATA_BOOT_CHECK_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "boot/config.h"
#include "boot/schedule_file.h"
#include "boot/steps.h"
#include "layers/cluster.h"

namespace strata::boot {

struct CheckOptions {
  std::string schedule_path;  // where a failure's schedule goes ("" = derived name)
  bool progress = false;      // a progress line on stderr when it is a terminal
  bool progress_always = false;  // --progress: without a terminal, a line every few seconds
  bool json = false;          // one JSON object on `out` in place of the text (--json)
  std::string witness_path;   // --witness: the refinement witness of the failure (boot/witness.h)
  bool witness_all = false;   // --witness-all: of every execution checked
  std::string report_path;    // --report: the HTML report (boot/report.h)
  // --trace: the timeline (boot/trace.h) of the failing execution, or with
  // no failure of the last execution checked, to this file.
  std::string trace_path;
  // Under mpirun: the ranks that share each exploration (layers/cluster.h),
  // or null. On a follower rank the check prints and writes nothing.
  layers::Cluster* cluster = nullptr;
};

// What `strata replay` of a check's schedule shows and writes.
struct ReplayOptions {
  StepsOptions steps;       // how the run is shown step by step
  std::string report_path;  // --report: its HTML report
  std::string trace_path;   // --trace: its timeline
};

// Checks every adjacent pair of `config`'s stack (or config.check_layer),
// bottom up, and stops at the first that fails: prints per pair the
// executions, events, verdict, worst wait against its bound and time; on
// failure the report and the shrunk schedule file; with options.json, one
// JSON object in place of that text (its keys in README.md). Returns the exit status
// (0 all refine, 1 a failure); an error Status is bad input.
absl::StatusOr<int> CheckStack(const Config& config, const Catalog& catalog,
                               const CheckOptions& options, std::FILE* out);

// `strata layers`: the stack with each layer's primitives and which side runs.
void PrintLayers(const Config& config, const Catalog& catalog, std::FILE* out);

// Replays a schedule written by `strata check`, printing the run step by step
// (each lower event, what the log map made of it, the first bad event; as
// options.steps says: up to the first bad event unless all, by thread) and
// whether it reproduced the recorded verdict and log hash; writes the HTML
// report and the timeline of the replayed run when asked.
absl::StatusOr<int> ReplayCheck(const ScheduleFile& file, const std::string& path,
                                const Catalog& catalog, const ReplayOptions& options,
                                std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_CHECK_H_
