// The whole layer stack as a config names it, bottom to top above the
// machine: the kernel's lock and queue layers (kernel/stack.h), then the
// scheduler; and the part of the catalog that names their implementations.
// `strata check` checks each adjacent pair (MakePair), `strata layers`
// prints the stack.
#ifndef STRATA_SCHED_STACK_H_
#define STRATA_SCHED_STACK_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/stack.h"
#include "layers/layer.h"
#include "sched/csched.h"
#include "sched/pair.h"
#include "sched/tsched.h"
#include "sched/workloads.h"

namespace strata::sched {

// The kernel's catalog plus the schedulers and the thread workloads (which
// are also the sched pair's clients).
struct SchedCatalog : kernel::KernelCatalog {
  SchedRegistry scheds{"scheduler implementation"};
  ThreadWorkloadRegistry threads{"thread workload"};
};
// strata's own locks, queues, schedulers and thread workloads.
void AddBuiltinSched(SchedCatalog& catalog);
SchedCatalog BuiltinSchedCatalog();

struct StackOptions : kernel::StackOptions {
  std::string sched = "module";     // catalog.scheds
  int threads = 2;                  // threads per CPU of that client
  int max_threads = 0;              // TCB pool capacity; 0 = max(256, cpus x (threads + 2))
  ThreadBounds bounds;              // TSched's bounds on the sched pair's module run
};

// The thread workload the sched pair runs as its client: options.client,
// or ping-pong for "fixed".
std::string SchedClient(const StackOptions& options);

// The layers above the machine, bottom to top; with their choices when
// `catalog` is given.
std::vector<kernel::LayerInfo> Stack(const StackOptions& options,
                                     const SchedCatalog* catalog = nullptr);
// "lock, queue, tcb, sched".
std::string LayerNames();
// The scheduler and the layers it runs on, for summaries: "the spec", or
// "module over lock ticket, queue module, tcb module".
std::string SchedulerLine(const StackOptions& options);
// The sched and thread pairs' options for the stack `options` with the
// thread workload `client` (SchedClient(options) for a check).
// Precondition: all are in `catalog`, which outlives the pair.
SchedPairOptions SchedPairOptionsFor(const StackOptions& options, const SchedCatalog& catalog,
                                     const std::string& client);
// The pair that checks `layer`, or nullptr for an unknown layer.
// Precondition: the options name implementations of `catalog`, which
// outlives the pair.
std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& options,
                                            const SchedCatalog& catalog);

}  // namespace strata::sched

#endif  // STRATA_SCHED_STACK_H_
