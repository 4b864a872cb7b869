#include <doctest/doctest.h>
#include <fmt/format.h>

#include <memory>
#include <string>

#include "machine/machine.h"
#include "sched/csched.h"
#include "sched/stack.h"
#include "sched/tsched.h"
#include "sched/workloads.h"

namespace strata::sched {
namespace {

using machine::Outcome;

// strata's own schedulers, locks and thread workloads.
const SchedCatalog& Builtin() {
  static const SchedCatalog catalog = BuiltinSchedCatalog();
  return catalog;
}

// TLink of `workload` on scheduler `sched` over the stack's default layers.
TLinkOptions Options(std::string workload, int cpus, std::uint64_t seed, int threads = 2,
                     std::string sched = "spec") {
  StackOptions stack;
  stack.sched = std::move(sched);
  TLinkOptions o;
  o.pair = SchedPairOptionsFor(stack, Builtin(), workload);
  o.pair.iterations = 4;
  o.pair.threads = threads;
  o.machine.cpus = cpus;
  o.oracle = machine::MakeOracle;
  o.oracle_options = {.kind = machine::OracleKind::kRandom, .seed = seed, .cpus = cpus};
  return o;
}

TEST_CASE("every healthy thread workload's per-thread runs compose to its recorded run, over the "
          "scheduler spec and over the module stack") {
  for (const auto& w : Builtin().threads.entries()) {
    if (w.known_bad) continue;
    for (int cpus : {2, 3}) {
      for (std::uint64_t seed : {1, 2, 3}) {
       for (const char* sched : {"spec", "module"}) {
        CAPTURE(w.name);
        CAPTURE(cpus);
        CAPTURE(seed);
        CAPTURE(sched);
        TLinkResult r = CheckTLink(Options(std::string(w.name), cpus, seed, 2, sched));
        CHECK(r.recorded.outcome == Outcome::kOk);
        CHECK(r.problem == "");
        CHECK(r.composed_hash == r.recorded_hash);
        CHECK_FALSE(r.threads.empty());
        for (const ThreadLink& t : r.threads) {
          CAPTURE(t.tid);
          CHECK(t.problem == "");
          CHECK(t.projection_ok);
          CHECK(t.events > 0);
        }
       }
      }
    }
  }
}

TEST_CASE("threads that talk through host memory fail the TLink check") {
  TLinkResult r = CheckTLink(Options("hidden-channel", 2, 1));
  CHECK(r.recorded.outcome == Outcome::kOk);
  REQUIRE_FALSE(r.ok());
  CHECK(r.problem.find("the composed log differs from the thread-level log at t=") == 0);
  CHECK(r.composed_hash != r.recorded_hash);
  REQUIRE(r.threads.size() == 3);
  CHECK(r.threads[0].problem == "");  // the writer itself replays fine
  CHECK(r.threads[1].problem.find("its machine departs from the thread-level log at t=") == 0);
  CHECK(r.threads[2].problem.find("its machine departs from the thread-level log at t=") == 0);
  CHECK_FALSE(r.threads[1].projection_ok);
}

TEST_CASE("a recorded run that fails is reported, not composed") {
  TLinkResult r = CheckTLink(Options("lost-wakeup", 2, 1));
  CHECK(r.recorded.outcome == Outcome::kDeadlock);
  CHECK_FALSE(r.ok());
  CHECK(r.problem.find("the recorded run ended in deadlock") == 0);
}

// A CSched spec run of `workload` under a random schedule, recorded for
// the per-thread machines.
struct Recorded {
  LinkOptions options;
  SpecRecording recording;
};
Recorded Record(const std::string& workload, int cpus, std::uint64_t seed, int threads = 2) {
  Recorded r;
  r.options.machine.cpus = cpus;
  r.options.workload = Builtin().threads.Find(workload)->make;
  r.options.params = {.iterations = 3, .threads = threads};
  // The random schedule of a plain spec run, as a list of steps.
  Machine m(r.options.machine);
  SchedOptions so;
  so.max_threads = PoolCapacity(0, cpus, threads);
  std::shared_ptr<CSched> s = MakeSpecSched(m, so);
  ClientRun c = r.options.workload.start(*s, r.options.params);
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRandom, .seed = seed, .cpus = cpus});
  REQUIRE(m.Run(CSched::Boot(s, c.init), *oracle).ok());
  r.recording = RecordSpecRun(r.options, {m.schedule().begin(), m.schedule().end()});
  REQUIRE(r.recording.report.ok());
  REQUIRE(r.recording.report->ok());
  return r;
}

// Drops cpu `c`'s events after position `from`: its environment stops
// there, the other CPUs' goes on.
void Truncate(SpecRecording& r, machine::CpuId c, std::size_t from) {
  for (std::size_t i = r.level.size(); i-- > from + 1;) {
    if (r.level[i].cpu != c) continue;
    r.level.erase(r.level.begin() + static_cast<std::ptrdiff_t>(i));
    r.owner.erase(r.owner.begin() + static_cast<std::ptrdiff_t>(i));
    r.origin.erase(r.origin.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

// The spawn instance of the first thread that lives on `c`.
std::size_t FirstOn(const SpecRecording& r, machine::CpuId c) {
  std::size_t k = 0;
  while (r.homes[k] != c) ++k;
  return k;
}

TEST_CASE("a per-thread machine's yield appends YIELD, lets the environment act, then YIELD_BACK") {
  // thread-counter, 2 threads per CPU: each yield of a thread lets its
  // neighbour run a round before it is scheduled back.
  Recorded r = Record("thread-counter", 2, 5);
  for (std::size_t k = 0; k < r.recording.instances.size(); ++k) {
    CAPTURE(k);
    ThreadRun run = RunThreadMachine(r.recording, r.options, k);
    REQUIRE(run.report.ok());
    CHECK(run.report->outcome == Outcome::kOk);
    std::size_t yields = 0, acted = 0;
    for (std::size_t i = 0; i < run.log.size(); ++i) {
      const Event& e = run.log[i];
      if (!run.live[i] || e.kind != kinds::kYield) continue;
      ++yields;
      // The next live event is the YIELD_BACK; between them only the
      // environment, and on t's CPU only other threads.
      std::size_t j = i + 1;
      bool neighbour = false;
      for (; j < run.log.size() && !run.live[j]; ++j) {
        if (run.log[j].cpu == e.cpu) {
          CHECK(run.log[j].thread != e.thread);
          neighbour = true;
        }
      }
      REQUIRE(j < run.log.size());
      CHECK(run.log[j].kind == kinds::kYieldBack);
      CHECK(run.log[j].thread == e.thread);
      CHECK(run.log[j].arg0 == 0);
      CHECK(run.log[j + 1].kind == kinds::kRetYield);
      acted += neighbour ? 1 : 0;
    }
    CHECK(yields == 3);  // one per round
    CHECK(acted >= 2);   // its neighbour ran in between (the last yield may find it gone)
  }
}

TEST_CASE("a sleep's YIELD_BACK comes when the environment wakes the thread and schedules it") {
  Recorded r = Record("ping-pong", 2, 3);
  std::size_t sleeps = 0;
  for (std::size_t k = 0; k < r.recording.instances.size(); ++k) {
    CAPTURE(k);
    ThreadRun run = RunThreadMachine(r.recording, r.options, k);
    REQUIRE(run.report.ok());
    CHECK(run.report->outcome == Outcome::kOk);
    for (std::size_t i = 0; i < run.log.size(); ++i) {
      if (!run.live[i] || run.log[i].kind != kinds::kSleep) continue;
      ++sleeps;
      std::size_t j = i + 1;
      bool woken = false;  // the other player's WAKE, appended by the environment
      for (; j < run.log.size() && !run.live[j]; ++j) woken |= run.log[j].kind == kinds::kWake;
      REQUIRE(j < run.log.size());
      CHECK(woken);
      CHECK(run.log[j].kind == kinds::kYieldBack);
      CHECK(run.log[j].arg0 == 1);
    }
  }
  CHECK(sleeps > 0);
}

TEST_CASE("an environment that never schedules the thread back is an invalid environment") {
  Recorded r = Record("thread-counter", 2, 5);
  // Cut cpu 0's recording right after the first YIELD of one of its
  // threads: its environment has nothing left to give it its CPU back.
  const machine::CpuId cpu0(0);
  const std::size_t k = FirstOn(r.recording, cpu0);
  std::size_t cut = 0;
  while (!(r.recording.owner[cut] == static_cast<std::int64_t>(k) &&
           r.recording.level[cut].kind == kinds::kYield)) {
    ++cut;
  }
  Truncate(r.recording, cpu0, cut);
  ThreadRun run = RunThreadMachine(r.recording, r.options, k);
  INFO(run.report.status().message());
  REQUIRE(run.report.ok());
  CHECK(run.report->outcome == Outcome::kInvalidEnvironment);
  CHECK(run.report->message.find("does not schedule it back after its yield on cpu 0 (its "
                                 "recorded events there end") != std::string::npos);
}

TEST_CASE("an environment event the scheduler refuses is the environment's fault, not the thread's") {
  Recorded r = Record("thread-counter", 2, 5);
  // One of cpu 1's UNLOCKs, recorded as coming from a thread cpu 1 does not run.
  SpecRecording& rec = r.recording;
  std::size_t i = 0;
  while (!(rec.level[i].cpu == machine::CpuId(1) && rec.level[i].kind == kinds::kUnlock)) ++i;
  const auto owner = static_cast<std::size_t>(rec.owner[i]);
  rec.level[i].thread = machine::ThreadId(rec.level[i].thread.value() + 100);
  const std::size_t k = FirstOn(rec, machine::CpuId(0));
  ThreadRun run = RunThreadMachine(rec, r.options, k);
  INFO(run.report.status().message());
  REQUIRE(run.report.ok());
  CHECK(run.report->outcome == Outcome::kInvalidEnvironment);
  const std::string message = run.report->message;
  CAPTURE(message);
  CHECK(run.report->message.find(fmt::format("the environment of thread {} appended an event the "
                                             "scheduler's replay refuses: cpu 1 does not run thread",
                                             rec.instances[k])) != std::string::npos);
  // The thread whose step it was appends its own, from its code: its run is fine.
  ThreadRun own = RunThreadMachine(rec, r.options, owner);
  REQUIRE(own.report.ok());
  CHECK(own.report->outcome == Outcome::kOk);
}

TEST_CASE("a per-thread machine holds its environment to the thread bounds") {
  // A thread-counter round is LOCK, load, store, UNLOCK: progress 3 is
  // broken by every thread. In each machine, the first thread to break it
  // is named: as the environment's unfairness if it is another thread, as
  // the live thread's own breach if it is the live one.
  Recorded r = Record("thread-counter", 2, 5);
  r.options.bounds = {.progress = 3};
  std::size_t own = 0, environment = 0;
  for (std::size_t k = 0; k < r.recording.instances.size(); ++k) {
    CAPTURE(k);
    ThreadRun run = RunThreadMachine(r.recording, r.options, k);
    REQUIRE(run.report.ok());
    CHECK(run.report->outcome == Outcome::kUnfairSchedule);
    CHECK(run.report->message.find("(progress bound 3)") != std::string::npos);
    const std::string live = fmt::format("thread {} ran", r.recording.instances[k]);
    if (run.report->message.find("the live thread breaks the progress bound it owes its "
                                 "environment: " + live) != std::string::npos) {
      ++own;
    } else {
      CHECK(run.report->message.find("unfair environment: thread ") != std::string::npos);
      CHECK(run.report->message.find(live) == std::string::npos);
      ++environment;
    }
  }
  CHECK(own > 0);          // the thread that runs first breaks it in its own machine
  CHECK(environment > 0);  // and is the others' unfair environment
  r.options.bounds = {.limit = 1, .progress = 4};
  ThreadRun run = RunThreadMachine(r.recording, r.options, 0);
  REQUIRE(run.report.ok());
  CHECK(run.report->outcome == Outcome::kOk);
}

TEST_CASE("an environment that never dispatches the thread is an invalid environment") {
  Recorded r = Record("thread-counter", 2, 5);
  // Cut cpu 0's recording just before the first event of one of its
  // threads: its environment ends without ever running it.
  const machine::CpuId cpu0(0);
  const std::size_t k = FirstOn(r.recording, cpu0);
  std::size_t first = 0;
  while (r.recording.owner[first] != static_cast<std::int64_t>(k)) ++first;
  Truncate(r.recording, cpu0, first - 1);
  ThreadRun run = RunThreadMachine(r.recording, r.options, k);
  REQUIRE(run.report.ok());
  CHECK(run.report->outcome == Outcome::kInvalidEnvironment);
  CHECK(run.report->message.find("does not dispatch it on cpu 0 (its recorded events there end") !=
        std::string::npos);
}

TEST_CASE("a thread that does not do what it did in the recording is its own fault") {
  Recorded r = Record("thread-counter", 2, 5);
  // Drop one of thread k's recorded steps before its first yield: run live,
  // it appends one more event than its recording has.
  SpecRecording& rec = r.recording;
  const std::size_t k = FirstOn(rec, machine::CpuId(0));
  std::size_t i = 0;
  while (!(rec.owner[i] == static_cast<std::int64_t>(k) && rec.level[i].kind == kinds::kUnlock)) ++i;
  rec.level.erase(rec.level.begin() + static_cast<std::ptrdiff_t>(i));
  rec.owner.erase(rec.owner.begin() + static_cast<std::ptrdiff_t>(i));
  rec.origin.erase(rec.origin.begin() + static_cast<std::ptrdiff_t>(i));
  ThreadRun run = RunThreadMachine(rec, r.options, k);
  REQUIRE(run.report.ok());
  CHECK(run.report->outcome == Outcome::kImpossibleLog);
  CHECK(run.report->message.find(fmt::format("thread {} on cpu 0 does not do what it did in the "
                                             "recording: at its yield it has appended",
                                             rec.instances[k])) != std::string::npos);
}

TEST_CASE("the thread-level log adds one YIELD_BACK before each return from a yield or sleep") {
  Recorded r = Record("ping-pong", 2, 3);
  const machine::Log& log = r.recording.machine->log();
  std::size_t returns = 0;
  for (const Event& e : log.events()) {
    returns += e.thread.valid() && (e.kind == kinds::kRetYield || e.kind == kinds::kRetSleep);
  }
  CHECK(returns > 0);
  CHECK(r.recording.level.size() == log.size() + returns);
  for (std::size_t i = 0; i < r.recording.level.size(); ++i) {
    const Event& e = r.recording.level[i];
    CHECK(e.seq == i);
    if (e.kind != kinds::kYieldBack) {
      CHECK(log[r.recording.origin[i]].kind == e.kind);
      continue;
    }
    const Event& ret = r.recording.level[i + 1];
    CHECK(ret.thread == e.thread);
    CHECK(e.arg0 == (ret.kind == kinds::kRetYield ? 0 : 1));
  }
}

// Runs thread-counter on `impl` with thread bounds.
machine::RunReport RunBounded(std::string impl, ThreadBounds bounds, int threads = 2) {
  Machine m(machine::MachineOptions{.cpus = 2});
  SchedOptions o;
  o.impl = std::move(impl);
  std::shared_ptr<CSched> s = MakeSched(m, o, Builtin().scheds, Builtin());
  ClientRun c = Builtin().threads.Find("thread-counter")->make.start(
      *s, {.iterations = 10, .threads = threads});
  m.AddGlobalMonitor(MakeThreadFairnessMonitor(s->object(), m.cpus(), bounds));
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRandom, .seed = 1, .cpus = 2});
  auto report = m.Run(CSched::Boot(s, c.init), *oracle);
  REQUIRE(report.ok());
  return *report;
}

TEST_CASE("a scheduler that starves a ready thread is caught only when the limit is on") {
  CHECK(RunBounded("module-lifo", {}).outcome == Outcome::kOk);
  machine::RunReport starved = RunBounded("module-lifo", {.limit = 4});
  CHECK(starved.outcome == Outcome::kThreadStarved);
  CHECK(starved.message.find("has waited READY through 5 scheduling queries (limit 4): starved") !=
        std::string::npos);
  // The FIFO scheduler keeps every thread within (threads - 1) queries.
  for (int threads : {2, 3, 5}) {
    CAPTURE(threads);
    CHECK(RunBounded("module", {.limit = threads - 1}, threads).outcome == Outcome::kOk);
    CHECK(RunBounded("spec", {.limit = threads - 1}, threads).outcome == Outcome::kOk);
  }
}

TEST_CASE("a yielded thread that its neighbour keeps passing over is starved") {
  // module-lifo: after its first yield thread A stays READY while its
  // neighbour, re-run first, yields again and again. The FIFO scheduler
  // lets each of 3 threads wait exactly 2 queries per yield.
  machine::RunReport r = RunBounded("module-lifo", {.limit = 3}, 3);
  CHECK(r.outcome == Outcome::kThreadStarved);
  CHECK(RunBounded("module", {.limit = 2}, 3).outcome == Outcome::kOk);
  CHECK(RunBounded("module", {.limit = 1}, 3).outcome == Outcome::kThreadStarved);
}

TEST_CASE("a thread that runs past its progress bound is an unfair environment") {
  // A thread-counter round is LOCK, load, store, UNLOCK (the yield's own
  // steps are the scheduler's): progress 3 is too little, 4 is enough.
  machine::RunReport r = RunBounded("spec", {.progress = 3});
  CHECK(r.outcome == Outcome::kUnfairSchedule);
  CHECK(r.message.find("unfair environment: thread ") != std::string::npos);
  CHECK(r.message.find("without yielding, sleeping or exiting (progress bound 3)") !=
        std::string::npos);
  CHECK(RunBounded("spec", {.progress = 4}).outcome == Outcome::kOk);
  // Over ticket locks a lock is two steps (INC_TICKET, GET_NOW), an unlock one.
  CHECK(RunBounded("module", {.progress = 5}).outcome == Outcome::kOk);
  CHECK(RunBounded("module", {.progress = 4}).outcome == Outcome::kUnfairSchedule);
}

}  // namespace
}  // namespace strata::sched
