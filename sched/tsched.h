// TSched and TLink: the scheduler as one thread sees it.
//
// TSched[t, ε_t]. A thread's own view of a run: its events, and at each
// switch-out (yield, sleep) its environment ε_t — every other thread and CPU
// — acting until t is scheduled back, which the log shows as t's `ret yield`
// / `ret sleep` marker (strata's YIELD_BACK). Two fairness bounds constrain
// ε_t (ThreadBounds):
//   limit     a READY thread is dispatched again before more than `limit`
//             scheduling queries (switch-outs — yield, sleep, exit — of other
//             threads on its CPU) go by; else it is starved;
//   progress  a running thread reaches a switch-out within `progress` of its
//             own shared steps; else the environment of the other threads
//             is unfair.
// The monitor enforces both on a live run, from the call/return markers
// only, so it works over the scheduler module and its spec alike: a broken
// limit ends the run as "thread-starved", a broken progress bound as
// "unfair-schedule".
//
// TLink. The threads as a parallel composition of per-thread machines: for
// a recorded CSched run, each thread is run again alone — its own code live,
// every other thread replaying its recorded events as the environment (the
// same primitives with the same arguments, the same shared steps, block
// contents as recorded), under the recorded schedule. Composing the
// per-thread runs (each log position taken from the run of the thread that
// owns it) must give the recorded log. It fails when a thread's behaviour
// depends on anything but the log: hidden channels between threads, or
// nondeterminism.
#ifndef STRATA_SCHED_TSCHED_H_
#define STRATA_SCHED_TSCHED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "machine/machine.h"
#include "machine/replay.h"
#include "sched/csched.h"
#include "sched/workloads.h"

namespace strata::sched {

struct ThreadBounds {
  std::int64_t limit = 0;     // 0: not enforced
  std::int64_t progress = 0;  // 0: not enforced
};

// Stops the run when a bound is broken (see above). `sched` names
// the scheduler's object.
std::unique_ptr<machine::Monitor> MakeThreadFairnessMonitor(ObjectId sched, int cpus,
                                                            ThreadBounds bounds);

// One thread's part of a TLink check.
struct ThreadLink {
  std::size_t instance = 0;  // spawn order
  ThreadId tid;
  CpuId home;
  std::size_t events = 0;          // the thread's events in the recorded log
  std::int64_t worst_queries = 0;  // most queries it waited READY
  std::int64_t worst_progress = 0; // most own steps in one dispatch
  std::string problem;             // empty if its per-thread run matched
};

struct TLinkResult {
  machine::RunReport recorded;     // how the recorded CSched run ended
  std::uint64_t recorded_hash = 0;
  std::uint64_t composed_hash = 0;
  std::vector<ThreadLink> threads;
  std::string problem;             // empty: the composition gives the recorded log
  bool ok() const { return recorded.ok() && problem.empty(); }
};

struct TLinkOptions {
  machine::MachineOptions machine;
  // The recorded run's oracle, made from `oracle_options`.
  std::function<std::unique_ptr<machine::Oracle>(const machine::OracleOptions&)> oracle;
  machine::OracleOptions oracle_options;
  SchedOptions sched;
  // Makes the scheduler of the recorded run and of every per-thread run
  // (the stack's: a module over its layers, or the spec).
  std::function<std::unique_ptr<CSched>(Machine& m, const SchedOptions& o)> make_sched;
  ThreadProgram workload;          // the thread workload to record and split
  ClientParams params;
  ThreadBounds bounds;
};

// Records a run of `o.workload` on `o.make_sched`'s scheduler, then runs every
// thread against the others as a recorded environment and composes.
TLinkResult CheckTLink(const TLinkOptions& o);

}  // namespace strata::sched

#endif  // STRATA_SCHED_TSCHED_H_
