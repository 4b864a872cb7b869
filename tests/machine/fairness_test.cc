// The fairness guard: on its own (overdue after exactly F pass-overs, deadlines
// that fall due together, Ran, blocked cpus, worst wait, and side by side with
// a trivial model) and wrapped around oracles that would starve a CPU (PCT, a
// greedy oracle) or replay an unfair schedule.
#include "machine/fairness.h"

#include <algorithm>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "machine/machine.h"
#include "machine/oracle.h"
#include "machine/rng.h"
#include "machine/schedule.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

using testing::Cpus;
using testing::Recorded;
using testing::RunWith;
using testing::Show;

std::vector<CpuId> Ids(std::initializer_list<int> values) {
  std::vector<CpuId> out;
  for (int v : values) out.push_back(CpuId(v));
  return out;
}

TEST_CASE("a runnable cpu becomes overdue after exactly F pass-overs") {
  for (std::uint64_t bound : {1u, 2u, 4u, 9u}) {
    CAPTURE(bound);
    FairnessGuard g(2, bound);
    CHECK(g.bound() == bound);
    const std::vector<CpuId> both = Ids({0, 1});
    g.AddRunnable(CpuId(0), 0);
    g.AddRunnable(CpuId(1), 0);
    // cpu 0 takes every step; cpu 1 is passed over at steps 0 .. bound-1.
    for (std::uint64_t step = 0; step < bound; ++step) {
      CAPTURE(step);
      CHECK(!g.Overdue(step, both).valid());
      CHECK(g.Waited(CpuId(1), step) == step);
      CHECK_FALSE(g.Ran(CpuId(0), step));
    }
    CHECK(g.Overdue(bound, both) == CpuId(1));
    CHECK(g.Waited(CpuId(1), bound) == bound);
    CHECK(g.worst_wait() == 0);
    CHECK_FALSE(g.Ran(CpuId(1), bound));  // exactly F: within the bound
    CHECK(g.worst_wait() == bound);
    // cpu 0 last ran at step bound - 1: it is due again only if F = 1.
    CHECK(g.Overdue(bound + 1, both) == (bound == 1 ? CpuId(0) : CpuId()));
  }
}

TEST_CASE("two deadlines that fall due together are kept by running the first one early") {
  // F = 3 on 3 cpus: cpu 2 takes steps 0 and 1, so cpus 0 and 1 are both due
  // by step 3. Waiting for cpu 0 to be passed over F times would leave cpu 1
  // waiting 4 steps: the guard runs cpu 0 at step 2.
  FairnessGuard g(3, 3);
  const std::vector<CpuId> all = Ids({0, 1, 2});
  for (CpuId c : all) g.AddRunnable(c, 0);
  CHECK(!g.Overdue(0, all).valid());
  CHECK_FALSE(g.Ran(CpuId(2), 0));
  CHECK(!g.Overdue(1, all).valid());
  CHECK_FALSE(g.Ran(CpuId(2), 1));
  CHECK(g.Waited(CpuId(0), 2) == 2);
  CHECK(g.Overdue(2, all) == CpuId(0));  // ties go to the lowest id
  CHECK_FALSE(g.Ran(CpuId(0), 2));
  CHECK(g.Overdue(3, all) == CpuId(1));
  CHECK_FALSE(g.Ran(CpuId(1), 3));
  CHECK(g.worst_wait() == 3);
  // Without cpu 1 nothing falls due at step 2.
  FairnessGuard h(3, 3);
  for (CpuId c : all) h.AddRunnable(c, 0);
  CHECK_FALSE(h.Ran(CpuId(2), 0));
  CHECK_FALSE(h.Ran(CpuId(2), 1));
  CHECK(!h.Overdue(2, Ids({0, 2})).valid());
  CHECK(h.Overdue(3, Ids({0, 2})) == CpuId(0));
}

TEST_CASE("when the last deadline is the only one without slack any cpu may step") {
  // F = 1 on 2 cpus: at step 0 either cpu may go first.
  FairnessGuard g(2, 1);
  const std::vector<CpuId> both = Ids({0, 1});
  for (CpuId c : both) g.AddRunnable(c, 0);
  CHECK(!g.Overdue(0, both).valid());
  CHECK_FALSE(g.Ran(CpuId(1), 0));
  CHECK(g.Overdue(1, both) == CpuId(0));
}

TEST_CASE("running resets a cpu's wait; the longest-waiting cpu is the overdue one") {
  FairnessGuard g(3, 3);
  const std::vector<CpuId> all = Ids({0, 1, 2});
  for (CpuId c : all) g.AddRunnable(c, 0);
  CHECK_FALSE(g.Ran(CpuId(0), 0));
  CHECK_FALSE(g.Ran(CpuId(1), 1));
  CHECK_FALSE(g.Ran(CpuId(0), 2));
  // cpu 2 has waited 3 steps, cpu 1 one step, cpu 0 none.
  CHECK(g.Waited(CpuId(2), 3) == 3);
  CHECK(g.Waited(CpuId(1), 3) == 1);
  CHECK(g.Waited(CpuId(0), 3) == 0);
  CHECK(g.Overdue(3, all) == CpuId(2));
  CHECK_FALSE(g.Ran(CpuId(2), 3));
  CHECK(g.worst_wait() == 3);
  CHECK(!g.Overdue(4, all).valid());
  // Now cpu 1 (last ran at step 1) is the longest waiting.
  CHECK(g.Overdue(5, all) == CpuId(1));
  CHECK(g.Waited(CpuId(1), 5) == 3);
}

TEST_CASE("a cpu that is not runnable is never overdue and its wait starts when it is again") {
  FairnessGuard g(2, 2);
  g.AddRunnable(CpuId(0), 0);
  g.AddRunnable(CpuId(1), 0);
  CHECK_FALSE(g.Ran(CpuId(0), 0));
  // cpu 1 blocks: it is left out of the runnable set.
  const std::vector<CpuId> only0 = Ids({0});
  for (std::uint64_t step = 1; step < 4; ++step) {
    CHECK(!g.Overdue(step, only0).valid());
    CHECK_FALSE(g.Ran(CpuId(0), step));
  }
  CHECK(!g.Overdue(4, only0).valid());
  g.AddRunnable(CpuId(1), 4);  // woken before step 4
  const std::vector<CpuId> both = Ids({0, 1});
  CHECK(g.Waited(CpuId(1), 4) == 0);
  CHECK(!g.Overdue(4, both).valid());
  CHECK_FALSE(g.Ran(CpuId(0), 4));
  CHECK(!g.Overdue(5, both).valid());
  CHECK_FALSE(g.Ran(CpuId(0), 5));
  CHECK(g.Overdue(6, both) == CpuId(1));
  CHECK_FALSE(g.Ran(CpuId(1), 6));
  CHECK(g.worst_wait() == 2);
  // With nobody runnable, nobody is overdue.
  CHECK(!g.Overdue(100, {}).valid());
}

TEST_CASE("a cpu woken late is overdue exactly F steps after it woke") {
  FairnessGuard g(2, 4);
  g.AddRunnable(CpuId(0), 0);
  const std::vector<CpuId> only0 = Ids({0});
  for (std::uint64_t step = 0; step < 6; ++step) {
    CHECK(!g.Overdue(step, only0).valid());
    CHECK_FALSE(g.Ran(CpuId(0), step));
  }
  g.AddRunnable(CpuId(1), 6);
  const std::vector<CpuId> both = Ids({0, 1});
  for (std::uint64_t step = 6; step < 10; ++step) {
    CAPTURE(step);
    CHECK(!g.Overdue(step, both).valid());
    CHECK_FALSE(g.Ran(CpuId(0), step));
  }
  CHECK(g.Overdue(10, both) == CpuId(1));
}

TEST_CASE("the worst wait is the longest any cpu waited before it ran") {
  FairnessGuard g(4, 100);
  for (int c = 0; c < 4; ++c) g.AddRunnable(CpuId(c), 0);
  // Round robin: every cpu waits 3 steps between turns (0 to 3 on its first).
  std::uint64_t step = 0;
  for (int round = 0; round < 5; ++round) {
    for (int c = 0; c < 4; ++c) CHECK_FALSE(g.Ran(CpuId(c), step++));
  }
  CHECK(g.worst_wait() == 3);
  for (int i = 0; i < 10; ++i) CHECK_FALSE(g.Ran(CpuId(0), step++));
  CHECK_FALSE(g.Ran(CpuId(3), step++));
  CHECK(g.worst_wait() == 10);
  // Ran says when a wait passes F.
  FairnessGuard tight(2, 2);
  for (int c = 0; c < 2; ++c) tight.AddRunnable(CpuId(c), 0);
  CHECK_FALSE(tight.Ran(CpuId(0), 0));
  CHECK_FALSE(tight.Ran(CpuId(0), 1));
  CHECK(tight.Ran(CpuId(1), 3));  // waited 3 > 2
  CHECK(tight.worst_wait() == 3);
}

// The guard's contract, kept the obvious way: per cpu the step since which it
// waits and when it began to (ties in that order); every step, sort the
// runnable cpus by deadline (since + F) and force the first one if a position
// before the last has no slack.
struct GuardModel {
  std::uint64_t bound;
  std::vector<std::uint64_t> since;
  std::vector<std::uint64_t> stamp;  // when since was last set
  std::uint64_t clock = 0;
  std::uint64_t worst = 0;
  void Wait(CpuId c, std::uint64_t from) {
    since[c.index()] = from;
    stamp[c.index()] = clock++;
  }
  CpuId Overdue(std::uint64_t step, std::span<const CpuId> runnable) const {
    std::vector<CpuId> order(runnable.begin(), runnable.end());
    std::sort(order.begin(), order.end(), [&](CpuId a, CpuId b) {
      return std::pair(since[a.index()], stamp[a.index()]) <
             std::pair(since[b.index()], stamp[b.index()]);
    });
    for (std::size_t k = 0; k + 1 < order.size(); ++k) {
      if (since[order[k].index()] + bound <= step + k) return order.front();
    }
    return CpuId();
  }
};

TEST_CASE("the guard agrees with a trivial model over random runs with blocking") {
  int kept = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    Rng rng(seed);
    const int cpus = 1 + static_cast<int>(rng.Below(8));
    const std::uint64_t bound = 1 + rng.Below(12);
    CAPTURE(cpus);
    CAPTURE(bound);
    FairnessGuard g(cpus, bound);
    const auto n = static_cast<std::size_t>(cpus);
    GuardModel model{bound, std::vector<std::uint64_t>(n, 0), std::vector<std::uint64_t>(n, 0)};
    for (int c = 0; c < cpus; ++c) model.Wait(CpuId(c), 0);
    std::vector<bool> runnable(n, false);
    auto wake = [&](int c, std::uint64_t step) {
      runnable[static_cast<std::size_t>(c)] = true;
      g.AddRunnable(CpuId(c), step);
      model.Wait(CpuId(c), step);
    };
    for (int c = 0; c < cpus; ++c) wake(c, 0);
    int mismatches = 0, above = 0;
    for (std::uint64_t step = 0; step < 400; ++step) {
      // Block or wake a random cpu now and then.
      if (rng.Below(4) == 0) {
        int c = static_cast<int>(rng.Below(static_cast<std::uint64_t>(cpus)));
        if (runnable[static_cast<std::size_t>(c)]) {
          runnable[static_cast<std::size_t>(c)] = false;
        } else {
          wake(c, step);
        }
      }
      std::vector<CpuId> set;
      for (int c = 0; c < cpus; ++c) {
        if (runnable[static_cast<std::size_t>(c)]) set.push_back(CpuId(c));
      }
      const CpuId expected = model.Overdue(step, set);
      const CpuId got = g.Overdue(step, set);
      if (got != expected) ++mismatches;
      if (set.empty()) continue;
      // The machine runs the overdue cpu, else the oracle's (random) pick.
      CpuId ran = got.valid() ? got : set[rng.Below(set.size())];
      const std::uint64_t waited = step - model.since[ran.index()];
      model.worst = std::max(model.worst, waited);
      model.Wait(ran, step + 1);
      if (g.Ran(ran, step)) ++above;
    }
    CHECK(mismatches == 0);
    CHECK(g.worst_wait() == model.worst);
    CHECK((above > 0) == (model.worst > bound));
    if (bound >= static_cast<std::uint64_t>(cpus)) {
      // A bound the cpus can keep is kept.
      CHECK(g.worst_wait() <= bound);
      ++kept;
    }
  }
  CHECK(kept >= 50);
}

// Picks the lowest runnable cpu, always: starves everyone else.
class Greedy final : public Oracle {
 public:
  std::string Describe() const override { return "greedy"; }
  CpuId Pick(const Decision& d) override {
    ++picks;
    return d.runnable.front();
  }
  int picks = 0;
};

// Every cpu adds 1 to word 0, "counter", `steps` times.
testing::Setup Adders(int steps) {
  return [=](Machine& m) {
    Word counter = m.NewWord("counter");
    return [=](Cpu& cpu) {
      for (int i = 0; i < steps; ++i) cpu.FetchAdd(counter, 1);
    };
  };
}
const Word kCounter{ObjectId(0)};

TEST_CASE("the guard overrides a starving oracle so a cpu runs exactly at the bound") {
  Greedy greedy;
  Recorded r = RunWith({.cpus = 2, .fairness = 4}, greedy, Adders(10));
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kOk));
  // cpu 0 runs 4 steps, then cpu 1 is due; each run of cpu 0 is cut at 4.
  CHECK(EncodeChoices(r.schedule) == "0x4 1 0x4 1 0x2 1x8");
  CHECK(r.worst_wait == 4);
  CHECK(greedy.picks == 20);
}

TEST_CASE("under PCT, which starves low priorities, no cpu waits more than F") {
  for (int cpus : {2, 3, 8}) {
    for (std::uint64_t fairness : {0u, 2u, 8u}) {
      for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        const std::uint64_t bound = static_cast<std::uint64_t>(cpus) + fairness;
        CAPTURE(cpus);
        CAPTURE(bound);
        CAPTURE(seed);
        const int steps = 60;
        std::int64_t counter = 0;
        Recorded r = RunWith({.cpus = cpus, .fairness = bound},
                             {.kind = OracleKind::kPct, .seed = seed, .pct_depth = 3,
                              .pct_horizon = 200},
                             Adders(steps), [&](const Machine& m) {
                               counter = m.value(kCounter);
                               CHECK(m.fairness_bound() == bound);
                             });
        INFO(Show(r.report));
        REQUIRE(r.Is(Outcome::kOk));
        CHECK(counter == cpus * steps);
        CHECK(r.worst_wait <= bound);
        // PCT runs its top cpu as long as it can: the guard had to step in,
        // at the deadline on two cpus, up to cpus - 1 steps before it else.
        CHECK(r.worst_wait + static_cast<std::uint64_t>(cpus) - 1 >= bound);
        if (cpus == 2) CHECK(r.worst_wait == bound);
      }
    }
  }
}

TEST_CASE("the default fairness bound is 8 per cpu") {
  for (int cpus : {1, 3, 8}) {
    CAPTURE(cpus);
    Machine m({.cpus = cpus});
    CHECK(m.fairness_bound() == 8 * static_cast<std::uint64_t>(cpus));
  }
  Machine explicit_bound({.cpus = 3, .fairness = 2});
  CHECK(explicit_bound.fairness_bound() == 2);
}

// Two cpus, each loading a word `n` times.
testing::Setup Loaders(int n) {
  return [=](Machine& m) {
    Word w = m.NewWord("w");
    return [=](Cpu& cpu) {
      for (int i = 0; i < n; ++i) cpu.Load(w);
    };
  };
}

TEST_CASE("a replayed schedule that keeps a runnable cpu waiting past F is an unfair schedule") {
  auto choices = DecodeChoices("0x10 1x10", 2);
  REQUIRE(choices.ok());
  auto oracle = testing::ReplayOf(*choices);
  Recorded r = RunWith({.cpus = 2, .fairness = 4}, *oracle, Loaders(10));
  INFO(Show(r.report));
  // Not an input error: the schedule fits the program, it is just unfair.
  REQUIRE(r.Is(Outcome::kUnfairSchedule));
  CHECK(Cpus(r.report->cpus) == "1,0");
  CHECK(r.report->steps == 4);
  CHECK(r.report->message ==
        "the schedule runs cpu 0 at step 4 where cpu 1 (waiting 4 steps) must run for every cpu "
        "to keep the fairness bound 4");
  CHECK(r.events.size() == 4);
}

TEST_CASE("a replayed schedule that makes cpus wait exactly F steps is fair") {
  auto choices = DecodeChoices("0x4 1x4 0x4 1x4 0x2 1x2", 2);
  REQUIRE(choices.ok());
  auto oracle = testing::ReplayOf(*choices);
  Recorded r = RunWith({.cpus = 2, .fairness = 4}, *oracle, Loaders(10));
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kOk));
  CHECK(r.worst_wait == 4);
  CHECK(r.schedule == *choices);
}

TEST_CASE("live oracles never leave a cpu waiting past F, even with F = cpus") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (int cpus : {2, 5}) {
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        CAPTURE(OracleKindName(kind));
        CAPTURE(cpus);
        CAPTURE(seed);
        const auto bound = static_cast<std::uint64_t>(cpus);
        Recorded r = RunWith({.cpus = cpus, .fairness = bound},
                             {.kind = kind, .seed = seed, .pct_horizon = 50}, Adders(30));
        INFO(Show(r.report));
        REQUIRE(r.Is(Outcome::kOk));
        CHECK(r.worst_wait <= bound);
      }
    }
  }
}

TEST_CASE("a bound below the number of runnable cpus ends the run at the first longer wait") {
  Recorded r = RunWith({.cpus = 3, .fairness = 1}, {.kind = OracleKind::kRoundRobin}, Adders(5));
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kUnfairSchedule));
  CHECK(r.report->message ==
        "cpu 2 waited 2 steps for step 2, above the fairness bound 1 (a bound below the number of "
        "runnable cpus cannot be kept)");
  CHECK(Cpus(r.report->cpus) == "2");
  // The step is in the schedule, so that the schedule replays to the failure.
  CHECK(EncodeChoices(r.schedule) == "0 1 2");
  auto oracle = testing::ReplayOf(r.schedule);
  Recorded again = RunWith({.cpus = 3, .fairness = 1}, *oracle, Adders(5));
  REQUIRE(again.Is(Outcome::kUnfairSchedule));
  CHECK(again.report->message == r.report->message);
}

}  // namespace
}  // namespace strata::machine
