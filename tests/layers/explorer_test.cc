// The explorer (layers/explorer.h) on the toy counter pair of toy_layers.h:
// every strategy finds the lost update and shrinks it to a schedule that
// replays; dfs covers the whole space of the correct module, fewer
// executions with sleep sets or a preemption bound; runs are deterministic.
#include "layers/explorer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/machine.h"
#include "machine/oracle.h"
#include "machine/rng.h"
#include "machine/schedule.h"
#include "machine/shrink.h"
#include "tests/layers/toy_layers.h"

namespace strata::layers::toy {
namespace {

using machine::MachineOptions;
using machine::OracleKind;

constexpr const char* kStrategies[] = {"random", "pct", "dfs"};

ExploreResult ExploreCounter(const CounterOptions& counter, int cpus, ExploreOptions explore) {
  const CounterPair pair(counter);
  return Explore(pair, MachineOptions{.cpus = cpus}, explore);
}

std::vector<CpuId> Ids(std::initializer_list<int> cpus) {
  std::vector<CpuId> out;
  for (int c : cpus) out.push_back(CpuId(c));
  return out;
}

TEST_CASE("random, pct and dfs find the lost update, shrink it, and the shrunk schedule replays") {
  const CounterOptions lost{.module = Module::kLoadStore, .iterations = 2};
  const CounterPair pair(lost);
  for (const char* strategy : kStrategies) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      CAPTURE(strategy);
      CAPTURE(seed);
      const ExploreResult r = ExploreCounter(
          lost, 2, {.strategy = layers::BuiltinStrategy(strategy), .seed = seed, .runs = 2000, .pct_horizon = 12});
      REQUIRE(r.failure.has_value());
      const Execution& f = *r.failure;
      INFO(Show(f));
      REQUIRE(f.input.ok());
      CHECK(f.verdict.kind == machine::Outcome::kRelationBroken);
      CHECK(f.verdict.event.has_value());
      CHECK(r.executions >= 1);
      CHECK(r.executions <= 2000);
      CHECK_FALSE(r.exhausted);
      // Shrunk: no longer than what was found, and still a lost update,
      // which takes two loads and two stores and two switches at least.
      const std::vector<CpuId> shrunk = ToFailure(f);
      CAPTURE(machine::EncodeChoices(shrunk));
      CHECK(r.failure_original_steps > 0);
      CHECK(shrunk.size() <= r.failure_original_steps);
      CHECK(shrunk.size() >= 4);
      CHECK(machine::Switches(shrunk) >= 2);
      CHECK(shrunk.size() <= f.machine->schedule().size());
      // The failing run's schedule replays to the same verdict and log.
      const Execution again = ReplaySchedule(pair, {.cpus = 2}, ScheduleOf(f), "test");
      INFO(Show(again));
      REQUIRE(again.input.ok());
      CHECK(again.verdict.SameKind(f.verdict));
      CHECK(again.verdict.event == f.verdict.event);
      CHECK(again.verdict.message == f.verdict.message);
      CHECK(again.machine->log().hash() == f.machine->log().hash());
      CHECK(ToFailure(again) == shrunk);
    }
  }
}

TEST_CASE("shrinking never makes the failure longer than the unshrunk one") {
  const CounterOptions lost{.module = Module::kLoadStore, .iterations = 3};
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    const ExploreResult unshrunk =
        ExploreCounter(lost, 3, {.strategy = layers::BuiltinStrategy("random"), .seed = seed, .runs = 2000,
                                 .shrink = false});
    REQUIRE(unshrunk.failure.has_value());
    CHECK(unshrunk.shrink_attempts == 0);
    CHECK(ToFailure(*unshrunk.failure).size() == unshrunk.failure_original_steps);
    const ExploreResult shrunk =
        ExploreCounter(lost, 3, {.strategy = layers::BuiltinStrategy("random"), .seed = seed, .runs = 2000});
    REQUIRE(shrunk.failure.has_value());
    CHECK(shrunk.shrink_attempts > 0);
    // The same seed finds the same failure before shrinking.
    CHECK(shrunk.failure_original_steps == unshrunk.failure_original_steps);
    CHECK(shrunk.executions == unshrunk.executions);
    const std::vector<CpuId> a = ToFailure(*shrunk.failure), b = ToFailure(*unshrunk.failure);
    CHECK(a.size() <= b.size());
    if (a.size() == b.size()) CHECK(machine::Switches(a) <= machine::Switches(b));
    CHECK(shrunk.failure->verdict.SameKind(unshrunk.failure->verdict));
  }
}

TEST_CASE("dfs exhausts the correct counter on 2 cpus: 70 schedules, 6 classes, each run once by dpor") {
  // 2 cpus x 2 incs: each cpu takes 4 steps (fetch-and-add, store of out[cpu])
  // so plain dfs runs all C(8,4) = 70 interleavings. Only the order of the
  // four fetch-and-adds matters (the stores are to private words): C(4,2) = 6
  // classes. Sleep sets visit each once but start branches they then prune;
  // optimal DPOR starts none.
  const CounterOptions faa{.module = Module::kFaa, .iterations = 2};
  const ExploreResult dpor =
      ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000});
  const ExploreResult sleep =
      ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                              .reduction = layers::Reduction::kSleep});
  const ExploreResult without =
      ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000, .reduction = layers::Reduction::kNone});
  for (const ExploreResult* r : {&dpor, &sleep, &without}) {
    CHECK(r->exhausted);
    CHECK_FALSE(r->failure.has_value());
    if (r->failure) FAIL_CHECK(Show(*r->failure));
    CHECK(r->worst_wait <= r->wait_bound);
    CHECK(r->wait_bound > 0);
  }
  CHECK(without.executions == 70);
  CHECK(without.skipped == 0);
  CHECK(sleep.executions == 6);
  CHECK(sleep.skipped > 0);
  CHECK(sleep.events < without.events);
  CHECK(dpor.executions == 6);
  CHECK(dpor.skipped == 0);
  CHECK(dpor.events == sleep.events);
  // A cap below the space size stops dfs before it is exhausted.
  const ExploreResult capped =
      ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 10, .reduction = layers::Reduction::kNone});
  CHECK(capped.executions == 10);
  CHECK_FALSE(capped.exhausted);
}

TEST_CASE("dfs's estimate of the space covered grows from 0 towards 1 as it explores") {
  // The 70 interleavings of two cpus' 4 steps each: symmetric in the two
  // cpus, so the estimate is exactly one half once cpu 0's first step is done.
  const CounterPair pair({.module = Module::kFaa, .iterations = 2});
  std::unique_ptr<Strategy> dfs = MakeDfsStrategy({.cpus = 2, .reduction = layers::Reduction::kNone});
  std::vector<double> covered;
  for (std::uint64_t i = 0;; ++i) {
    machine::Oracle& oracle = dfs->Next(i);
    const Execution x = CheckExecution(pair, dfs->MachineFor({.cpus = 2}), oracle);
    REQUIRE(x.verdict.ok());
    if (!dfs->Advance()) break;
    REQUIRE(dfs->covered().has_value());
    covered.push_back(*dfs->covered());
  }
  REQUIRE(covered.size() == 69);
  CHECK(covered.front() > 0);
  for (std::size_t i = 1; i < covered.size(); ++i) {
    CAPTURE(i);
    CHECK(covered[i] >= covered[i - 1]);
    CHECK(covered[i] < 1);
  }
  CHECK(covered[34] == doctest::Approx(0.5));
  CHECK(covered.back() > 0.9);
  CHECK_FALSE(MakeRandomStrategy({.cpus = 2})->covered().has_value());
}

TEST_CASE("an exploration whose stop flag is set ends as interrupted, with what it ran") {
  const volatile std::sig_atomic_t stop = 1;
  const ExploreResult r = ExploreCounter({.module = Module::kFaa, .iterations = 2}, 2,
                                         {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1000,
                                          .stop = &stop});
  CHECK(r.interrupted);
  CHECK(r.executions == 0);
  CHECK_FALSE(r.exhausted);
  CHECK_FALSE(r.failure.has_value());
  const ExploreResult whole = ExploreCounter({.module = Module::kFaa, .iterations = 2}, 2,
                                             {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1000});
  CHECK_FALSE(whole.interrupted);
  CHECK(whole.exhausted);
}

TEST_CASE("a preemption bound of 0 explores fewer executions than unbounded dfs") {
  const CounterOptions faa{.module = Module::kFaa, .iterations = 2};
  for (layers::Reduction reduction : {layers::Reduction::kNone, layers::Reduction::kSleep}) {
    const std::string_view name = layers::ReductionName(reduction);
    CAPTURE(name);
    const ExploreResult unbounded = ExploreCounter(
        faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000, .reduction = reduction});
    const ExploreResult bounded =
        ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                .preemption_bound = 0, .reduction = reduction});
    const ExploreResult one =
        ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                .preemption_bound = 1, .reduction = reduction});
    for (const ExploreResult* r : {&unbounded, &bounded, &one}) {
      CHECK(r->exhausted);
      CHECK_FALSE(r->failure.has_value());
    }
    CHECK(bounded.executions < one.executions);
    CHECK(one.executions <= unbounded.executions);
    CHECK(bounded.executions < unbounded.executions);
    // No preemption: one cpu runs to its end, then the other: 2 schedules.
    if (reduction == layers::Reduction::kNone) CHECK(bounded.executions == 2);
  }
  // The bound hides the lost update (it needs a preemption between a load
  // and its store); one preemption finds it.
  const CounterOptions lost{.module = Module::kLoadStore, .iterations = 1};
  const ExploreResult hidden = ExploreCounter(
      lost, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000, .preemption_bound = 0});
  CHECK(hidden.exhausted);
  CHECK_FALSE(hidden.failure.has_value());
  const ExploreResult found = ExploreCounter(
      lost, 2, {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000, .preemption_bound = 1});
  REQUIRE(found.failure.has_value());
  CHECK(found.failure->verdict.kind == machine::Outcome::kRelationBroken);
}

TEST_CASE("the same seed gives the same log hash twice") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  std::set<std::uint64_t> hashes;
  for (OracleKind kind : {OracleKind::kRandom, OracleKind::kPct}) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      CAPTURE(machine::OracleKindName(kind));
      CAPTURE(seed);
      auto first = OracleOf(kind, 3, seed);
      auto second = OracleOf(kind, 3, seed);
      const Execution a = CheckExecution(pair, {.cpus = 3}, *first);
      const Execution b = CheckExecution(pair, {.cpus = 3}, *second);
      CHECK(a.verdict.ok());
      CHECK(a.machine->log().hash() == b.machine->log().hash());
      CHECK(ScheduleOf(a) == ScheduleOf(b));
      CHECK(a.mapped == b.mapped);
      hashes.insert(a.machine->log().hash());
    }
  }
  // The hash tells schedules apart: the seeds did not all give one log.
  CHECK(hashes.size() > 1);
  // Explore with one seed twice: the same executions and events.
  const CounterOptions faa{.module = Module::kFaa, .iterations = 3};
  const ExploreResult x = ExploreCounter(faa, 3, {.strategy = layers::BuiltinStrategy("random"), .seed = 9, .runs = 50});
  const ExploreResult y = ExploreCounter(faa, 3, {.strategy = layers::BuiltinStrategy("random"), .seed = 9, .runs = 50});
  CHECK(x.executions == 50);
  CHECK(x.events == y.events);
  CHECK(x.worst_wait == y.worst_wait);
}

TEST_CASE("random and pct run the same executions, in the same order, on 1, 2 and 3 host threads") {
  const CounterOptions faa{.module = Module::kFaa, .iterations = 3};
  const CounterPair pair(faa);
  for (const char* strategy : {"random", "pct"}) {
    CAPTURE(strategy);
    std::vector<std::vector<std::uint64_t>> hashes;
    std::vector<ExploreResult> results;
    for (int jobs : {1, 2, 3}) {
      CAPTURE(jobs);
      std::vector<std::uint64_t>& mine = hashes.emplace_back();
      // `each` is called on the calling thread, in the order of the runs.
      ExploreOptions explore{.strategy = layers::BuiltinStrategy(strategy), .seed = 5, .runs = 300,
                             .each = [&mine](const Execution& x) { mine.push_back(x.machine->log().hash()); },
                             .jobs = jobs};
      results.push_back(Explore(pair, MachineOptions{.cpus = 3}, explore));
      CHECK(results.back().threads == jobs);
      // And without `each`, when the threads free what nobody looks at.
      explore.each = nullptr;
      const ExploreResult plain = Explore(pair, MachineOptions{.cpus = 3}, explore);
      CHECK(plain.executions == 300);
      CHECK(plain.events == results.front().events);
      CHECK(plain.worst_wait == results.front().worst_wait);
    }
    REQUIRE(hashes[0].size() == 300);
    // Not one schedule over and over: the runs differ.
    CHECK(std::set<std::uint64_t>(hashes[0].begin(), hashes[0].end()).size() > 10);
    for (std::size_t j = 1; j < hashes.size(); ++j) {
      CAPTURE(j);
      CHECK(hashes[j] == hashes[0]);
      CHECK(results[j].events == results[0].events);
      CHECK_FALSE(results[j].failure.has_value());
    }
  }
}

TEST_CASE("a lost update is found after the same runs and shrunk alike on 1, 2 and 3 host threads") {
  const CounterOptions lost{.module = Module::kLoadStore, .iterations = 2};
  for (const char* strategy : {"random", "pct"}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      CAPTURE(strategy);
      CAPTURE(seed);
      std::optional<ExploreResult> one;
      for (int jobs : {1, 2, 3}) {
        CAPTURE(jobs);
        ExploreResult r = ExploreCounter(lost, 3, {.strategy = layers::BuiltinStrategy(strategy), .seed = seed,
                                                   .runs = 5000, .jobs = jobs});
        REQUIRE(r.failure.has_value());
        CHECK(r.failure->verdict.kind == machine::Outcome::kRelationBroken);
        if (!one) {
          one = std::move(r);
          continue;
        }
        CHECK(r.executions == one->executions);
        CHECK(r.events == one->events);
        CHECK(r.found_by == one->found_by);
        CHECK(r.failure_original_steps == one->failure_original_steps);
        CHECK(ToFailure(*r.failure) == ToFailure(*one->failure));
        CHECK(r.failure->machine->log().hash() == one->failure->machine->log().hash());
      }
    }
  }
}

TEST_CASE("dfs runs the same executions, in the same order, on 1, 2 and 3 host threads") {
  for (const layers::Reduction reduction : {layers::Reduction::kDpor, layers::Reduction::kSleep}) {
  for (const int iterations : {2, 3}) {
    CAPTURE(layers::ReductionName(reduction));
    CAPTURE(iterations);
    const CounterPair pair({.module = Module::kFaa, .iterations = iterations});
    std::vector<std::uint64_t> one;
    ExploreResult first;
    for (int jobs : {1, 2, 3}) {
      CAPTURE(jobs);
      std::vector<std::uint64_t> mine;
      ExploreResult r = Explore(pair, MachineOptions{.cpus = 3},
                                {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000,
                                 .reduction = reduction,
                                 .each = [&mine](const Execution& x) { mine.push_back(x.machine->log().hash()); },
                                 .jobs = jobs});
      REQUIRE(r.exhausted);
      CHECK(r.threads == jobs);
      CHECK(r.made >= r.executions);
      if (jobs == 1) {
        one = mine;
        first = std::move(r);
        CHECK(first.parts_joined + first.parts_refused == 0);
        // The printed log hash folds the executions' hashes in order.
        std::uint64_t folded = 0;
        for (std::uint64_t h : one) folded = machine::MixSeed(folded ^ h);
        CHECK(first.logs_hash == folded);
        continue;
      }
      CHECK(mine == one);
      CHECK(r.logs_hash == first.logs_hash);
      CHECK(r.executions == first.executions);
      CHECK(r.skipped == first.skipped);
      CHECK(r.events == first.events);
    }
    CHECK(one.size() > 50);
  }
  }
}

TEST_CASE("a dfs capped at a few runs takes the same executions on 1, 2 and 3 host threads") {
  // Parts given away just past the cap must not be taken.
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  for (std::uint64_t runs = 1; runs <= 40; runs += 3) {
    CAPTURE(runs);
    std::vector<std::uint64_t> one;
    for (int jobs : {1, 2, 3}) {
      CAPTURE(jobs);
      std::vector<std::uint64_t> mine;
      const ExploreResult r =
          Explore(pair, MachineOptions{.cpus = 3},
                  {.strategy = layers::BuiltinStrategy("dfs"), .runs = runs,
                   .each = [&mine](const Execution& x) { mine.push_back(x.machine->log().hash()); },
                   .jobs = jobs});
      CHECK(r.executions == runs);
      CHECK_FALSE(r.exhausted);
      if (jobs == 1) {
        one = mine;
      } else {
        CHECK(mine == one);
      }
    }
  }
}

TEST_CASE("the portfolio, which does not split, makes its executions on the caller's thread alone") {
  const CounterOptions faa{.module = Module::kFaa, .iterations = 2};
  const ExploreResult one = ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("portfolio"), .runs = 100});
  const ExploreResult two =
      ExploreCounter(faa, 2, {.strategy = layers::BuiltinStrategy("portfolio"), .runs = 100, .jobs = 2});
  CHECK(two.parts_joined == 0);
  CHECK(two.made == one.made);
  CHECK(two.executions == one.executions);
  CHECK(two.events == one.events);
  std::uint64_t first = 0;
  CHECK(layers::BuiltinStrategy("portfolio")({.cpus = 2})->Split(0, &first) == nullptr);
}

TEST_CASE("a part split off random or pct makes its runs as the strategy itself would") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  for (const char* name : {"random", "pct"}) {
    CAPTURE(name);
    const std::uint64_t block = layers::BlockStrategy::kBlock;
    auto hash = [&](Strategy& s, std::uint64_t i) {
      const Execution x = CheckExecution(pair, {.cpus = 3}, s.Next(i));
      s.Finished(x.machine->schedule().size());
      return x.machine->log().hash();
    };
    // The whole: 4 blocks on one strategy.
    const std::unique_ptr<Strategy> whole = layers::BuiltinStrategy(name)({.cpus = 3, .seed = 4, .runs = 4 * block});
    std::vector<std::uint64_t> all;
    for (std::uint64_t i = 0; i < 4 * block; ++i) {
      all.push_back(hash(*whole, i));
      CHECK(whole->Advance() == (i + 1 < 4 * block));
    }
    // Split after one run: the part takes the upper half, the owner runs
    // to it, then joins it and has nothing left.
    const std::unique_ptr<Strategy> owner = layers::BuiltinStrategy(name)({.cpus = 3, .seed = 4, .runs = 4 * block});
    std::vector<std::uint64_t> mine{hash(*owner, 0)};
    REQUIRE(owner->Advance());
    std::uint64_t first = 0;
    const std::unique_ptr<Strategy> part = owner->Split(9, &first);
    REQUIRE(part != nullptr);
    CHECK(first == 2 * block);
    std::uint64_t i = 1;
    while (!owner->Joining()) {
      mine.push_back(hash(*owner, i++));
      REQUIRE(owner->Advance());
    }
    CHECK(i == first);
    CHECK(*owner->Joining() == 9);
    CHECK(owner->Fits(*part));
    for (std::uint64_t j = first; j < 4 * block; ++j) {
      mine.push_back(hash(*part, j));
      CHECK(part->Advance() == (j + 1 < 4 * block));
    }
    CHECK_FALSE(owner->Join(*part));
    CHECK(mine == all);
    // Too little left to split: nothing given away.
    const std::unique_ptr<Strategy> small = layers::BuiltinStrategy(name)({.cpus = 3, .runs = block});
    CHECK(small->Split(0, &first) == nullptr);
  }
}

TEST_CASE("a module with hidden state that survives across runs is reported as nondeterminism") {
  for (const char* strategy : kStrategies) {
    CAPTURE(strategy);
    const ExploreResult r =
        ExploreCounter({.module = Module::kLeaky}, 2, {.strategy = layers::BuiltinStrategy(strategy), .runs = 100});
    REQUIRE(r.failure.has_value());
    const Verdict& v = r.failure->verdict;
    CHECK(v.kind == machine::Outcome::kNondeterminism);
    CHECK(v.name() == "nondeterminism");
    CHECK(v.message.find("the same schedule gave log hash") != std::string::npos);
    // Found on the first execution, whose replay is the determinism check.
    CHECK(r.executions == 1);
    CHECK(r.shrink_attempts == 0);
  }
  // The same module refines run by run: only running it twice shows the flaw.
  auto oracle = OracleOf(OracleKind::kRandom, 2, 3);
  const Execution once = Check({.module = Module::kLeaky}, {.cpus = 2}, *oracle);
  INFO(Show(once));
  CHECK(once.verdict.ok());
}

TEST_CASE("with check off the explorer runs plain executions and reports no failure") {
  const ExploreResult r =
      ExploreCounter({.module = Module::kLoadStore, .iterations = 2}, 2,
                     {.strategy = layers::BuiltinStrategy("random"), .runs = 40, .check = false});
  CHECK_FALSE(r.failure.has_value());
  CHECK(r.executions == 40);
  CHECK(r.events > 0);
  CHECK(r.worst_wait == 0);  // no call was checked against its bound
}

TEST_CASE("Switches counts the context switches of a schedule") {
  CHECK(machine::Switches({}) == 0);
  CHECK(machine::Switches(Ids({2})) == 0);
  CHECK(machine::Switches(Ids({0, 0, 0})) == 0);
  CHECK(machine::Switches(Ids({0, 1})) == 1);
  CHECK(machine::Switches(Ids({0, 0, 1, 1, 0})) == 2);
  CHECK(machine::Switches(Ids({0, 1, 0, 1, 2, 2, 0})) == 5);
  // A recorded run: round-robin on 2 cpus switches at every step.
  auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
  const Execution x = Check({.module = Module::kFaa, .iterations = 2}, {.cpus = 2}, *oracle);
  const std::vector<CpuId> s = ScheduleOf(x);
  INFO(machine::EncodeChoices(s));
  REQUIRE(s.size() == 8);
  std::uint64_t by_hand = 0;
  for (std::size_t i = 1; i < s.size(); ++i) by_hand += s[i] != s[i - 1];
  CHECK(machine::Switches(s) == by_hand);
  CHECK(machine::Switches(s) == 7);
}

TEST_CASE("ToFailure cuts a failing schedule after its first bad event") {
  auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
  const Execution x = Check({.module = Module::kLoadStore, .iterations = 2}, {.cpus = 2}, *oracle);
  INFO(Show(x));
  REQUIRE(x.verdict.event.has_value());
  // Round-robin: load 0, load 1, store 0, store 1 (then cpu 1's return breaks R).
  CHECK(ToFailure(x) == Ids({0, 1, 0, 1}));
  // A failure with no event (the end of the run) keeps the whole schedule.
  auto again = OracleOf(OracleKind::kRoundRobin, 2);
  const Execution end = Check({.module = Module::kAwaitNever, .iterations = 2}, {.cpus = 2}, *again);
  REQUIRE(end.verdict.kind == machine::Outcome::kDeadlock);
  REQUIRE_FALSE(end.verdict.event.has_value());
  CHECK(ToFailure(end) == ScheduleOf(end));
}

TEST_CASE("a schedule that does not fit the configuration is an input error, not a verdict") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 2});
  auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
  const Execution x = CheckExecution(pair, {.cpus = 2}, *oracle);
  std::vector<CpuId> s = ScheduleOf(x);
  REQUIRE(s.size() == 8);
  const Execution whole = ReplaySchedule(pair, {.cpus = 2}, s, "whole");
  CHECK(whole.input.ok());
  CHECK(whole.machine->log().hash() == x.machine->log().hash());

  s.pop_back();
  const Execution short_one = ReplaySchedule(pair, {.cpus = 2}, s, "short");
  CHECK_FALSE(short_one.input.ok());
  CHECK(std::string(short_one.input.message()).find("short: schedule ends after 7 steps") !=
        std::string::npos);

  s.push_back(CpuId(1));
  s.push_back(CpuId(1));
  const Execution long_one = ReplaySchedule(pair, {.cpus = 2}, s, "long");
  CHECK_FALSE(long_one.input.ok());
  CHECK(std::string(long_one.input.message()).find("long:") != std::string::npos);
}

TEST_CASE("the built-in strategies are random, pct, dfs and portfolio, and only dfs is exhaustive") {
  const StrategyRegistry r = BuiltinStrategies();
  CHECK(r.Names() == "random, pct, dfs, portfolio");
  CHECK_FALSE(r.Find("portfolio")->make({.cpus = 2})->exhaustive());
  for (const char* s : kStrategies) {
    CAPTURE(s);
    REQUIRE(r.Find(s) != nullptr);
    CHECK(r.Find(s)->make({.cpus = 2})->exhaustive() == (std::string_view(s) == "dfs"));
  }
  CHECK(r.Find("bogus") == nullptr);
  CHECK(r.Find("") == nullptr);
  CHECK(r.Find("DFS") == nullptr);
  CHECK(r.Expected("DFS") == "expected one of random, pct, dfs, portfolio, got \"DFS\"");
}

}  // namespace
}  // namespace strata::layers::toy
