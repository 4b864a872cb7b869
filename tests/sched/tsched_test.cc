#include <doctest/doctest.h>

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
  TLinkOptions o;
  o.sched.impl = std::move(sched);
  o.make_sched = [](Machine& m, const SchedOptions& so) {
    return MakeSched(m, so, Builtin().scheds, Builtin());
  };
  o.machine.cpus = cpus;
  o.oracle = machine::MakeOracle;
  o.oracle_options = {.kind = machine::OracleKind::kRandom, .seed = seed, .cpus = cpus};
  const auto* w = Builtin().threads.Find(workload);
  REQUIRE(w != nullptr);
  o.workload = w->make;
  o.params = {.iterations = 4, .threads = threads};
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
  CHECK(r.problem.find("the composed log differs from the recorded one at t=") == 0);
  CHECK(r.composed_hash != r.recorded_hash);
  REQUIRE(r.threads.size() == 3);
  CHECK(r.threads[0].problem == "");  // the writer itself replays fine
  CHECK(r.threads[1].problem.find("its run departs from the recorded log at t=") == 0);
  CHECK(r.threads[2].problem.find("its run departs from the recorded log at t=") == 0);
}

TEST_CASE("a recorded run that fails is reported, not composed") {
  TLinkResult r = CheckTLink(Options("lost-wakeup", 2, 1));
  CHECK(r.recorded.outcome == Outcome::kDeadlock);
  CHECK_FALSE(r.ok());
  CHECK(r.problem.find("the recorded run ended in deadlock") == 0);
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
