// Thread workloads: clients of the scheduler (CSched) that `strata boot` runs
// and that `strata check --layer sched` uses as the client of the sched pair.
// They live here, not in boot/, because the sched pair (a sched/ piece)
// needs them and dependencies run one way.
//
// Each sets up its shared objects on a scheduler, spawns its threads from
// every CPU's init, and after a run that finished checks its own end state:
//   thread-counter      T threads per CPU increment a counter under a lock
//   producer-consumer   a bounded buffer (1 slot) with two cvs; T
//                       producers per even CPU, T consumers per odd one
//   ping-pong           two threads on CPUs 0 and 1 wake each other N times
//   fork-lock           per CPU a parent spawns a child that updates two
//                       words under a lock (equal whenever the lock is free,
//                       checked at every unlock) and signals when done; the
//                       parent waits, then frees the lock (locking it after
//                       every parent freed it is an impossible log)
//   philosophers        one philosopher per CPU, forks taken in order
// and the known-bad ones, each ending in its own report:
//   philosophers-wrong-order  every philosopher takes its left fork first:
//                             a deadlock naming who waits for what
//   lost-wakeup               ping-pong whose waiter checks the turn, drops
//                             the lock and sleeps later: the wakeup is lost
//   sleep-unlocked            ping-pong whose waiter drops the lock before it
//                             sleeps (breaks sleep's precondition)
//   hidden-channel            threads that talk through host memory: runs
//                             fine, but fails the TLink check (tsched.h)
#ifndef STRATA_SCHED_WORKLOADS_H_
#define STRATA_SCHED_WORKLOADS_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "layers/registry.h"
#include "machine/machine.h"
#include "sched/csched.h"

namespace strata::sched {

// One expected final value.
struct Check {
  std::string what;
  std::int64_t actual = 0;
  std::int64_t expected = 0;
  bool ok() const { return actual == expected; }
};

struct ClientParams {
  std::int64_t iterations = 10;
  int threads = 2;  // threads per CPU, for workloads that take it
};

struct ClientRun {
  std::function<void(Threads&, Cpu&)> init;  // each CPU's init: spawns its threads
  std::function<std::vector<Check>()> checks;
};

// A thread workload as the catalog holds it.
struct ThreadProgram {
  int min_cpus = 1;
  // Sets up the workload's objects on `sched` and returns each CPU's init.
  std::function<ClientRun(CSched& sched, const ClientParams& params)> start;
  // The most threads it has at once on `cpus` CPUs with `threads` per CPU
  // (ClientParams::threads): the TCBs and fiber stacks it may need. Null:
  // as many as the TCB pool holds.
  std::int64_t (*most_threads)(int cpus, int threads) = nullptr;
};
using ThreadWorkloadRegistry = layers::Registry<ThreadProgram>;

// Adds strata's thread workloads, the known-bad ones included.
void AddBuiltinThreadWorkloads(ThreadWorkloadRegistry& workloads);

}  // namespace strata::sched

#endif  // STRATA_SCHED_WORKLOADS_H_
