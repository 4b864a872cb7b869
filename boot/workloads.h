// Workloads for the bare multicore machine: the programs `strata boot` runs
// on every CPU, each with its own end-of-run check of the final shared values.
//
// `counter` is the healthy default. The others are known-bad programs kept on
// purpose — each ends in one specific report (a lost update, a racy push, a
// double unlock, a lock-order deadlock, a throwing CPU, a runaway recursion,
// a livelock) so users can see every kind of report and the tests can assert it.
#ifndef STRATA_BOOT_WORKLOADS_H_
#define STRATA_BOOT_WORKLOADS_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "machine/machine.h"

namespace strata::boot {

// One expected final value.
struct Check {
  std::string what;
  std::int64_t actual = 0;
  std::int64_t expected = 0;
  bool ok() const { return actual == expected; }
};

// A workload set up on a machine: the program each CPU runs and the checks
// to evaluate after a run that finished.
struct WorkloadRun {
  machine::Machine::Program program;
  std::function<std::vector<Check>()> checks;
};

struct Workload {
  std::string_view name;
  std::string_view summary;
  int min_cpus;
  // Makes the shared objects on `m` and returns the program.
  WorkloadRun (*make)(machine::Machine& m, std::int64_t iterations);
};

std::span<const Workload> AllWorkloads();
// The workload called `name`, or nullptr.
const Workload* FindWorkload(std::string_view name);
// "counter, lost-update, ...", for error messages.
std::string WorkloadNames();

}  // namespace strata::boot

#endif  // STRATA_BOOT_WORKLOADS_H_
