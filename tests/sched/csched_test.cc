#include <doctest/doctest.h>

#include <functional>
#include <regex>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include <algorithm>

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/tcb_module.h"
#include "kernel/tcb_pool.h"
#include "kernel/ticket_lock.h"
#include "layers/explorer.h"
#include "layers/refinement.h"
#include "machine/log.h"
#include "machine/machine.h"

#include "sched/csched.h"
#include "sched/pair.h"
#include "sched/stack.h"
#include "sched/workloads.h"

namespace strata::sched {
namespace {

// strata's own schedulers, locks and thread workloads.
const SchedCatalog& Builtin() {
  static const SchedCatalog catalog = BuiltinSchedCatalog();
  return catalog;
}

std::shared_ptr<CSched> Make(Machine& m, const SchedOptions& o) {
  return MakeSched(m, o, Builtin().scheds, Builtin());
}

using machine::Outcome;

struct Ran {
  std::unique_ptr<Machine> machine;
  std::shared_ptr<CSched> sched;
  machine::RunReport report;
  std::vector<Check> checks;
};

// Runs thread workload `name` on scheduler `impl` under a seeded random
// oracle (or round-robin with seed 0).
Ran RunWorkload(std::string_view name, std::string impl, int cpus, std::uint64_t seed,
                std::int64_t iterations = 5, int threads = 2, std::string lock = "ticket",
                std::string queue = "module", std::string tcb = "module") {
  Ran r;
  r.machine = std::make_unique<Machine>(machine::MachineOptions{.cpus = cpus});
  SchedOptions o;
  o.impl = std::move(impl);
  o.lock = std::move(lock);
  o.queue = std::move(queue);
  o.tcb = std::move(tcb);
  r.sched = Make(*r.machine, o);
  const auto* w = Builtin().threads.Find(name);
  REQUIRE(w != nullptr);
  ClientRun client = w->make.start(*r.sched, {.iterations = iterations, .threads = threads});
  auto oracle = machine::MakeOracle(
      {.kind = seed == 0 ? machine::OracleKind::kRoundRobin : machine::OracleKind::kRandom,
       .seed = seed,
       .cpus = cpus});
  auto report = r.machine->Run(CSched::Boot(r.sched, client.init), *oracle);
  REQUIRE(report.ok());
  r.report = *report;
  if (r.report.ok()) r.checks = client.checks();
  return r;
}

TEST_CASE("every healthy thread workload passes its checks on the module and on the spec") {
  for (const auto& w : Builtin().threads.entries()) {
    if (w.known_bad) continue;
    for (std::string impl : {"module", "spec"}) {
      for (int cpus : {2, 3, 4}) {
        for (std::uint64_t seed : {0, 1, 2, 3}) {
          CAPTURE(w.name);
          CAPTURE(impl);
          CAPTURE(cpus);
          CAPTURE(seed);
          Ran r = RunWorkload(w.name, impl, cpus, seed);
          CHECK(r.report.outcome == Outcome::kOk);
          CHECK_FALSE(r.checks.empty());
          for (const Check& c : r.checks) {
            CAPTURE(c.what);
            CHECK(c.actual == c.expected);
          }
          for (int t = 0; t < r.sched->threads(); ++t) {
            CHECK(r.sched->state(machine::ThreadId(t)) == ThreadState::kDead);
          }
        }
      }
    }
  }
}

TEST_CASE("the same seed gives the same log, another seed another interleaving") {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    Ran a = RunWorkload("producer-consumer", "module", 4, seed);
    Ran b = RunWorkload("producer-consumer", "module", 4, seed);
    CHECK(a.machine->log().hash() == b.machine->log().hash());
    hashes.insert(a.machine->log().hash());
  }
  CHECK(hashes.size() >= 6);
}

TEST_CASE("ping-pong wakes threads across CPUs and counts the switches") {
  Ran r = RunWorkload("ping-pong", "module", 2, 1, 10);
  REQUIRE(r.report.outcome == Outcome::kOk);
  const CpuStats& a = r.sched->stats(CpuId(0));
  const CpuStats& b = r.sched->stats(CpuId(1));
  CHECK(a.threads == 1);
  CHECK(b.threads == 1);
  // Every round wakes the other CPU's thread (a wakeup with no sleeper
  // returns none and is not counted).
  CHECK(a.remote_wakeups + b.remote_wakeups >= 1);
  CHECK(a.local_wakeups + b.local_wakeups == 0);
  CHECK(a.sleeps + b.sleeps >= 1);
  CHECK(a.switches >= 1 + a.sleeps);
}

TEST_CASE("every thread workload ends alike over every combination of the layers below the "
          "scheduler, each as module or spec") {
  // Which schedules a run takes depends on the layers (a module has more
  // steps than a spec), so each combination runs several seeds: a healthy
  // workload ends ok with every final check true on each; a known-bad one
  // ends in its declared outcome on some seed and never in another failure.
  struct Combo {
    std::string sched, lock, queue, tcb;
  };
  std::vector<Combo> combos = {{"spec", "ticket", "module", "module"}};
  for (const char* lock : {"spec", "ticket", "mcs", "tas"}) {
    for (const char* queue : {"spec", "module"}) {
      for (const char* tcb : {"spec", "module"}) combos.push_back({"module", lock, queue, tcb});
    }
  }
  for (const auto& w : Builtin().threads.entries()) {
    const bool run_fails = w.known_bad && w.expect != "tlink-mismatch";
    for (const Combo& k : combos) {
      CAPTURE(w.name);
      CAPTURE(k.sched);
      CAPTURE(k.lock);
      CAPTURE(k.queue);
      CAPTURE(k.tcb);
      const int cpus = std::max(2, w.make.min_cpus);
      bool declared = false;
      for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        CAPTURE(seed);
        Ran r = RunWorkload(w.name, k.sched, cpus, seed, 3, 2, k.lock, k.queue, k.tcb);
        const std::string outcome(machine::OutcomeName(r.report.outcome));
        if (run_fails) {
          CHECK((outcome == "ok" || outcome == w.expect));
          declared = declared || outcome == w.expect;
          continue;
        }
        CHECK(outcome == "ok");
        for (const Check& c : r.checks) {
          CAPTURE(c.what);
          CHECK(c.ok());
        }
      }
      if (run_fails) CHECK(declared);
    }
  }
}

TEST_CASE("wrong-order philosophers deadlock and the report names who holds and waits") {
  // Not every schedule deadlocks: the first seed that does. In a deadlock
  // every philosopher holds its left fork and waits for its right one.
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    CAPTURE(seed);
    Ran r = RunWorkload("philosophers-wrong-order", "module", 4, seed, 10);
    if (r.report.outcome != Outcome::kDeadlock) {
      REQUIRE(r.report.outcome == Outcome::kOk);
      continue;
    }
    const std::string waits = r.sched->DescribeWaits();
    CAPTURE(waits);
    for (int f = 0; f < 4; ++f) {
      CHECK(waits.find(fmt::format("holds fork{} and waits for lock fork{} (held by thread",
                                   f, (f + 1) % 4)) != std::string::npos);
    }
    CHECK(std::count(waits.begin(), waits.end(), ';') == 3);
    return;
  }
  FAIL("no seed of 1..64 deadlocks the wrong-order philosophers");
}

TEST_CASE("a lock's invariant is checked at makelock, at every release and at freelock, over "
          "the module and the spec") {
  // One thread makes lock l with invariant x == y, then breaks it in one
  // of four ways; `how` 0 keeps it.
  auto run = [](const std::string& impl, int how) {
    Machine m(machine::MachineOptions{.cpus = 1});
    SchedOptions o;
    o.impl = impl;
    std::shared_ptr<CSched> s = Make(m, o);
    const SchedLock l = s->NewLock("l");
    const Cv cv = s->NewCv("cv", l);
    const machine::Word x = m.NewWord("x"), y = m.NewWord("y");
    const LockInvariant r{"x == y", [x, y](const Machine& m) -> std::optional<std::string> {
                            if (m.value(x) == m.value(y)) return std::nullopt;
                            return fmt::format("x = {}, y = {}", m.value(x), m.value(y));
                          }};
    auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 1});
    auto report = m.Run(CSched::Boot(s, [=](Threads& s, Cpu& cpu) {
                          s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
                            if (how == 1) cpu.FetchAdd(x, 1);
                            s.MakeLock(cpu, l, r);
                            s.Lock(cpu, l);
                            cpu.FetchAdd(x, 1);
                            if (how == 2) s.Unlock(cpu, l);
                            if (how == 3) {
                              s.Sleep(cpu, cv);  // nobody wakes it: the check comes first
                            }
                            if (how == 4) s.FreeLock(cpu, l);
                            cpu.FetchAdd(y, 1);
                            if (how == 0) s.FreeLock(cpu, l);
                          });
                        }),
                        *oracle);
    REQUIRE(report.ok());
    return *report;
  };
  for (const char* impl : {"module", "spec"}) {
    CAPTURE(impl);
    CHECK(run(impl, 0).outcome == Outcome::kOk);
    const char* where[] = {"", "makelock", "its release (unlock)", "its release (sleep)",
                           "freelock"};
    for (int how = 1; how <= 4; ++how) {
      CAPTURE(how);
      const machine::RunReport r = run(impl, how);
      CHECK(r.outcome == Outcome::kInvariantBroken);
      CHECK(r.message == fmt::format("lock l's invariant x == y does not hold at {} by thread 0 on "
                                     "cpu 0: x = 1, y = 0",
                                     where[how]));
    }
  }
}

TEST_CASE("freelock needs the lock held and every other sharer gone; a freed lock cannot be taken") {
  for (const char* w : {"fork-lock-free-early"}) {
    Ran r = RunWorkload(w, "module", 2, 1, 3);
    CHECK(r.report.outcome == Outcome::kImpossibleLog);
    CHECK(r.report.message.find("frees lock fork.lock") != std::string::npos);
    CHECK(r.report.message.find("has a share and can still take it") != std::string::npos);
  }
  Ran ok = RunWorkload("fork-lock", "module", 2, 1, 3);
  CHECK(ok.report.outcome == Outcome::kOk);
  // Taking a lock after its freelock, and without a share.
  for (int misuse : {0, 1}) {
    CAPTURE(misuse);
    Machine m(machine::MachineOptions{.cpus = 1});
    std::shared_ptr<CSched> s = Make(m, SchedOptions{});
    const SchedLock l = s->NewLock("l");
    auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 1});
    auto report = m.Run(CSched::Boot(s, [=](Threads& s, Cpu& cpu) {
                          s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
                            s.MakeLock(cpu, l, LockInvariant{});
                            if (misuse == 0) {
                              s.Lock(cpu, l);
                              s.FreeLock(cpu, l);
                              s.Lock(cpu, l);
                            } else {
                              s.Spawn(cpu, [=](Threads& s, Cpu& cpu) { s.Lock(cpu, l); });
                            }
                          });
                        }),
                        *oracle);
    REQUIRE(report.ok());
    CHECK(report->outcome == Outcome::kImpossibleLog);
    CHECK(report->message == (misuse == 0 ? "thread 0 on cpu 0 takes lock l after it was freed"
                                          : "thread 1 on cpu 0 takes lock l without a share of it"));
  }
}

TEST_CASE("a lost wakeup leaves both threads asleep: a deadlock") {
  Ran r = RunWorkload("lost-wakeup", "module", 2, 1, 20);
  REQUIRE(r.report.outcome == Outcome::kDeadlock);
  const std::string waits = r.sched->DescribeWaits();
  CHECK(waits.find("sleeps on cv") != std::string::npos);
}

TEST_CASE("an exception in a thread is a report naming the thread") {
  Machine m(machine::MachineOptions{.cpus = 2});
  std::shared_ptr<CSched> s = Make(m, {});
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 2});
  auto report = m.Run(CSched::Boot(s,
                                   [](Threads& s, Cpu& cpu) {
                                     s.Spawn(cpu, [](Threads& s, Cpu& cpu) {
                                       s.Yield(cpu);
                                       if (cpu.id().value() == 1) throw std::runtime_error("boom");
                                     });
                                   }),
                      *oracle);
  REQUIRE(report.ok());
  CHECK(report->outcome == Outcome::kException);
  CHECK(report->message == "thread 1 on cpu 1 threw: boom");
}

// A user's TCB pool that hands out a tid past its capacity and lets it be
// written: the scheduler must report it, not index past its TCBs.
class TidPastCapacity final : public kernel::ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  std::int64_t DoAlloc(Cpu& cpu) override {
    ModuleTcbPool::DoAlloc(cpu);
    return capacity();
  }
  std::int64_t DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                       std::int64_t value) override {
    return tid == capacity() ? 1 : ModuleTcbPool::DoWrite(cpu, tid, field, value);
  }
};

TEST_CASE("a spawn whose TCB pool returns a tid past its capacity is an impossible log") {
  SchedCatalog catalog = BuiltinSchedCatalog();
  catalog.tcbs.Add({"tid-past-capacity", "known-bad: alloc returns the pool's capacity", true,
                    "impossible-lower-log", kernel::TcbFactoryOf<TidPastCapacity>()});
  Machine m(machine::MachineOptions{.cpus = 1});
  SchedOptions o;
  o.tcb = "tid-past-capacity";
  o.max_threads = 4;
  std::shared_ptr<CSched> s = MakeSched(m, o, catalog.scheds, catalog);
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 1});
  auto report = m.Run(
      CSched::Boot(s, [](Threads& s, Cpu& cpu) { s.Spawn(cpu, [](Threads&, Cpu&) {}); }),
      *oracle);
  REQUIRE(report.ok());
  CHECK(report->outcome == Outcome::kImpossibleLog);
  CHECK(report->message == "spawn on cpu 0 returned tid 4, outside the TCB pool's tids 0 .. 3");
}

// ------------------------------------------------------------ the spec's replay

struct ReplayFixture {
  ObjectId sched{0};
  SchedReplay replay{.sched = sched, .cpus = 2, .max_threads = 4, .locks = 1, .cv_locks = {0}};
  SchedState s = replay.Init();
  std::string why;

  bool Step(int cpu, int thread, EventKind kind, std::int64_t arg0 = 0) {
    Event e{.cpu = CpuId(cpu), .thread = machine::ThreadId(thread), .object = sched, .kind = kind,
            .arg0 = arg0};
    return replay.Step(s, e, &why);
  }
};

TEST_CASE("a woken thread on another CPU goes to that CPU's pending queue") {
  ReplayFixture f;
  REQUIRE(f.Step(0, -1, kinds::kSpawn));  // thread 0 on cpu 0
  REQUIRE(f.Step(1, -1, kinds::kSpawn));  // thread 1 on cpu 1
  REQUIRE(f.Step(0, -1, kinds::kIdle));
  REQUIRE(f.Step(1, -1, kinds::kIdle));
  CHECK(f.s.current[0] == machine::ThreadId(0));
  CHECK(f.s.current[1] == machine::ThreadId(1));
  REQUIRE(f.Step(0, 0, kinds::kLock, 0));
  REQUIRE(f.Step(0, 0, kinds::kSleep, 0));  // releases lock 0, cpu 0 goes idle
  CHECK_FALSE(f.s.holders[0].valid());
  CHECK_FALSE(f.s.current[0].valid());
  REQUIRE(f.Step(1, 1, kinds::kLock, 0));
  REQUIRE(f.Step(1, 1, kinds::kWake, 0));
  CHECK(f.s.returns[1] == 0);
  CHECK(f.s.pending[0] == std::deque<machine::ThreadId>{machine::ThreadId(0)});
  CHECK(f.s.ready[1].empty());
  REQUIRE(f.Step(0, -1, kinds::kIdle));  // cpu 0 drains its pending queue
  CHECK(f.s.current[0] == machine::ThreadId(0));
  CHECK(f.s.returns[0] == 0);
}

TEST_CASE("the spec frees a lock only for its holder, and refuses it afterwards") {
  ReplayFixture f;
  REQUIRE(f.Step(0, -1, kinds::kSpawn));
  REQUIRE(f.Step(1, -1, kinds::kSpawn));
  REQUIRE(f.Step(0, -1, kinds::kIdle));
  REQUIRE(f.Step(1, -1, kinds::kIdle));
  REQUIRE(f.Step(0, 0, kinds::kMakeLock, 0));
  CHECK_FALSE(f.Step(0, 0, kinds::kFreeLock, 0));  // not held
  REQUIRE(f.Step(0, 0, kinds::kLock, 0));
  CHECK_FALSE(f.Step(1, 1, kinds::kFreeLock, 0));  // held by thread 0
  REQUIRE(f.Step(0, 0, kinds::kFreeLock, 0));
  CHECK_FALSE(f.s.holders[0].valid());
  CHECK(f.s.freed[0]);
  CHECK_FALSE(f.Step(1, 1, kinds::kLock, 0));
  CHECK(f.why == "lock 0 was freed");
}

TEST_CASE("a local wakeup goes to the waker's ready queue and runs at its next yield") {
  ReplayFixture f;
  REQUIRE(f.Step(0, -1, kinds::kSpawn));
  REQUIRE(f.Step(0, -1, kinds::kSpawn));
  REQUIRE(f.Step(0, -1, kinds::kIdle));  // runs thread 0; thread 1 ready
  REQUIRE(f.Step(0, 0, kinds::kLock, 0));
  REQUIRE(f.Step(0, 0, kinds::kSleep, 0));  // thread 1 runs
  CHECK(f.s.current[0] == machine::ThreadId(1));
  REQUIRE(f.Step(0, 1, kinds::kLock, 0));
  REQUIRE(f.Step(0, 1, kinds::kWake, 0));
  CHECK(f.s.ready[0] == std::deque<machine::ThreadId>{machine::ThreadId(0)});
  REQUIRE(f.Step(0, 1, kinds::kUnlock, 0));
  REQUIRE(f.Step(0, 1, kinds::kYield));
  CHECK(f.s.current[0] == machine::ThreadId(0));
  CHECK(f.s.ready[0] == std::deque<machine::ThreadId>{machine::ThreadId(1)});
}

TEST_CASE("the spec's replay rejects impossible scheduler logs") {
  SUBCASE("a step by a thread its CPU does not run") {
    ReplayFixture f;
    REQUIRE(f.Step(0, -1, kinds::kSpawn));
    CHECK_FALSE(f.Step(0, 0, kinds::kYield));
    CHECK(f.why == "cpu 0 does not run thread 0");
  }
  SUBCASE("sleep without holding the cv's lock") {
    ReplayFixture f;
    REQUIRE(f.Step(0, -1, kinds::kSpawn));
    REQUIRE(f.Step(0, -1, kinds::kIdle));
    CHECK_FALSE(f.Step(0, 0, kinds::kSleep, 0));
    CHECK(f.why == "thread 0 uses cv 0 without holding its lock");
  }
  SUBCASE("an unlock by a thread that does not hold the lock") {
    ReplayFixture f;
    REQUIRE(f.Step(0, -1, kinds::kSpawn));
    REQUIRE(f.Step(0, -1, kinds::kIdle));
    CHECK_FALSE(f.Step(0, 0, kinds::kUnlock, 0));
  }
  SUBCASE("idle with nothing to run") {
    ReplayFixture f;
    CHECK_FALSE(f.Step(1, -1, kinds::kIdle));
    CHECK(f.why == "idle with nothing to run");
  }
  SUBCASE("a full TCB pool") {
    ReplayFixture f;
    for (int i = 0; i < 4; ++i) REQUIRE(f.Step(0, -1, kinds::kSpawn));
    CHECK_FALSE(f.Step(0, -1, kinds::kSpawn));
    CHECK(f.why == "the TCB pool is full");
  }
  SUBCASE("an exit while holding a lock") {
    ReplayFixture f;
    REQUIRE(f.Step(0, -1, kinds::kSpawn));
    REQUIRE(f.Step(0, -1, kinds::kIdle));
    REQUIRE(f.Step(0, 0, kinds::kLock, 0));
    CHECK_FALSE(f.Step(0, 0, kinds::kExit));
  }
}

// ------------------------------------------------------------ the sched pair

layers::Verdict CheckPair(std::string impl, std::string client, const char* strategy,
                          std::uint64_t runs) {
  StackOptions o;
  o.sched = std::move(impl);
  o.client = std::move(client);
  o.iterations = 2;
  auto pair = MakePair("sched", o, Builtin());
  layers::ExploreResult r =
      layers::Explore(*pair, machine::MachineOptions{.cpus = 2},
                      {.strategy = layers::BuiltinStrategy(strategy), .seed = 1, .runs = runs, .shrink = false});
  return r.failure ? r.failure->verdict : layers::Verdict{};
}

TEST_CASE("the scheduler module refines its spec under every strategy") {
  for (auto strategy : {"random", "pct", "dfs"}) {
    for (std::string client : {"ping-pong", "thread-counter", "fork-lock", "producer-consumer"}) {
      CAPTURE(strategy);
      CAPTURE(client);
      layers::Verdict v = CheckPair("module", client, strategy, 150);
      CHECK(v.name() == "refines");
    }
  }
}

TEST_CASE("a cv guarded by a lock other than lock 0 refines (sleep and wakeup carry its lock)") {
  const ThreadProgram ping_pong = Builtin().threads.Find("ping-pong")->make;
  SchedPairOptions o;
  o.module = Builtin().scheds.Find("module")->make;
  o.lower = LowerOf(o.sched, Builtin());
  o.client = {ping_pong.min_cpus, [ping_pong](CSched& s, const ClientParams& p) {
                s.NewLock("first");  // ping-pong's lock becomes lock 1
                return ping_pong.start(s, p);
              }};
  auto pair = MakeSchedPair(o);
  for (const char* strategy : {"random", "dfs"}) {
    CAPTURE(strategy);
    layers::ExploreResult r =
        layers::Explore(*pair, machine::MachineOptions{.cpus = 2},
                        {.strategy = layers::BuiltinStrategy(strategy), .runs = 300, .shrink = false});
    if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
    CHECK(r.executions > 0);
  }
}

TEST_CASE("known-bad scheduler modules and clients are caught with their exact verdicts") {
  struct Case {
    std::string impl, client, verdict;
  };
  const Case cases[] = {
      {"module-yield-drops", "thread-counter", "impossible-upper-log"},
      {"module-wrong-cpu", "ping-pong", "relation-broken"},
      {"module-lose-sleeper", "ping-pong", "relation-broken"},
      {"module", "lost-wakeup", "deadlock"},
      {"module", "sleep-unlocked", "impossible-log"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.impl);
    CAPTURE(c.client);
    CHECK(CheckPair(c.impl, c.client, "random", 500).name() == c.verdict);
  }
}


[[gnu::noinline]] std::int64_t Deep(std::int64_t n) {
  volatile char pad[512];
  pad[0] = static_cast<char>(n);
  return n == 0 ? pad[0] : Deep(n - 1) + pad[0];
}

TEST_CASE("a thread that overflows its stack is a report naming it, and the process runs on") {
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    Machine m(machine::MachineOptions{.cpus = 2, .stack_bytes = 64 * 1024});
    std::shared_ptr<CSched> s = Make(m, {});
    const machine::Word w = m.NewWord("w");
    auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 2});
    auto report = m.Run(CSched::Boot(s,
                                     [w](Threads& s, Cpu& cpu) {
                                       // Two threads per CPU; thread 1 (cpu 1's first) recurses.
                                       for (int t = 0; t < 2; ++t) {
                                         s.Spawn(cpu, [w](Threads& s, Cpu& cpu) {
                                           cpu.FetchAdd(w, 1);
                                           s.Yield(cpu);
                                           if (cpu.thread().value() == 1) cpu.FetchAdd(w, Deep(1'000'000));
                                           cpu.FetchAdd(w, 1);
                                         });
                                       }
                                     }),
                        *oracle);
    REQUIRE(report.ok());
    CHECK(report->outcome == machine::Outcome::kStackOverflow);
    CHECK(report->message == "thread 1 on cpu 1 overflowed its stack (hit the guard page)");
    CHECK(report->cpus == std::vector<CpuId>{CpuId(1)});
  }
}


TEST_CASE("yield from a CPU's init, outside any thread, is a report, not a crash") {
  Machine m(machine::MachineOptions{.cpus = 1});
  std::shared_ptr<CSched> s = Make(m, {});
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 1});
  auto report = m.Run(CSched::Boot(s, [](Threads& s, Cpu& cpu) { s.Yield(cpu); }), *oracle);
  REQUIRE(report.ok());
  CHECK(report->outcome == machine::Outcome::kException);
  CHECK(report->message == "cpu 0 called yield outside a thread (from its init)");
}


// Runs `body` as the one thread of a 1-CPU machine with a lock "l" and a cv
// "c" guarded by it, on scheduler `impl`.
machine::RunReport Misuse(std::string impl,
                          std::function<void(Threads&, Cpu&, SchedLock, Cv)> body) {
  Machine m(machine::MachineOptions{.cpus = 1});
  SchedOptions o;
  o.impl = std::move(impl);
  std::shared_ptr<CSched> s = Make(m, o);
  const SchedLock l = s->NewLock("l");
  const Cv c = s->NewCv("c", l);
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 1});
  auto report = m.Run(CSched::Boot(s,
                                   [=](Threads& s, Cpu& cpu) {
                                     s.Spawn(cpu, [=](Threads& s, Cpu& cpu) { body(s, cpu, l, c); });
                                   }),
                      *oracle);
  REQUIRE(report.ok());
  return *report;
}

TEST_CASE("a client that breaks a primitive's precondition gets a report, on module and spec") {
  struct Case {
    const char* what;
    std::function<void(Threads&, Cpu&, SchedLock, Cv)> body;
    std::string message;
  };
  const Case cases[] = {
      {"lock that does not exist", [](Threads& s, Cpu& cpu, SchedLock, Cv) { s.Lock(cpu, SchedLock{5}); },
       "thread 0 on cpu 0 calls lock on lock 5, which does not exist"},
      {"cv that does not exist", [](Threads& s, Cpu& cpu, SchedLock, Cv) { s.Wakeup(cpu, Cv{}); },
       "thread 0 on cpu 0 calls wakeup on cv -1, which does not exist"},
      {"unlock not held", [](Threads& s, Cpu& cpu, SchedLock l, Cv) { s.Unlock(cpu, l); },
       "thread 0 on cpu 0 calls unlock without holding lock l (held by nobody)"},
      {"wakeup without the lock", [](Threads& s, Cpu& cpu, SchedLock, Cv c) { s.Wakeup(cpu, c); },
       "thread 0 on cpu 0 calls wakeup without holding lock l (held by nobody)"},
      {"sleep without the lock", [](Threads& s, Cpu& cpu, SchedLock, Cv c) { s.Sleep(cpu, c); },
       "thread 0 on cpu 0 calls sleep without holding lock l (held by nobody)"},
      {"exit holding a lock", [](Threads& s, Cpu& cpu, SchedLock l, Cv) { s.Lock(cpu, l); },
       "thread 0 on cpu 0 exits holding lock l"},
  };
  for (std::string impl : {"module", "spec"}) {
    for (const Case& k : cases) {
      CAPTURE(impl);
      CAPTURE(k.what);
      machine::RunReport r = Misuse(impl, k.body);
      CHECK(r.outcome == Outcome::kImpossibleLog);
      CHECK(r.message == k.message);
    }
  }
}


TEST_CASE("a primitive's markers and a spec's one step record the code that called the "
          "primitive, a module's own steps the module's lines") {
  for (const std::string impl : {"spec", "module"}) {
    CAPTURE(impl);
    Ran r = RunWorkload("ping-pong", impl, 2, 1, 3, 2, impl == "spec" ? "spec" : "ticket",
                        impl == "spec" ? "spec" : "module", impl == "spec" ? "spec" : "module");
    REQUIRE(r.report.ok());
    const machine::Log& log = r.machine->log();
    std::size_t spec_steps = 0, sched_markers = 0, lock_markers = 0, module_steps = 0;
    for (std::size_t i = 0; i < log.size(); ++i) {
      const machine::Event& e = log[i];
      const std::string at = machine::FormatWhere(log.where(i));
      CAPTURE(log.RenderTextWhere(i));
      const bool idle = e.kind == kinds::kIdle || e.kind == kinds::kCallIdle ||
                        e.kind == kinds::kRetIdle || e.kind == kinds::kExit ||
                        e.kind == kinds::kCallExit || e.kind == kinds::kRetExit;
      if (idle) continue;  // the scheduler's own: no thread code calls them
      const bool sched_event = log.object_name(e.object) == "sched";
      if (sched_event) {
        // Called by the thread workload: its markers, and the spec's step.
        CHECK(at.rfind("sched/workloads.cc:", 0) == 0);
        (e.marker() ? sched_markers : spec_steps) += 1;
      } else if (impl == "module" && e.marker() && e.kind == kernel::kinds::kCallAcquire) {
        // A lock called by a module above it (scheduler, queue, TCB pool):
        // its marker names that module, not the lock's own wrapper.
        CHECK(std::regex_match(at, std::regex("(kernel|sched)/[a-z_]*module\\.cc:[0-9]+")));
        ++lock_markers;
      } else if (impl == "module" && !e.marker() && e.kind == kernel::kinds::kIncTicket) {
        CHECK(at.rfind("kernel/ticket_lock.cc:", 0) == 0);
        ++module_steps;
      }
    }
    CHECK(sched_markers > 0);
    if (impl == "spec") {
      CHECK(spec_steps > 0);
    } else {
      CHECK(lock_markers > 0);
      CHECK(module_steps > 0);
    }
  }
}

TEST_CASE("the spec steps of locks, queues and the TCB pool record the module that called them") {
  // The scheduler module over every layer below as its spec: each spec's
  // one step names the module line that called the primitive.
  Ran r = RunWorkload("ping-pong", "module", 2, 1, 3, 2, "spec", "spec", "spec");
  REQUIRE(r.report.ok());
  const machine::Log& log = r.machine->log();
  std::map<std::string, int> steps;  // spec step kind -> how many
  for (std::size_t i = 0; i < log.size(); ++i) {
    const machine::Event& e = log[i];
    const bool spec_step =
        e.kind == kernel::kinds::kWaitLock || e.kind == kernel::kinds::kRelLock ||
        e.kind == kernel::kinds::kEnq || e.kind == kernel::kinds::kDeq ||
        e.kind == kernel::kinds::kAlloc || e.kind == kernel::kinds::kFree ||
        e.kind == kernel::kinds::kRead || e.kind == kernel::kinds::kWrite;
    if (!spec_step) continue;
    CAPTURE(log.RenderTextWhere(i));
    CHECK(std::regex_match(machine::FormatWhere(log.where(i)),
                           std::regex("(kernel|sched)/[a-z_]*module\\.cc:[0-9]+")));
    ++steps[std::string(e.kind.name())];
  }
  for (const char* kind : {"WAIT_LOCK", "REL_LOCK", "ENQ", "DEQ", "ALLOC", "READ"}) {
    CAPTURE(kind);
    CHECK(steps[kind] > 0);
  }
}

}  // namespace
}  // namespace strata::sched
