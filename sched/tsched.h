// TSched and TLink: the scheduler as one thread sees it (DESIGN.md §2.5).
//
// TSched[t, ε_t], the per-thread machine. Thread t runs its code live over
// the thread-level primitives (Threads, csched.h); everything else — the
// other threads, the other CPUs, the CPUs' inits and idle contexts — is its
// environment ε_t, which appends their events to the same log, through the
// same monitors and replay functions, between t's steps. t's primitives are
// the scheduler spec's atomic steps, their results computed from the log
// (SchedReplay), so nothing but the log tells t what the others did:
//   yield()     YIELD, then ε_t acts until the log makes t current again on
//               its CPU, then the ghost YIELD_BACK (arg0 0);
//   sleep(cv)   SLEEP(cv), ε_t acts until t is woken and scheduled again,
//               then YIELD_BACK (arg0 1);
//   spawn, wakeup, lock, unlock, makelock, freelock, exit: their atomic
//   steps (a spawned child belongs to ε_t). A lock t waits for is released
//   by ε_t (its step is enabled once the log says the lock is free).
// Two fairness bounds constrain ε_t (ThreadBounds), on any run whose log
// has the scheduler's call/return markers:
//   limit     a READY thread is dispatched again before more than `limit`
//             scheduling queries (switch-outs — yield, sleep, exit — of other
//             threads on its CPU) go by; else it is starved ("thread-starved");
//   progress  a running thread reaches a switch-out within `progress` of its
//             own shared steps; else the environment of the other threads
//             is unfair ("unfair-schedule").
// An environment event that the scheduler's replay refuses, or one that
// never gives t back its CPU, ends the run as "invalid-environment": it is
// never blamed on t.
//
// The thread-level log of a CSched run is its spec-level log (the sched
// pair's log map of the module's run) with t's YIELD_BACK before each of
// its `ret yield` / `ret sleep` markers: what the per-thread machines
// append. Projected on one thread it must equal that thread's TSched run
// against the recorded environment (the recording's other events, at their
// positions, under the recording's schedule).
//
// TLink: the per-thread machines of every CPU composed — each log position
// taken from the run of the thread that owns it; the inits' and idle
// contexts' from the recording, as every per-thread machine replays them —
// must give the thread-level log. It fails when a thread's behaviour
// depends on anything but the log: hidden channels between threads, or
// nondeterminism.
#ifndef STRATA_SCHED_TSCHED_H_
#define STRATA_SCHED_TSCHED_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "machine/machine.h"
#include "machine/replay.h"
#include "sched/csched.h"
#include "sched/workloads.h"

namespace strata::sched {

namespace kinds {
// A thread is scheduled back after a yield (arg0 0) or a sleep (arg0 1).
inline constexpr EventKind kYieldBack{"YIELD_BACK"};
}  // namespace kinds

struct ThreadBounds {
  std::int64_t limit = 0;     // 0: not enforced
  std::int64_t progress = 0;  // 0: not enforced
};

// Stops the run when a bound is broken (see above). `sched` names
// the scheduler's object.
std::unique_ptr<machine::Monitor> MakeThreadFairnessMonitor(ObjectId sched, int cpus,
                                                            ThreadBounds bounds);

// The thread-level log of a CSched spec-level log whose scheduler object is
// `sched` (see above); positions renumbered.
std::vector<Event> ThreadLevelLog(std::span<const Event> log, ObjectId sched);

// A recorded CSched spec run, for the per-thread machines: made by
// RecordSpecRun, it keeps its pushed blocks' contents.
struct SpecRecording {
  std::unique_ptr<Machine> machine;
  std::shared_ptr<CSched> sched;  // the spec, with every spawn's entry
  absl::StatusOr<machine::RunReport> report = machine::RunReport{};
  std::vector<Event> level;       // ThreadLevelLog of its log
  std::vector<std::uint64_t> origin;  // per level event: its position in the log (a
                                      // YIELD_BACK: its return marker's)
  // Per level event: the spawn instance of the thread it belongs to (tids
  // are reused once a thread exits), or -1 (an init or idle context).
  std::vector<std::int64_t> owner;
  std::vector<ThreadId> instances;  // per spawn instance: its tid
  std::vector<CpuId> homes;         // and its CPU
};

// What a per-thread machine needs besides the recording.
struct LinkOptions {
  machine::MachineOptions machine;
  SchedOptions sched;        // max_threads as the recording's
  ThreadProgram workload;    // makes the same objects as the recording
  ClientParams params;
  ThreadBounds bounds;       // ε_t's, enforced on every per-thread run
};

// Runs `o.workload` on the scheduler spec under a replay of `choices` (the
// spec-level steps of a run, in order: the CPUs of a mapped log's events
// that are not markers). The fairness guard is off: fairness was the
// recorded run's to keep.
SpecRecording RecordSpecRun(const LinkOptions& o, std::vector<CpuId> choices);

// One per-thread machine TSched[t, ε_t]: the thread spawned `instance`-th
// in the recording runs its recorded entry live against the recording's
// other events as ε_t. Returns its report, its log and which of its events
// the thread appended live.
struct ThreadRun {
  absl::StatusOr<machine::RunReport> report = machine::RunReport{};
  std::vector<Event> log;
  std::vector<bool> live;  // per event of `log`
};
ThreadRun RunThreadMachine(const SpecRecording& recording, const LinkOptions& o,
                           std::size_t instance);

// One thread's part of a TLink check.
struct ThreadLink {
  std::size_t instance = 0;  // spawn order
  ThreadId tid;
  CpuId home;
  std::size_t events = 0;          // the thread's events in the thread-level log
  std::size_t yield_backs = 0;     // of which YIELD_BACKs
  std::int64_t worst_queries = 0;  // most queries it waited READY
  std::int64_t worst_progress = 0; // most own steps in one dispatch
  bool projection_ok = false;      // its events in its run = its events in the recording
  std::string problem;             // empty if its per-thread run matched
};

struct TLinkResult {
  machine::RunReport recorded;     // how the recorded CSched run ended
  std::uint64_t recorded_hash = 0; // of the thread-level log
  std::uint64_t composed_hash = 0;
  std::vector<ThreadLink> threads;
  std::string problem;             // empty: the composition gives the thread-level log
  // The recorded run finished, every thread's machine matched (its log and
  // its projection) and the composition gives the thread-level log.
  bool ok() const {
    for (const ThreadLink& t : threads) {
      if (!t.problem.empty() || !t.projection_ok) return false;
    }
    return recorded.ok() && problem.empty();
  }
};

// Runs every thread of `recording` in its per-thread machine and composes.
// Precondition: the recording's run finished (report ok).
TLinkResult LinkThreads(const SpecRecording& recording, const LinkOptions& o);

}  // namespace strata::sched

#endif  // STRATA_SCHED_TSCHED_H_
