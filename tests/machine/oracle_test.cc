// The oracles on their own, fed hand-made decisions: round-robin, random,
// PCT and replay; plus the names used on the command line.
#include "machine/oracle.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/rng.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

std::vector<CpuId> Ids(std::initializer_list<int> values) {
  std::vector<CpuId> out;
  for (int v : values) out.push_back(CpuId(v));
  return out;
}

std::vector<CpuId> AllCpus(int n) {
  std::vector<CpuId> out;
  for (int i = 0; i < n; ++i) out.push_back(CpuId(i));
  return out;
}

// Asks `o` once; the pick must be a cpu and there must be no error.
CpuId PickOk(Oracle& o, std::uint64_t step, std::span<const CpuId> runnable, CpuId last) {
  CpuId c = o.Pick(Decision{step, runnable, last});
  REQUIRE(c.valid());
  REQUIRE(o.error().ok());
  return c;
}

TEST_CASE("round-robin picks the next runnable cpu after the last one, cyclically") {
  auto o = MakeOracle({.kind = OracleKind::kRoundRobin, .cpus = 4});
  CHECK(o->Describe() == "round-robin");
  CHECK(!o->replays());
  CHECK(o->Finish(0).ok());
  const std::vector<CpuId> all = AllCpus(4);
  CHECK(PickOk(*o, 0, all, CpuId()) == CpuId(0));  // nobody ran yet
  CHECK(PickOk(*o, 1, all, CpuId(0)) == CpuId(1));
  CHECK(PickOk(*o, 2, all, CpuId(2)) == CpuId(3));
  CHECK(PickOk(*o, 3, all, CpuId(3)) == CpuId(0));  // wraps around
  // The last cpu need not be runnable any more; gaps are skipped.
  const std::vector<CpuId> some = Ids({0, 2, 5});
  CHECK(PickOk(*o, 4, some, CpuId(0)) == CpuId(2));
  CHECK(PickOk(*o, 5, some, CpuId(1)) == CpuId(2));
  CHECK(PickOk(*o, 6, some, CpuId(2)) == CpuId(5));
  CHECK(PickOk(*o, 7, some, CpuId(5)) == CpuId(0));
  CHECK(PickOk(*o, 8, some, CpuId(7)) == CpuId(0));
  const std::vector<CpuId> one = Ids({3});
  CHECK(PickOk(*o, 9, one, CpuId(3)) == CpuId(3));
}

TEST_CASE("round-robin visits every runnable cpu once per cycle") {
  auto o = MakeOracle({.kind = OracleKind::kRoundRobin, .cpus = 7});
  const std::vector<CpuId> runnable = Ids({1, 2, 4, 6});
  CpuId last;
  std::vector<CpuId> picks;
  for (std::uint64_t step = 0; step < 12; ++step) {
    last = PickOk(*o, step, runnable, last);
    picks.push_back(last);
  }
  CHECK(testing::Cpus(picks) == "1,2,4,6,1,2,4,6,1,2,4,6");
}

TEST_CASE("random picks each of 4 runnable cpus between 15% and 35% of the time") {
  for (std::uint64_t seed : {1u, 2u, 42u, 1000u}) {
    CAPTURE(seed);
    auto o = MakeOracle({.kind = OracleKind::kRandom, .seed = seed, .cpus = 4});
    CHECK(o->Describe() == fmt::format("random (seed {})", seed));
    const std::vector<CpuId> all = AllCpus(4);
    std::map<int, int> count;
    constexpr int kPicks = 4000;
    CpuId last;
    for (int i = 0; i < kPicks; ++i) {
      last = PickOk(*o, static_cast<std::uint64_t>(i), all, last);
      ++count[last.value()];
    }
    CHECK(count.size() == 4);
    for (auto [cpu, n] : count) {
      CAPTURE(cpu);
      CHECK(n >= kPicks * 15 / 100);
      CHECK(n <= kPicks * 35 / 100);
    }
  }
}

TEST_CASE("random only picks runnable cpus and is a function of its seed") {
  const std::vector<CpuId> runnable = Ids({1, 3, 8});
  auto a = MakeOracle({.kind = OracleKind::kRandom, .seed = 7, .cpus = 9});
  auto b = MakeOracle({.kind = OracleKind::kRandom, .seed = 7, .cpus = 9});
  auto c = MakeOracle({.kind = OracleKind::kRandom, .seed = 8, .cpus = 9});
  std::vector<CpuId> pa, pb, pc;
  for (std::uint64_t step = 0; step < 200; ++step) {
    pa.push_back(PickOk(*a, step, runnable, CpuId()));
    pb.push_back(PickOk(*b, step, runnable, CpuId()));
    pc.push_back(PickOk(*c, step, runnable, CpuId()));
  }
  CHECK(pa == pb);
  CHECK(pa != pc);
  for (CpuId p : pa) CHECK(std::binary_search(runnable.begin(), runnable.end(), p));
}

TEST_CASE("the bounded draw is uniform over small ranges and stays below its bound") {
  Rng rng(3);
  std::vector<int> count(3, 0);
  for (int i = 0; i < 30000; ++i) ++count[rng.Below(3)];
  for (int n : count) {
    CHECK(n > 9000);
    CHECK(n < 11000);
  }
  for (std::uint64_t n : {1ull, 2ull, 1000ull, (1ull << 63) + 5}) {
    CAPTURE(n);
    for (int i = 0; i < 100; ++i) CHECK(rng.Below(n) < n);
  }
  // The same seed gives the same sequence.
  Rng x(99), y(99);
  for (int i = 0; i < 10; ++i) CHECK(x.Next() == y.Next());
}

TEST_CASE("pct with horizon 0 runs its priorities alone and asks for the run's length") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    auto unknown = MakeOracle(
        {.kind = OracleKind::kPct, .seed = seed, .cpus = 4, .pct_depth = 3, .pct_horizon = 0});
    auto plain = MakeOracle(
        {.kind = OracleKind::kPct, .seed = seed, .cpus = 4, .pct_depth = 1, .pct_horizon = 10});
    CHECK(unknown->wants_run_length());
    CHECK_FALSE(plain->wants_run_length());
    CHECK(unknown->Describe() ==
          fmt::format("pct (seed {}, depth 3, no horizon yet: no change points)", seed));
    // The same priorities as depth 1 and no change point: the same picks.
    const std::vector<CpuId> all = AllCpus(4);
    for (std::uint64_t step = 0; step < 200; ++step) {
      CHECK(PickOk(*unknown, step, all, CpuId()) == PickOk(*plain, step, all, CpuId()));
    }
  }
  CHECK_FALSE(MakeOracle({.kind = OracleKind::kPct, .cpus = 4, .pct_depth = 3, .pct_horizon = 5})
                  ->wants_run_length());
  CHECK_FALSE(MakeOracle({.kind = OracleKind::kRandom, .cpus = 4, .pct_horizon = 0})
                  ->wants_run_length());
}

TEST_CASE("pct with depth 1 always picks the same top-priority cpu while it is runnable") {
  std::set<int> tops;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    CAPTURE(seed);
    auto o = MakeOracle(
        {.kind = OracleKind::kPct, .seed = seed, .cpus = 5, .pct_depth = 1, .pct_horizon = 10});
    CHECK(o->Describe() == fmt::format("pct (seed {}, depth 1, horizon 10)", seed));
    const std::vector<CpuId> all = AllCpus(5);
    const CpuId top = PickOk(*o, 0, all, CpuId());
    tops.insert(top.value());
    std::uint64_t step = 1;
    for (; step < 100; ++step) CHECK(PickOk(*o, step, all, top) == top);
    // Without the top cpu, the second one runs, again always the same one.
    std::vector<CpuId> rest;
    for (CpuId c : all) {
      if (c != top) rest.push_back(c);
    }
    const CpuId second = PickOk(*o, step++, rest, top);
    CHECK(second != top);
    for (int i = 0; i < 20; ++i) CHECK(PickOk(*o, step++, rest, second) == second);
    // As soon as the top cpu is runnable again it runs.
    CHECK(PickOk(*o, step++, all, second) == top);
  }
  // The priorities are drawn from the seed: different seeds put different cpus on top.
  CHECK(tops.size() >= 4);
}

TEST_CASE("pct with depth 2 demotes its top cpu once, at a step within the horizon") {
  std::set<std::uint64_t> change_steps;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    constexpr std::uint64_t kHorizon = 10;
    auto o = MakeOracle({.kind = OracleKind::kPct,
                         .seed = seed,
                         .cpus = 3,
                         .pct_depth = 2,
                         .pct_horizon = kHorizon});
    const std::vector<CpuId> all = AllCpus(3);
    std::vector<CpuId> picks;
    for (std::uint64_t step = 0; step < 3 * kHorizon; ++step) {
      picks.push_back(PickOk(*o, step, all, picks.empty() ? CpuId() : picks.back()));
    }
    // One cpu up to the change point, then another one for good.
    std::size_t switches = 0;
    std::uint64_t at = 0;
    for (std::size_t i = 1; i < picks.size(); ++i) {
      if (picks[i] != picks[i - 1]) {
        ++switches;
        at = i;
      }
    }
    CAPTURE(testing::Cpus(picks));
    CHECK(switches == 1);
    CHECK(at >= 1);
    CHECK(at <= kHorizon);
    change_steps.insert(at);
  }
  CHECK(change_steps.size() >= 5);
}

TEST_CASE("pct picks only runnable cpus and is a function of its seed") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    OracleOptions options{.kind = OracleKind::kPct, .seed = seed, .cpus = 6, .pct_depth = 4,
                          .pct_horizon = 50};
    auto a = MakeOracle(options);
    auto b = MakeOracle(options);
    Rng rng(seed);
    for (std::uint64_t step = 0; step < 100; ++step) {
      std::vector<CpuId> runnable;
      for (int c = 0; c < 6; ++c) {
        if (rng.Below(2) == 0) runnable.push_back(CpuId(c));
      }
      if (runnable.empty()) runnable.push_back(CpuId(static_cast<int>(step % 6)));
      CpuId pa = PickOk(*a, step, runnable, CpuId());
      CHECK(PickOk(*b, step, runnable, CpuId()) == pa);
      CHECK(std::binary_search(runnable.begin(), runnable.end(), pa));
    }
  }
}

TEST_CASE("replay follows its choices and names the step when they do not fit") {
  auto o = testing::ReplayOf(Ids({1, 0, 1}));
  CHECK(o->replays());
  CHECK(o->Describe() == "replay (3 steps from test)");
  const std::vector<CpuId> all = AllCpus(2);
  CHECK(PickOk(*o, 0, all, CpuId()) == CpuId(1));
  CHECK(PickOk(*o, 1, all, CpuId(1)) == CpuId(0));

  CHECK(o->error().ok());

  // Step 2 names cpu 1, which is not runnable here: no cpu, and error() says why.
  const std::vector<CpuId> only0 = Ids({0});
  CHECK(!o->Pick(Decision{2, only0, CpuId(0)}).valid());
  CHECK(o->error().code() == absl::StatusCode::kInvalidArgument);
  CHECK(o->error().message() ==
        "test: schedule step 2 names cpu 1, which cannot run there (expected one of 0)");

  // Past the end.
  auto ended = testing::ReplayOf(Ids({1, 0, 1}));
  for (std::uint64_t step = 0; step < 3; ++step) {
    PickOk(*ended, step, all, CpuId());
  }
  CHECK(!ended->Pick(Decision{3, all, CpuId(1)}).valid());
  CHECK(ended->error().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ended->error().message() ==
        "test: schedule ends after 3 steps, but cpus 0,1 can still run (expected a schedule "
        "recorded from this config)");

  // A choice naming a cpu the machine does not have cannot run either.
  auto foreign = testing::ReplayOf(Ids({7}));
  CHECK(!foreign->Pick(Decision{0, all, CpuId()}).valid());
  CHECK(foreign->error().message() ==
        "test: schedule step 0 names cpu 7, which cannot run there (expected one of 0,1)");

  // Finishing early leaves steps over; finishing on time or later is fine.
  absl::Status early = o->Finish(2);
  CHECK(early.code() == absl::StatusCode::kInvalidArgument);
  CHECK(early.message() ==
        "test: the run ended after 2 steps but the schedule has 3 (expected a schedule recorded "
        "from this config)");
  CHECK(o->Finish(3).ok());
}

TEST_CASE("oracle kinds parse from the names they print") {
  for (OracleKind k : {OracleKind::kRoundRobin, OracleKind::kRandom, OracleKind::kPct,
                       OracleKind::kReplay}) {
    std::string_view name = OracleKindName(k);
    CAPTURE(name);
    CHECK(ParseOracleKind(name) == k);
    CHECK(OracleKindNames().find(name) != std::string_view::npos);
  }
  CHECK(OracleKindName(OracleKind::kRoundRobin) == "round-robin");
  CHECK(OracleKindName(OracleKind::kPct) == "pct");
  CHECK(!ParseOracleKind("roundrobin").has_value());
  CHECK(!ParseOracleKind("").has_value());
  CHECK(!ParseOracleKind("PCT").has_value());
}

}  // namespace
}  // namespace strata::machine
