// The sched layer pair: a scheduler module over the lock, queue and TCB-pool
// layers, against the scheduler's atomic spec (csched.h), with a thread
// workload as the client on every CPU. The check's observer is the spec's
// replay plus the module's own view (CSched::NewView).
//
// The thread pair: CSched against TSched (tsched.h). Each execution is the
// sched pair's, checked as the sched pair checks it, and then by TLink on
// its thread-level image: every thread's per-thread machine against the
// recorded environment, composed. A failure is `tlink-mismatch`.
#ifndef STRATA_SCHED_PAIR_H_
#define STRATA_SCHED_PAIR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "layers/layer.h"
#include "sched/csched.h"
#include "sched/tsched.h"
#include "sched/workloads.h"

namespace strata::sched {

struct SchedPairOptions {
  SchedOptions sched;            // impl, lock, queue and tcb name the layers, for messages
  SchedFactory module;
  SchedLower lower;              // the layers the module is built on
  std::string client_name = "ping-pong";
  ThreadProgram client;
  std::int64_t iterations = 2;
  int threads = 2;  // threads per CPU, for clients that take it
  // TSched's bounds, enforced on the module's run (a broken one is the
  // lower run's `thread-starved` or `unfair-schedule`); 0 = off.
  ThreadBounds bounds;
};
std::unique_ptr<layers::LayerPair> MakeSchedPair(const SchedPairOptions& o);
std::unique_ptr<layers::LayerPair> MakeThreadPair(const SchedPairOptions& o);

// strata tlink: one execution of the thread pair under an oracle, with every
// thread's figures.
struct TLinkOptions {
  machine::MachineOptions machine;
  std::function<std::unique_ptr<machine::Oracle>(const machine::OracleOptions&)> oracle;
  machine::OracleOptions oracle_options;
  SchedPairOptions pair;  // the scheduler as the stack configures it; its client the workload
  // If set, called with the recorded run (the module's, with every layer's
  // markers) before the threads are linked: strata tlink --trace.
  std::function<void(const machine::Machine&)> recorded;
};
TLinkResult CheckTLink(const TLinkOptions& o);

}  // namespace strata::sched

#endif  // STRATA_SCHED_PAIR_H_
