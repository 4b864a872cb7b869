#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <fmt/format.h>

#include "kernel/lock.h"
#include "kernel/ticket_lock.h"
#include "layers/explorer.h"
#include "machine/machine.h"

namespace strata::kernel {
namespace {

using layers::ExploreOptions;
using layers::ExploreResult;
using machine::CpuId;
using machine::Event;
using machine::MachineOptions;
using machine::ObjectId;

Event At(int cpu, ObjectId object, EventKind kind, std::int64_t arg0 = 0) {
  return Event{.cpu = CpuId(cpu), .object = object, .kind = kind, .arg0 = arg0};
}

// The options with the module their `impl` names among strata's locks.
LockPairOptions WithModule(LockPairOptions o) {
  LockRegistry locks("lock implementation");
  AddBuiltinLocks(locks);
  REQUIRE(locks.Find(o.impl) != nullptr);
  o.module = locks.Find(o.impl)->make;
  return o;
}

ExploreResult ExploreLock(const LockPairOptions& lock, int cpus, ExploreOptions explore,
                          std::uint64_t fairness = 0) {
  auto pair = MakeLockPair(WithModule(lock));
  return layers::Explore(*pair, MachineOptions{.cpus = cpus, .fairness = fairness}, explore);
}

TEST_CASE("the lock spec replay rejects a second holder, a foreign release and an overrun") {
  const ObjectId l(0), other(1);
  LockSpecReplay r{.lock = l};
  LockSpecState s = r.Init();
  CHECK(r.Step(s, At(0, l, kinds::kWaitLock, 2)));
  CHECK(s == LockSpecState{.holder = CpuId(0), .budget = 2});
  CHECK_FALSE(r.Step(s, At(1, l, kinds::kWaitLock, 1)));  // held by cpu 0

  s = LockSpecState{.holder = CpuId(0), .budget = 2};
  CHECK_FALSE(r.Step(s, At(1, l, kinds::kRelLock)));  // cpu 1 does not hold it

  s = LockSpecState{.holder = CpuId(0), .budget = 2};
  CHECK(r.Step(s, At(0, other, machine::kinds::kFaa)));
  CHECK(r.Step(s, At(1, other, machine::kinds::kFaa)));  // not the holder: free
  CHECK(r.Step(s, At(0, other, machine::kinds::kFaa)));
  CHECK(s.budget == 0);
  CHECK_FALSE(r.Step(s, At(0, other, machine::kinds::kFaa)));  // a third event: over budget

  s = LockSpecState{.holder = CpuId(0), .budget = 0};
  Event ghost = At(0, l, EventKind("GHOST"));
  ghost.op = machine::OpCode::kGhost;
  CHECK(r.Step(s, ghost));  // markers and ghosts are not shared events
  CHECK(r.Step(s, At(0, l, kinds::kRelLock)));
  CHECK(s == LockSpecState{});
}

TEST_CASE("every correct lock refines the lock spec under random, pct and dfs") {
  for (const char* impl : {"spec", "ticket", "mcs", "tas"}) {
    for (int cpus : {1, 2, 3}) {
      for (const char* strategy : {"random", "pct", "dfs"}) {
        CAPTURE(impl);
        CAPTURE(cpus);
        CAPTURE(strategy);
        ExploreResult r = ExploreLock({.impl = impl, .iterations = 2, .bound = 2}, cpus,
                                      {.strategy = layers::BuiltinStrategy(strategy), .seed = 7, .runs = 300,
                                       .pct_horizon = 60});
        CHECK_FALSE(r.failure.has_value());
        if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
        CHECK(r.executions > 0);
        CHECK(r.worst_wait <= r.wait_bound);
        if (std::string_view(strategy) == "dfs" && cpus <= 2) CHECK(r.exhausted);
      }
    }
  }
}

// The class of an execution up to the order of independent steps (its
// Mazurkiewicz trace): each shared step as its cpu and its index there, with
// the number of steps of every cpu that happen before it. Two steps depend
// on each other when they touch the same object and are not both loads.
std::string ClassOf(const layers::Execution& x) {
  const int cpus = x.machine->cpus();
  std::vector<std::vector<std::uint32_t>> clock_of_cpu(static_cast<std::size_t>(cpus),
                                                       std::vector<std::uint32_t>(cpus, 0));
  struct Seen {
    std::vector<std::uint32_t> clock;
    bool load;
  };
  std::vector<std::vector<Seen>> by_object;
  std::string out;
  for (const Event& e : x.machine->log().events()) {
    if (e.op >= machine::OpCode::kCall) continue;  // markers and ghosts are not steps
    const auto c = static_cast<std::size_t>(e.cpu.value());
    const bool load = e.op == machine::OpCode::kLoad;
    std::vector<std::uint32_t> clock = clock_of_cpu[c];
    if (e.object.index() >= by_object.size()) by_object.resize(e.object.index() + 1);
    for (const Seen& s : by_object[e.object.index()]) {
      if (load && s.load) continue;
      for (std::size_t i = 0; i < clock.size(); ++i) clock[i] = std::max(clock[i], s.clock[i]);
    }
    ++clock[c];
    by_object[e.object.index()].push_back({clock, load});
    clock_of_cpu[c] = clock;
    out += fmt::format("{}:{}", c, clock[c]);
    for (std::uint32_t v : clock) out += fmt::format(",{}", v);
    out += ';';
  }
  // Sorted: the same steps with the same predecessors, whatever the interleaving.
  std::vector<std::string> steps = absl::StrSplit(out, ';', absl::SkipEmpty());
  std::sort(steps.begin(), steps.end());
  return absl::StrJoin(steps, ";");
}

TEST_CASE("optimal DPOR runs every class of schedules exactly once, and no branch it prunes") {
  // Two acquisitions each: the test-and-set lock's spin (LoadWhenChanged)
  // is enabled by a release and blocked again by the next acquire, so it
  // could have run before that acquire (27 of its 46 classes were found
  // when only the release was raced with it).
  struct Case {
    int cpus, iterations;
  };
  for (const char* impl : {"ticket", "mcs", "tas"}) {
    for (const Case& k : {Case{2, 1}, Case{3, 1}, Case{2, 2}}) {
      const int cpus = k.cpus;
      CAPTURE(impl);
      CAPTURE(cpus);
      CAPTURE(k.iterations);
      std::map<std::string, int> all, dpor;
      // F large enough that the guard never overrules a choice.
      const std::uint64_t fairness = 1000;
      const LockPairOptions lock{.impl = impl, .iterations = k.iterations, .bound = 1};
      // Every schedule of 2 cpus' 1 acquisition; else (too many for that)
      // sleep sets, which run every class at least once.
      const bool every = cpus == 2 && k.iterations == 1;
      ExploreResult none = ExploreLock(lock, cpus,
                                       {.strategy = layers::BuiltinStrategy("dfs"),
                                        .runs = 10'000'000,
                                        .reduction = every ? layers::Reduction::kNone : layers::Reduction::kSleep,
                                        .each = [&](const layers::Execution& x) { ++all[ClassOf(x)]; }},
                                       fairness);
      ExploreResult optimal = ExploreLock(lock, cpus,
                                          {.strategy = layers::BuiltinStrategy("dfs"),
                                           .runs = 10'000'000,
                                           .each = [&](const layers::Execution& x) { ++dpor[ClassOf(x)]; }},
                                          fairness);
      REQUIRE(none.exhausted);
      REQUIRE(optimal.exhausted);
      CHECK_FALSE(optimal.failure.has_value());
      CHECK(optimal.skipped == 0);
      CHECK(optimal.executions == all.size());
      CHECK(dpor.size() == all.size());
      for (const auto& [key, n] : dpor) {
        CAPTURE(key);
        CHECK(n == 1);
        CHECK(all.count(key) == 1);
      }
      CHECK(optimal.guard_cuts == 0);
      if (every) CHECK(none.executions > all.size());  // the classes do reduce something
      if (!every) CHECK(none.skipped > 0);  // and sleep sets start branches they prune
      if (std::string(impl) == "tas" && k.iterations == 2) CHECK(all.size() == 46);
    }
  }
}

TEST_CASE("where the fairness guard cuts DPOR nothing, DPOR still runs every class of F-fair schedules") {
  // Every F-fair interleaving (no reduction: the guard's choices are what
  // makes a schedule F-fair) against DPOR under the same bound. A class
  // DPOR misses must come with a cut; with none, it misses nothing.
  bool exercised_cut = false, missed = false;
  for (const char* impl : {"ticket", "mcs", "tas"}) {
    for (int iterations : {1, 2}) {
      if (std::string(impl) == "mcs" && iterations == 2) continue;  // millions of interleavings
      for (std::uint64_t fairness : {4, 6, 8, 16}) {
        CAPTURE(impl);
        CAPTURE(iterations);
        CAPTURE(fairness);
        std::map<std::string, int> every, dpor;
        const LockPairOptions lock{.impl = impl, .iterations = iterations, .bound = 1};
        ExploreResult none = ExploreLock(lock, 2,
                                         {.strategy = layers::BuiltinStrategy("dfs"),
                                          .runs = 10'000'000,
                                          .reduction = layers::Reduction::kNone,
                                          .each = [&](const layers::Execution& x) { ++every[ClassOf(x)]; }},
                                         fairness);
        ExploreResult optimal = ExploreLock(lock, 2,
                                            {.strategy = layers::BuiltinStrategy("dfs"),
                                             .runs = 10'000'000,
                                             .each = [&](const layers::Execution& x) { ++dpor[ClassOf(x)]; }},
                                            fairness);
        // A bound this tight may starve the lock's waits: such a space ends
        // at its failure, and there is nothing to compare.
        if (none.failure || optimal.failure) continue;
        REQUIRE(none.exhausted);
        REQUIRE(optimal.exhausted);
        CHECK(none.guard_cuts == 0);
        for (const auto& [key, n] : dpor) CHECK(every.count(key) == 1);
        if (optimal.guard_cuts == 0) CHECK(dpor.size() == every.size());
        exercised_cut = exercised_cut || optimal.guard_cuts > 0;
        missed = missed || dpor.size() < every.size();
      }
    }
  }
  // The bounds are tight enough for the guard to cut, and a cut can miss.
  CHECK(exercised_cut);
  CHECK(missed);
}

// Runs a strategy's executions until Advance says none is left, or until
// it reaches a part it gave away (Joining); appends their schedules.
bool RunUntilJoin(const layers::LayerPair& pair, int cpus, layers::Strategy& s,
                  std::vector<std::vector<CpuId>>* schedules, int at_most = 1 << 30) {
  for (int n = 0; n < at_most; ++n) {
    const layers::Execution x = layers::CheckExecution(pair, {.cpus = cpus}, s.Next(0));
    s.Finished(x.machine->schedule().size());
    schedules->emplace_back(x.machine->schedule().begin(), x.machine->schedule().end());
    if (!s.Advance()) return false;
    if (s.Joining()) return true;
  }
  return true;
}

TEST_CASE("a dfs part split off after any execution explores what the whole tree would, and is taken back") {
  for (const char* impl : {"ticket", "mcs", "tas"}) {
    for (const bool symmetric : {false, true}) {
    for (const layers::Reduction reduction : {layers::Reduction::kDpor, layers::Reduction::kSleep}) {
      CAPTURE(impl);
      CAPTURE(symmetric);
      CAPTURE(layers::ReductionName(reduction));
      const int cpus = 3;
      auto pair = MakeLockPair(WithModule({.impl = impl, .iterations = 1, .bound = 1, .symmetric = symmetric}));
      const layers::StrategyOptions o{.cpus = cpus, .reduction = reduction, .symmetric = symmetric};
      std::vector<std::vector<CpuId>> whole;
      const std::unique_ptr<layers::Strategy> one = layers::MakeDfsStrategy(o);
      REQUIRE_FALSE(RunUntilJoin(*pair, cpus, *one, &whole));
      const std::uint64_t skipped = one->skipped();
      int split = 0, fits = 0, refused = 0, abandoned = 0;
      // Split after execution k, run the part to its end (it may not give
      // away more), run the owner to it, take it back or not.
      for (std::size_t k = 1; k < whole.size() && k <= 60; ++k) {
        CAPTURE(k);
        std::vector<std::vector<CpuId>> mine;
        const std::unique_ptr<layers::Strategy> owner = layers::MakeDfsStrategy(o);
        REQUIRE(RunUntilJoin(*pair, cpus, *owner, &mine, static_cast<int>(k)));
        std::uint64_t first = 7;
        const std::unique_ptr<layers::Strategy> part = owner->Split(5, &first);
        if (part == nullptr) continue;
        ++split;
        CHECK(first == 0);
        std::vector<std::vector<CpuId>> theirs;
        CHECK_FALSE(RunUntilJoin(*pair, cpus, *part, &theirs));
        bool more = true;
        bool gone = false;
        while (more) {
          // A part whose branch grew is abandoned at once, and never joined.
          for (std::uint64_t id : owner->Abandoned()) {
            CHECK(id == 5);
            gone = true;
            ++abandoned;
          }
          if (!owner->Joining()) {
            more = RunUntilJoin(*pair, cpus, *owner, &mine);
            continue;
          }
          CHECK_FALSE(gone);
          REQUIRE(*owner->Joining() == 5);
          if (owner->Fits(*part)) {
            ++fits;
            mine.insert(mine.end(), theirs.begin(), theirs.end());
            more = owner->Join(*part);
          } else {
            ++refused;
            owner->Reclaim();
            more = RunUntilJoin(*pair, cpus, *owner, &mine);
          }
        }
        for (std::uint64_t id : owner->Abandoned()) {
          CHECK(id == 5);
          ++abandoned;
        }
        CHECK(mine == whole);
        CHECK(owner->skipped() == skipped);
      }
      MESSAGE(std::string(impl) << std::string(symmetric ? " (symmetric)" : "") << ", "
                                << layers::ReductionName(reduction) << ": " << whole.size() << " executions, "
                                << split << " splits, " << fits << " parts taken back, " << abandoned
                                << " abandoned, " << refused << " refused");
      // (Ticket with symmetry has one execution: nothing to split.)
      if (whole.size() > 2) {
        CHECK(split > 0);
        CHECK(fits > 0);
      }
      // A branch that grows abandons its part first, so none is refused
      // when it is reached; nothing is inserted above a sleep-set part.
      CHECK(refused == 0);
      if (reduction == layers::Reduction::kSleep) CHECK(abandoned == 0);
      // (MCS with symmetry runs 11 executions here, too few to grow one.)
      if (std::string_view(impl) == "mcs" && reduction == layers::Reduction::kDpor && !symmetric) {
        CHECK(abandoned > 0);
      }
    }
    }
  }
}

// ClassOf up to a renaming of the cpus: the least key over every renaming.
std::string OrbitOf(const layers::Execution& x) {
  std::vector<int> rename(static_cast<std::size_t>(x.machine->cpus()));
  for (std::size_t i = 0; i < rename.size(); ++i) rename[i] = static_cast<int>(i);
  std::string best;
  do {
    std::vector<std::string> steps = absl::StrSplit(ClassOf(x), ';', absl::SkipEmpty());
    for (std::string& step : steps) {
      // "cpu:index,clock...": the cpu renamed, the clock's entries moved with it.
      std::vector<std::string> parts = absl::StrSplit(step, absl::ByAnyChar(":,"));
      std::vector<std::string> clock(rename.size());
      for (std::size_t c = 0; c < rename.size(); ++c) clock[static_cast<std::size_t>(rename[c])] = parts[2 + c];
      step = fmt::format("{}:{},{}", rename[static_cast<std::size_t>(std::stoi(parts[0]))], parts[1],
                         absl::StrJoin(clock, ","));
    }
    std::sort(steps.begin(), steps.end());
    std::string key = absl::StrJoin(steps, ";");
    if (best.empty() || key < best) best = key;
  } while (std::next_permutation(rename.begin(), rename.end()));
  return best;
}

TEST_CASE("a dfs stopped at its cap reports what one thread would have skipped, on 2 and 3 threads") {
  // Sleep sets prune many branches between executions: the count where a
  // cap cuts into a part another thread made must be the one-thread count.
  const LockPairOptions ticket{.impl = "ticket", .iterations = 2, .bound = 2};
  for (std::uint64_t runs = 3; runs <= 90; runs += 7) {
    CAPTURE(runs);
    std::optional<ExploreResult> one;
    for (int jobs : {1, 2, 3}) {
      CAPTURE(jobs);
      ExploreResult r = ExploreLock(ticket, 3, {.strategy = layers::BuiltinStrategy("dfs"), .runs = runs,
                                                .reduction = layers::Reduction::kSleep, .jobs = jobs});
      if (!one) {
        one = std::move(r);
        continue;
      }
      CHECK(r.executions == one->executions);
      CHECK(r.logs_hash == one->logs_hash);
      CHECK(r.skipped == one->skipped);
    }
  }
}

TEST_CASE("a dfs whose executions are only counted gives the same counts, hash and worst wait on 1, 2 and 3 threads") {
  // Without `each` the parts the helpers make keep their executions as
  // blocks of counts; the root's worst wait must come out of them as from
  // the executions one by one, and the cap may cut a block anywhere.
  const LockPairOptions mcs{.impl = "mcs", .iterations = 2, .bound = 2};
  for (const std::uint64_t runs : {std::uint64_t{100'000}, std::uint64_t{4097}, std::uint64_t{9001}}) {
    CAPTURE(runs);
    std::optional<ExploreResult> one;
    for (int jobs : {1, 2, 3}) {
      CAPTURE(jobs);
      ExploreResult r = ExploreLock(mcs, 3, {.strategy = layers::BuiltinStrategy("dfs"), .runs = runs, .jobs = jobs});
      CHECK_FALSE(r.failure.has_value());
      if (!one) {
        CHECK(r.executions == std::min<std::uint64_t>(runs, 17'703));
        CHECK(r.worst_wait > 0);
        one = std::move(r);
        continue;
      }
      CHECK(r.executions == one->executions);
      CHECK(r.exhausted == one->exhausted);
      CHECK(r.skipped == one->skipped);
      CHECK(r.events == one->events);
      CHECK(r.logs_hash == one->logs_hash);
      CHECK(r.worst_wait == one->worst_wait);
      CHECK(r.wait_bound == one->wait_bound);
    }
  }
}

TEST_CASE("a FIFO lock's wait bound holds under the smallest fairness bounds") {
  // The guard lets F steps of the others run before each step of a
  // runnable cpu: a step waited for costs F + 1 machine steps. Counted as F,
  // the correct ticket lock starved at F = 3 on 2 cpus (7 steps, bound 6)
  // where the most-general client's other cpu stepped outside the lock.
  for (const std::string impl : {"ticket", "mcs"}) {
    CAPTURE(impl);
    const LockPairOptions lock{.impl = impl, .iterations = 2, .bound = 2, .general = true};
    for (const auto& [cpus, fairness] : {std::pair{2, 2}, std::pair{2, 3}, std::pair{3, 3}, std::pair{3, 4},
                                         std::pair{3, 5}}) {
      CAPTURE(cpus);
      CAPTURE(fairness);
      const auto f = static_cast<std::uint64_t>(fairness);
      ExploreResult random = ExploreLock(lock, cpus, {.strategy = layers::BuiltinStrategy("random"), .seed = 1,
                                                      .runs = 3000}, f);
      CHECK_FALSE(random.failure.has_value());
      CHECK(random.worst_wait <= random.wait_bound);
      if (cpus == 2 && impl == "ticket") {
        ExploreResult every = ExploreLock(lock, cpus, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 100'000,
                                                       .reduction = layers::Reduction::kNone}, f);
        CHECK_FALSE(every.failure.has_value());
        CHECK(every.exhausted);
        // Some acquire waits the most the guard allows: F of the others'
        // steps before each of its own two, with nobody ahead.
        CHECK(every.worst_wait >= 2 * f + 2);
      }
    }
  }
}

TEST_CASE("a capped dfs on 2 threads makes few executions past its cap") {
  // Every execution of a part comes after what the root has taken and
  // after what each part it was split off has made: a part split off a
  // part stops there too. When parts of parts ran on to the cap counting
  // only the root's, 2 threads made all 10,395 executions of the space
  // here.
  const LockPairOptions ticket{.impl = "ticket", .iterations = 2, .bound = 2, .symmetric = true};
  constexpr std::uint64_t kRuns = 4000;
  // On 2 threads the parts that run at once are split off one another
  // (parts split off the same owner do not count each other).
  ExploreResult r = ExploreLock(ticket, 6, {.strategy = layers::BuiltinStrategy("dfs"), .runs = kRuns, .jobs = 2});
  CHECK_FALSE(r.failure.has_value());
  CHECK(r.executions == kRuns);
  CHECK_FALSE(r.exhausted);
  CHECK(r.made >= kRuns);
  CHECK(r.made < 2 * kRuns);
}

TEST_CASE("with interchangeable cpus dfs runs one schedule per renaming of them, and finds the same bugs") {
  LockRegistry locks("lock implementation");
  AddBuiltinLocks(locks);
  struct Case {
    const char* impl;
    int cpus;
    std::int64_t iterations;
  };
  // MCS twice on 3 cpus too: its second acquisitions reuse the nodes.
  for (const Case& c : {Case{"ticket", 2, 1}, Case{"ticket", 3, 1}, Case{"mcs", 2, 1}, Case{"mcs", 3, 1},
                        Case{"mcs", 3, 2}, Case{"tas", 2, 1}, Case{"tas", 3, 1}}) {
    {
      const char* impl = c.impl;
      const int cpus = c.cpus;
      CAPTURE(impl);
      CAPTURE(cpus);
      CAPTURE(c.iterations);
      REQUIRE(locks.Find(impl)->symmetric);
      std::map<std::string, int> without, with;
      LockPairOptions lock{.impl = impl, .iterations = c.iterations, .bound = 1};
      ExploreResult plain = ExploreLock(lock, cpus,
                                        {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000,
                                         .each = [&](const layers::Execution& x) { ++without[OrbitOf(x)]; }},
                                        1000);
      lock.symmetric = true;
      ExploreResult reduced = ExploreLock(lock, cpus,
                                          {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000,
                                           .each = [&](const layers::Execution& x) { ++with[OrbitOf(x)]; }},
                                          1000);
      REQUIRE(plain.exhausted);
      REQUIRE(reduced.exhausted);
      CHECK_FALSE(plain.symmetric);
      CHECK(reduced.symmetric);
      CHECK(reduced.skipped == 0);
      // Every orbit, exactly once. A cpu starts with its first step on the
      // lock's shared words: MCS cpus first set up their own nodes, steps
      // that do not start them, so their order at the tail is the order of
      // starts, as the ticket and TAS cpus' order at the lock is.
      CHECK(with.size() == without.size());
      for (const auto& [key, n] : with) {
        CAPTURE(key);
        CHECK(without.count(key) == 1);
        CHECK(n == 1);
      }
      CHECK(reduced.executions == without.size());
      CHECK(reduced.executions < plain.executions);
      // Turned off, the pair's symmetry is not used.
      ExploreResult off = ExploreLock(lock, cpus, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000,
                                                   .symmetry = false},
                                      1000);
      CHECK_FALSE(off.symmetric);
      CHECK(off.executions == plain.executions);
    }
  }
  // The known-bad locks dfs catches, caught with and without symmetry, with
  // the same verdict.
  for (const auto& entry : locks.entries()) {
    if (!entry.known_bad || entry.expect == "nondeterminism") continue;
    for (int cpus : {2, 3}) {
      CAPTURE(entry.name);
      CAPTURE(cpus);
      LockPairOptions lock{.impl = entry.name, .iterations = 2, .bound = 2};
      ExploreResult plain = ExploreLock(lock, cpus, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000});
      lock.symmetric = true;
      ExploreResult reduced = ExploreLock(lock, cpus, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000});
      CHECK(reduced.symmetric);
      REQUIRE(plain.failure.has_value());
      REQUIRE(reduced.failure.has_value());
      CHECK(plain.failure->verdict.name() == entry.expect);
      CHECK(reduced.failure->verdict.name() == entry.expect);
    }
  }
}

TEST_CASE("symmetry keeps the waits: every F-fair schedule and one per renaming see the same worst wait") {
  // A renaming of the cpus renames their waits and bounds with them, so the
  // longest wait over every schedule is the longest over one schedule per
  // renaming, and a starvation is found either way. A lock whose line
  // began at the call (the test-and-set lock's did) breaks this: the cpus
  // make their first calls in the order of their ids whatever the
  // schedule, so at F = 3 on 2 cpus every schedule starved and the
  // renamed ones did not.
  struct Case {
    std::string impl;
    int cpus;
    std::uint64_t f;
    std::int64_t iterations = 2;  // MCS once: twice is 240,000 schedules on 2 cpus
  };
  int starved = 0;
  for (const Case& c : {Case{"ticket", 2, 2}, Case{"ticket", 2, 4}, Case{"ticket", 3, 3}, Case{"mcs", 2, 2, 1},
                        Case{"mcs", 2, 3, 1}, Case{"mcs", 3, 3, 1}, Case{"tas", 2, 2}, Case{"tas", 2, 3},
                        Case{"tas", 2, 4}, Case{"tas", 2, 8}, Case{"tas", 3, 3}}) {
    CAPTURE(c.impl);
    CAPTURE(c.cpus);
    CAPTURE(c.f);
    LockPairOptions lock{.impl = c.impl, .iterations = c.iterations, .bound = 2};
    const ExploreOptions every{.strategy = layers::BuiltinStrategy("dfs"), .runs = 10'000'000,
                               .reduction = layers::Reduction::kNone};
    ExploreResult plain = ExploreLock(lock, c.cpus, every, c.f);
    lock.symmetric = true;
    ExploreResult renamed = ExploreLock(lock, c.cpus, every, c.f);
    CHECK(renamed.symmetric);
    REQUIRE(plain.failure.has_value() == renamed.failure.has_value());
    if (plain.failure) {
      CHECK(plain.failure->verdict.name() == "starvation");
      CHECK(renamed.failure->verdict.name() == "starvation");
      ++starved;
      continue;
    }
    REQUIRE(plain.exhausted);
    REQUIRE(renamed.exhausted);
    CHECK(renamed.executions < plain.executions);
    CHECK(renamed.worst_wait == plain.worst_wait);
    CHECK(renamed.wait_bound == plain.wait_bound);
  }
  CHECK(starved == 1);  // the test-and-set lock on 3 cpus at F = 3
}

TEST_CASE("dfs explores exactly the ticket orders of 2 cpus x 2 acquisitions") {
  // Everything but the order of INC_TICKETs is serialised by the lock (and
  // the counter's fetch-and-adds are ordered by it), so dfs runs the C(4,2)
  // = 6 ticket orders, under sleep sets and under optimal DPOR.
  ExploreResult with = ExploreLock({.impl = "ticket", .iterations = 2, .bound = 2}, 2,
                                   {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000});
  CHECK(with.exhausted);
  CHECK(with.executions == 6);
  CHECK(with.skipped == 0);  // optimal DPOR: no branch started and then pruned
  ExploreResult sleep = ExploreLock({.impl = "ticket", .iterations = 2, .bound = 2}, 2,
                                    {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                     .reduction = layers::Reduction::kSleep});
  CHECK(sleep.exhausted);
  CHECK(sleep.executions == 6);
  CHECK(sleep.skipped > 0);
  ExploreResult without = ExploreLock({.impl = "ticket", .iterations = 2, .bound = 2}, 2,
                                      {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                       .reduction = layers::Reduction::kNone});
  CHECK(without.exhausted);
  CHECK(without.executions > with.executions);
  CHECK(without.skipped == 0);
  ExploreResult bounded = ExploreLock({.impl = "ticket", .iterations = 2, .bound = 2}, 2,
                                      {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                       .preemption_bound = 0, .reduction = layers::Reduction::kNone});
  CHECK(bounded.exhausted);
  CHECK(bounded.executions < without.executions);
}

struct Bad {
  const char* impl;
  std::int64_t overrun;
  int cpus;
  const char* strategy;
  const char* verdict;
  const char* message_part;
};

TEST_CASE("every known-bad lock is caught with its exact verdict, shrunk, and replays") {
  const Bad corpus[] = {
      {"ticket-load-store", 0, 3, "random", "impossible-lower-log", "the module's replay rejects"},
      {"ticket-load-store", 0, 2, "dfs", "impossible-lower-log", "the module's replay rejects"},
      {"ticket-no-bump", 0, 2, "dfs", "refinement-violation",
       "returned without its linearization point"},
      {"ticket-double-bump", 0, 2, "dfs", "refinement-violation",
       "has a second linearization point"},
      {"ticket-leaky", 0, 2, "random", "nondeterminism", "the same schedule gave"},
      {"mcs-no-wait-next", 0, 2, "dfs", "refinement-violation",
       "returned without its linearization point"},
      {"mcs-keep-busy", 0, 2, "random", "refinement-violation",
       "returned without its linearization point"},
      {"ticket", 1, 2, "random", "impossible-upper-log", "the spec does not allow"},
      {"mcs", 1, 2, "dfs", "impossible-upper-log", "the spec does not allow"},
  };
  for (const Bad& b : corpus) {
    CAPTURE(b.impl);
    CAPTURE(b.overrun);
    const LockPairOptions options{.impl = b.impl, .iterations = 2, .bound = 2, .overrun = b.overrun};
    ExploreResult r = ExploreLock(options, b.cpus, {.strategy = layers::BuiltinStrategy(b.strategy), .runs = 2000});
    REQUIRE(r.failure.has_value());
    const layers::Verdict& v = r.failure->verdict;
    CHECK(v.name() == b.verdict);
    CHECK(v.message.find(b.message_part) != std::string::npos);
    const std::vector<CpuId> to_failure = layers::ToFailure(*r.failure);
    CHECK(to_failure.size() <= r.failure_original_steps);
    if (v.kind == machine::Outcome::kNondeterminism) continue;
    // The written schedule replays to the same verdict and log.
    auto pair = MakeLockPair(WithModule(options));
    std::vector<CpuId> schedule(r.failure->machine->schedule().begin(),
                                r.failure->machine->schedule().end());
    layers::Execution again =
        layers::ReplaySchedule(*pair, MachineOptions{.cpus = b.cpus}, schedule, "test");
    REQUIRE(again.input.ok());
    CHECK(again.verdict.name() == b.verdict);
    CHECK(again.machine->log().hash() == r.failure->machine->log().hash());
  }
}

TEST_CASE("a test-and-set lock starves a waiter past the FIFO liveness bound") {
  ExploreResult r = ExploreLock({.impl = "tas", .iterations = 8, .bound = 2}, 2,
                                {.strategy = layers::BuiltinStrategy("random"), .runs = 2000}, /*fairness=*/2);
  REQUIRE(r.failure.has_value());
  CHECK(r.failure->verdict.name() == "starvation");
  INFO(r.failure->verdict.message);
  CHECK(r.failure->verdict.message.find("took 35 steps, more than its bound of 21") != std::string::npos);
  // The ticket lock under the same conditions keeps its bound.
  ExploreResult ticket = ExploreLock({.impl = "ticket", .iterations = 8, .bound = 2}, 2,
                                     {.strategy = layers::BuiltinStrategy("random"), .runs = 2000}, 2);
  CHECK_FALSE(ticket.failure.has_value());
  CHECK(ticket.worst_wait <= ticket.wait_bound);
}

TEST_CASE("a shrunk failure needs no more steps than the one found") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    ExploreResult r = ExploreLock({.impl = "ticket-load-store", .iterations = 3, .bound = 2}, 3,
                                  {.strategy = layers::BuiltinStrategy("random"), .seed = seed, .runs = 2000});
    REQUIRE(r.failure.has_value());
    CHECK(layers::ToFailure(*r.failure).size() <= r.failure_original_steps);
    CHECK(r.shrink_attempts > 0);
    ExploreResult unshrunk =
        ExploreLock({.impl = "ticket-load-store", .iterations = 3, .bound = 2}, 3,
                    {.strategy = layers::BuiltinStrategy("random"), .seed = seed, .runs = 2000, .shrink = false});
    REQUIRE(unshrunk.failure.has_value());
    CHECK(layers::ToFailure(*unshrunk.failure).size() == r.failure_original_steps);
  }
}

}  // namespace
}  // namespace strata::kernel

namespace strata::kernel {
namespace {

// A correct ticket lock that takes its ticket with a load and a
// compare-and-swap, retrying when another CPU took it first.
class TicketCas final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  std::int64_t TakeTicket(Cpu& cpu, std::int64_t) override {
    for (;;) {
      const std::int64_t seen = cpu.Load(ticket_);
      if (cpu.CompareSwap(ticket_, seen, seen + 1) == seen) return seen;
    }
  }
};

// A known-bad ticket lock whose doorway moves the ticket word by two: every
// other ticket is never given, and its replay rejects the first take.
class TicketByTwo final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  std::int64_t TakeTicket(Cpu& cpu, std::int64_t note) override {
    return cpu.FetchAdd(ticket_, 2, kinds::kIncTicket, note);
  }
};

// A lock built from another lock: its acquire takes an inner ticket lock
// (a call of the same layer on another object, nested in its own) and its
// linearization point is a ghost right after it.
class Wrapped final : public Lock {
 public:
  Wrapped(Machine& m, const std::string& name)
      : Lock(m.NewObject(name)), inner_(std::make_unique<TicketLock>(m, name + ".inner")) {}
  std::unique_ptr<LockView> NewView(Machine& m) const override {
    return std::make_unique<View>(object(), m);
  }

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    inner_->Acquire(cpu, bound + 2);
    cpu.Annotate(object(), EventKind("TAKEN"), 0, 0, 0);
    cpu.Linearize();
  }
  void DoRelease(Cpu& cpu) override {
    inner_->Release(cpu);
    cpu.Annotate(object(), EventKind("GIVEN"), 0, 0, 0);
    cpu.Linearize();
  }

 private:
  class View final : public LockView {
   public:
    View(ObjectId lock, const Machine& m) : lock_(lock), line_({.enter = 2, .leave = 2}, m) {}
    bool Observe(const Event& e) override {
      if (e.object != lock_) return true;
      if (e.op == OpCode::kCall && e.kind == kinds::kCallAcquire) line_.Arrive(e.cpu, e.arg0);
      if (e.kind == EventKind("TAKEN")) line_.Take(e.cpu);
      if (e.kind == EventKind("GIVEN")) line_.Free(e.cpu);
      return true;
    }
    std::optional<std::string> Relation(const LockSpecState& spec) const override {
      return line_.Relation(spec);
    }
    std::string Describe() const override { return line_.Describe(); }
    std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
      return std::nullopt;
    }

   private:
    ObjectId lock_;
    LockLine line_;
  };
  std::unique_ptr<Lock> inner_;
};

template <class L>
ExploreResult ExploreModule(int cpus, const char* strategy) {
  auto pair = MakeLockPair({.impl = "test",
                            .module = [](Machine& m, const std::string& name) -> std::unique_ptr<Lock> {
                              return std::make_unique<L>(m, name);
                            },
                            .iterations = 2,
                            .bound = 2});
  return layers::Explore(*pair, MachineOptions{.cpus = cpus},
                         {.strategy = layers::BuiltinStrategy(strategy), .seed = 3, .runs = 2000,
                          .pct_horizon = 60});
}

TEST_CASE("a ticket lock that takes its ticket by compare-and-swap refines the lock spec") {
  for (const char* strategy : {"random", "pct", "dfs"}) {
    CAPTURE(strategy);
    ExploreResult r = ExploreModule<TicketCas>(3, strategy);
    if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
    CHECK(r.executions > 0);
    CHECK(r.wait_bound > 0);  // its doorway is the successful compare-and-swap
  }
}

TEST_CASE("a ticket doorway that skips a ticket is rejected by the ticket lock's own replay") {
  for (const char* strategy : {"random", "pct", "dfs"}) {
    CAPTURE(strategy);
    ExploreResult r = ExploreModule<TicketByTwo>(2, strategy);
    REQUIRE(r.failure.has_value());
    CHECK(r.failure->verdict.name() == "impossible-lower-log");
    CHECK(r.failure->verdict.lower_state.find(
              "takes ticket 0 and leaves next_ticket at 2, but the next ticket to give was 0") !=
          std::string::npos);
  }
}

TEST_CASE("a lock built from another lock refines: the inner lock's calls nest in its own") {
  for (const char* strategy : {"random", "pct", "dfs"}) {
    CAPTURE(strategy);
    ExploreResult r = ExploreModule<Wrapped>(2, strategy);
    if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
    CHECK(r.executions > 0);
  }
}

}  // namespace
}  // namespace strata::kernel
