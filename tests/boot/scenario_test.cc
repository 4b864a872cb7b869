#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "boot/boot.h"
#include "boot/config.h"
#include "machine/log.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using machine::Outcome;

// Every config in configs/ with the outcome it must end in. A config added
// without an entry here fails the first test below.
const std::map<std::string, Outcome>& Expected() {
  static const std::map<std::string, Outcome> kExpected = {
      {"configs/default.toml", Outcome::kOk},
      {"configs/counter.toml", Outcome::kOk},
      {"configs/threads/thread-counter.toml", Outcome::kOk},
      {"configs/threads/ping-pong.toml", Outcome::kOk},
      {"configs/threads/fork-lock.toml", Outcome::kOk},
      {"configs/threads/philosophers.toml", Outcome::kOk},
      {"configs/threads/producer-consumer-spec.toml", Outcome::kOk},
      {"configs/threads/many-threads.toml", Outcome::kOk},
      {"configs/bad/philosophers-wrong-order.toml", Outcome::kDeadlock},
      {"configs/bad/lost-wakeup.toml", Outcome::kDeadlock},
      {"configs/bad/fork-lock-broken-invariant.toml", Outcome::kInvariantBroken},
      {"configs/bad/fork-lock-free-early.toml", Outcome::kImpossibleLog},
      {"configs/bad/starved-thread.toml", Outcome::kThreadStarved},
      {"configs/threads/fair-threads.toml", Outcome::kOk},
      {"configs/pct.toml", Outcome::kOk},
      {"configs/many-cpus.toml", Outcome::kOk},
      {"configs/bad/lost-update.toml", Outcome::kWrongResult},
      {"configs/bad/racy-push.toml", Outcome::kDataRace},
      {"configs/bad/double-unlock.toml", Outcome::kImpossibleLog},
      {"configs/bad/lock-order.toml", Outcome::kDeadlock},
      {"configs/bad/throw.toml", Outcome::kException},
      {"configs/bad/recursion.toml", Outcome::kStackOverflow},
      {"configs/bad/livelock.toml", Outcome::kStepBudget},
      // strata compose scenarios (compose_test.cc): each boots fine.
      {"configs/env/compose.toml", Outcome::kOk},
      {"configs/env/bad/host-channel.toml", Outcome::kOk},
      // Per-CPU machines (env.kind, env.focus).
      {"configs/env/recorded.toml", Outcome::kOk},
      {"configs/env/recorded-log.toml", Outcome::kOk},
      {"configs/env/live.toml", Outcome::kOk},
      {"configs/env/bad/recorded-lost-update.toml", Outcome::kWrongResult},
  };
  return kExpected;
}

TEST_CASE("every config in configs/ has an expected outcome in this test") {
  std::set<std::string> found;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(testing::Source("configs"))) {
    // Besides configs, configs/ holds recordings (configs/env/recordings/).
    if (!entry.is_regular_file() || entry.path().extension() != ".toml") continue;
    // configs/check/ holds `strata check` scenarios, and so does a config
    // of an environment only a check has: check_test.cc runs those.
    if (entry.path().string().find("/configs/check/") != std::string::npos) continue;
    if (testing::IsCheckOnly(entry.path().string())) continue;
    found.insert(std::filesystem::relative(entry.path(), STRATA_SOURCE_DIR).string());
  }
  std::set<std::string> listed;
  for (const auto& [path, outcome] : Expected()) listed.insert(path);
  CHECK(found == listed);
}

TEST_CASE("every config ends in its expected outcome, twice with the same log hash") {
  for (const auto& [path, expected] : Expected()) {
    CAPTURE(path);
    auto config = LoadConfig(testing::Source(path), testing::Builtin());
    REQUIRE(config.ok());
    auto first = RunConfig(*config, testing::Builtin());
    auto second = RunConfig(*config, testing::Builtin());
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(first->report.outcome == expected);
    CHECK(first->machine->log().hash() == second->machine->log().hash());
    CHECK(first->machine->log().size() == second->machine->log().size());
    if (expected == Outcome::kOk) {
      REQUIRE_FALSE(first->checks.empty());
      for (const Check& c : first->checks) CHECK(c.ok());
    } else {
      if (expected != Outcome::kWrongResult) CHECK_FALSE(first->report.cpus.empty());
      CHECK_FALSE(first->report.message.empty());
    }
  }
}

TEST_CASE("replaying any config's schedule reproduces its outcome and log hash") {
  for (const auto& [path, expected] : Expected()) {
    CAPTURE(path);
    auto config = LoadConfig(testing::Source(path), testing::Builtin());
    REQUIRE(config.ok());
    auto run = RunConfig(*config, testing::Builtin());
    REQUIRE(run.ok());
    std::vector<machine::CpuId> choices(run->machine->schedule().begin(),
                                        run->machine->schedule().end());
    auto replayed = RunConfig(*config, testing::Builtin(), &choices, "recorded");
    REQUIRE(replayed.ok());
    CHECK(replayed->report.outcome == expected);
    CHECK(replayed->machine->log().hash() == run->machine->log().hash());
  }
}

TEST_CASE("the counter workload is correct for every oracle, CPU count and many seeds") {
  for (std::string kind : {"round-robin", "random",
                    "pct"}) {
    for (int cpus : {1, 2, 3, 8}) {
      std::set<std::uint64_t> hashes;
      for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        CAPTURE(kind);
        CAPTURE(cpus);
        CAPTURE(seed);
        Config c;
        c.source = "test";
        c.machine.cpus = cpus;
        c.oracle = kind;
        c.seed = seed;
        c.iterations = 10;
        c.pct_horizon = 500;
        auto run = RunConfig(c, testing::Builtin());
        REQUIRE(run.ok());
        CHECK(run->report.outcome == Outcome::kOk);
        hashes.insert(run->machine->log().hash());
      }
      // Seeds must matter whenever there is a choice to make. PCT varies
      // less: with few CPUs most of its change points fall after the run.
      CAPTURE(hashes.size());
      if (kind == "random" && cpus > 1) CHECK(hashes.size() >= 10);
      if (kind == "pct" && cpus > 1) CHECK(hashes.size() >= 2);
      if (kind == "round-robin" || cpus == 1) CHECK(hashes.size() == 1);
    }
  }
}

TEST_CASE("the lost update is found by the random oracle on most seeds") {
  int found = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Config c;
    c.source = "test";
    c.machine.cpus = 2;
    c.oracle = "random";
    c.seed = seed;
    c.workload = "lost-update";
    c.iterations = 10;
    auto run = RunConfig(c, testing::Builtin());
    REQUIRE(run.ok());
    if (run->report.outcome == Outcome::kWrongResult) ++found;
  }
  CHECK(found >= 15);
}

}  // namespace
}  // namespace strata::boot
