// Workloads: the programs `strata boot` runs on every CPU, each with its own
// end-of-run check of the final shared values. The bare-machine ones are
// here; the thread workloads (sched/workloads.h) run on the scheduler
// `stack.sched` and are listed here too.
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

#include "layers/registry.h"
#include "machine/machine.h"
#include "sched/csched.h"
#include "sched/stack.h"
#include "sched/workloads.h"

namespace strata::boot {

using Check = sched::Check;

// What a workload is made from: the config's workload and stack tables.
struct WorkloadParams {
  std::int64_t iterations = 100;
  int threads = 2;              // threads per CPU (thread workloads)
  sched::SchedOptions sched;    // the scheduler thread workloads run on (names in the catalog)
};

// A workload set up on a machine: the program each CPU runs and the checks
// to evaluate after a run that finished.
struct WorkloadRun {
  machine::Machine::Program program;
  std::function<std::vector<Check>()> checks;
  // Thread workloads: summary lines per CPU (threads, context switches,
  // sleeps, wakeups) and per thread (final state), and who waits for what.
  std::function<std::string()> details;
  std::function<std::string()> waits;
};

// A bare-machine workload as the catalog holds it.
struct BareProgram {
  int min_cpus = 1;
  // Makes the shared objects on `m` and returns the program.
  std::function<WorkloadRun(machine::Machine& m, std::int64_t iterations)> start;
};
using WorkloadRegistry = layers::Registry<BareProgram>;

// Adds strata's bare-machine workloads, the known-bad ones included.
void AddBuiltinWorkloads(WorkloadRegistry& workloads);

// Runs the thread workload `w` on the scheduler `p.sched` (names in
// `catalog`, which outlives the run): the WorkloadRun of a thread workload.
WorkloadRun RunThreaded(const sched::ThreadProgram& w, const sched::SchedCatalog& catalog,
                        machine::Machine& m, const WorkloadParams& p);

// A workload `strata boot` can run: a bare-machine one, or a thread
// workload on the configured scheduler.
struct Workload {
  std::string name;
  std::string summary;
  int min_cpus = 1;
  bool threaded = false;  // runs on the scheduler (sched/workloads.h)
  // A thread workload's most threads at once (sched::ThreadProgram); null
  // for a bare-machine one, or when it does not say.
  std::int64_t (*most_threads)(int cpus, int threads) = nullptr;
  // Makes the shared objects on `m` and returns the program.
  std::function<WorkloadRun(machine::Machine& m, const WorkloadParams& p)> make;
};

}  // namespace strata::boot

#endif  // STRATA_BOOT_WORKLOADS_H_
