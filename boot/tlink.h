// `strata tlink`: the TLink check (sched/tsched.h) of a config's thread
// workload: a recorded run on the scheduler spec, each thread run again
// against the others as a recorded environment, and the composition
// compared with the recorded log.
#ifndef STRATA_BOOT_TLINK_H_
#define STRATA_BOOT_TLINK_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "boot/config.h"

namespace strata::boot {

// Prints per thread its events, worst wait against `oracle.thread_limit`,
// worst run against `oracle.thread_progress` and whether its per-thread run
// matched; then the verdict. Returns the exit status (0 the composition
// gives the recorded log, 1 it does not or the recorded run failed); an
// error Status is bad input (not a thread workload). With `trace_path`,
// writes the recorded run's timeline (boot/trace.h) there.
absl::StatusOr<int> TLink(const Config& config, const Catalog& catalog,
                          const std::string& trace_path, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_TLINK_H_
