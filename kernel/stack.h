// The kernel's layer stack as a config names it, bottom to top above the
// machine: the lock layer, then the shared queue and the TCB pool. Each layer runs as its spec
// or as a module (for the lock: which implementation); `strata check` checks
// each adjacent pair (MakePair), `strata layers` prints the stack.
#ifndef STRATA_KERNEL_STACK_H_
#define STRATA_KERNEL_STACK_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/tcb_pool.h"
#include "layers/layer.h"
#include "layers/timeline.h"

namespace strata::kernel {

// The kernel's part of the catalog: every lock, queue and TCB-pool implementation by
// name. A value, passed explicitly; the full catalog (boot/catalog.h) adds
// the layers above.
struct KernelCatalog {
  LockRegistry locks{"lock implementation"};
  QueueRegistry queues{"queue implementation"};
  TcbRegistry tcbs{"TCB pool implementation"};
};
// strata's own locks, queues and TCB pools.
void AddBuiltinKernel(KernelCatalog& catalog);

struct StackOptions {
  std::string lock = "ticket";   // KernelCatalog::locks
  std::string queue = "module";  // KernelCatalog::queues
  std::string tcb = "module";    // KernelCatalog::tcbs
  // Each pair's client: "general", every layer's most-general client (its
  // calls and arguments drawn from MachineOptions::client_seed); anything
  // else, each kernel pair's fixed client ("fixed", or the name of the
  // sched pair's thread workload, sched/stack.h).
  std::string client = "general";
  std::int64_t iterations = 2;   // N: each pair's client's size per CPU (its header says how)
  std::int64_t bound = 2;        // the lock client's critical-section bound
  std::int64_t overrun = 0;      // extra events the lock client appends (known-bad when > 0)
  std::int64_t capacity = 4;     // the queue's and the TCB pool's capacity in their clients
};

// One layer of the stack.
struct LayerInfo {
  std::string name;                     // "lock"
  std::string implementation;           // "ticket", "spec", ...
  std::vector<std::string> primitives;  // "acquire(bound)", ...
  std::string below;                    // what its module runs on
  // Its contract for per-CPU checks (DESIGN §2.2, strata check --env): what
  // other CPUs may do to its objects, and what its module does to them. The
  // check's environment makes the rely's moves: the other CPUs run the
  // layer's check client (the most-general one by default) through the
  // module. A layer without a rely has no per-CPU check.
  std::string rely;
  std::string guarantee;
  // What the layer tells a timeline (strata boot --trace) about itself: its
  // primitives' slices, its hand-overs and its counters (layers/timeline.h).
  layers::Timeline timeline;
  // With a catalog (Stack(options, &catalog)): the chosen implementation's
  // summary, and the layer's choices, good and known-bad, in catalog order.
  std::string summary;
  std::vector<std::string> choices, known_bad;
};

// Fills `layer`'s summary and choices from the registry of its implementations.
template <class Registry>
void AddChoices(LayerInfo& layer, const Registry& registry) {
  if (const auto* e = registry.Find(layer.implementation)) layer.summary = e->summary;
  for (const auto& e : registry.entries()) (e.known_bad ? layer.known_bad : layer.choices).push_back(e.name);
}

// The layers above the machine, bottom to top; with their choices when
// `catalog` is given.
std::vector<LayerInfo> Stack(const StackOptions& options, const KernelCatalog* catalog = nullptr);
// "lock, queue, tcb".
std::string LayerNames();
// The pair that checks `layer` (its module over the layer below, against
// its spec), or nullptr for an unknown layer. Precondition: the options name
// implementations of `catalog`, which outlives the pair.
std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& options,
                                            const KernelCatalog& catalog);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_STACK_H_
