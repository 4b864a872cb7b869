// Per-CPU checks (strata check --env random|adversarial): the known-bad
// corpus run against each environment with the verdict each must get, the
// errors for what no check can run, the portfolio naming its member, and
// per-CPU failures replaying from their schedule files.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>

#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using testing::Command;
using testing::RunStrata;
using testing::Source;
using testing::TempDir;

// The verdict after "FAILED     layer X: ", or "refines" if none failed.
std::string VerdictOf(const Command& c) {
  const std::string failed = "  FAILED     layer ";
  const std::size_t at = c.out.find(failed);
  if (at == std::string::npos) return c.exit_code == 0 ? "refines" : "exit " + std::to_string(c.exit_code);
  const std::size_t colon = c.out.find(": ", at);
  const std::size_t end = c.out.find('\n', colon);
  return c.out.substr(colon + 2, end - colon - 2);
}

// Each known-bad config of configs/check/bad/ checked per CPU, with the
// verdict it gets against the random and the adversarial environment
// (strategy random: the adversarial schedule is not dfs's to explore).
// "refines" marks a bug the environment misses: the adversarial schedule
// switches seldom (it is fixed but for the strategy's pick among the
// environment cpus), and these bugs need a switch inside a narrow window.
struct CorpusCase {
  const char* config;
  const char* random;
  const char* adversarial;
};
constexpr CorpusCase kCorpus[] = {
    {"lock-overrun", "impossible-upper-log", "impossible-upper-log"},
    {"mcs-keep-busy", "refinement-violation", "refines"},
    {"mcs-no-wait-next", "refinement-violation", "refines"},
    {"queue-full-overwrites", "relation-broken", "relation-broken"},
    {"queue-lifo", "relation-broken", "relation-broken"},
    {"queue-no-lock", "data-race", "refines"},
    {"queue-no-pull", "data-race", "data-race"},
    {"queue-off-by-one", "return-mismatch", "return-mismatch"},
    {"sched-leak-tcb", "impossible-upper-log", "impossible-upper-log"},
    {"sched-lifo", "impossible-upper-log", "impossible-upper-log"},
    {"sched-lose-sleeper", "relation-broken", "relation-broken"},
    {"sched-lost-wakeup", "deadlock", "refines"},
    {"sched-sleep-unlocked", "impossible-log", "impossible-log"},
    {"sched-wrong-cpu", "relation-broken", "relation-broken"},
    {"sched-yield-drops", "impossible-upper-log", "impossible-upper-log"},
    {"tas-starvation", "starvation", "starvation"},
    {"tcb-forget-used", "relation-broken", "relation-broken"},
    {"tcb-highest-free", "relation-broken", "relation-broken"},
    {"tcb-no-lock", "data-race", "data-race"},
    {"tcb-stale-fields", "relation-broken", "relation-broken"},
    {"tcb-write-free", "relation-broken", "relation-broken"},
    {"ticket-double-bump", "refinement-violation", "refinement-violation"},
    {"ticket-leaky", "nondeterminism", "nondeterminism"},
    {"ticket-load-store", "impossible-lower-log", "impossible-lower-log"},
    // The same bug on 2 cpus, F = 64 and 200 runs (a PCT config): the
    // adversarial environment's few switches miss its window.
    {"ticket-load-store-pct", "impossible-lower-log", "refines"},
    {"ticket-no-bump", "refinement-violation", "refinement-violation"},
};

TEST_CASE("the known-bad corpus checked per CPU gets its verdict against each environment") {
  // Every known-bad config with a rely is in the table; the thread layer has none.
  std::size_t listed = 0;
  for (const auto& e : std::filesystem::directory_iterator(Source("configs/check/bad"))) {
    const std::string name = e.path().stem().string();
    if (name.rfind("thread-", 0) == 0) continue;
    CAPTURE(name);
    CHECK(std::any_of(std::begin(kCorpus), std::end(kCorpus),
                      [&](const CorpusCase& k) { return name == k.config; }));
    ++listed;
  }
  CHECK(listed == std::size(kCorpus));
  TempDir dir;
  for (const CorpusCase& k : kCorpus) {
    const std::string config = "'" + Source(std::string("configs/check/bad/") + k.config + ".toml") + "'";
    for (const auto& [env, expected] :
         {std::pair<std::string, std::string>{"random", k.random}, {"adversarial", k.adversarial}}) {
      CAPTURE(k.config);
      CAPTURE(env);
      Command c = RunStrata("check " + config + " --env " + env +
                                " --strategy random --schedule s.schedule",
                            dir.path());
      INFO(c.out);
      INFO(c.err);
      CHECK(VerdictOf(c) == expected);
      CHECK(c.out.find("  env        " + env + ": per-CPU checks, each cpu in turn the focus") !=
            std::string::npos);
      if (expected == "refines") {
        CHECK(c.out.find("executions (not exhaustive; the focused cpu's calls, against the " + env +
                         " environment)") != std::string::npos);
        continue;
      }
      // The failure is the focused cpu's, and its schedule replays it on
      // the per-CPU machine it ran on.
      CHECK(c.out.find("  found by   random (seed 1) against the " + env + " environment (focus cpu ") !=
            std::string::npos);
      Command r = RunStrata("replay s.schedule", dir.path());
      INFO(r.out);
      CHECK(r.exit_code == 1);
      CHECK(r.out.find("  env        " + env + ": the per-CPU machine of cpu ") != std::string::npos);
      CHECK(r.out.find("replay     reproduced: " + expected) != std::string::npos);
    }
  }
}

TEST_CASE("runs the environment fails first are counted; with no failure of the focused cpu one is the result") {
  TempDir dir;
  // Three cpus with the MCS release that never clears the successor's busy
  // flag, against the adversarial environment: the environment cpus (which
  // run the module too) break it first in many runs, the focused one never
  // does; the check fails as invalid-environment, never "refines".
  Command c = RunStrata("check '" + Source("configs/check/bad/mcs-keep-busy.toml") +
                            "' --env adversarial --strategy random --cpus 3 --runs 400 "
                            "--schedule e.schedule",
                        dir.path());
  INFO(c.out);
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("more runs failed at an environment cpu's step first (not counted as "
                   "executions; the first: the first bad step is environment cpu ") !=
        std::string::npos);
  CHECK(VerdictOf(c) == "invalid-environment");
  CHECK(c.out.find("verdict: refines") == std::string::npos);
  CHECK(c.out.find("verdict: no violation") == std::string::npos);
  Command r = RunStrata("replay e.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("replay     reproduced: invalid-environment") != std::string::npos);
  // Where the focused cpu fails too, that is the verdict.
  Command found = RunStrata("check '" + Source("configs/check/bad/tas-starvation.toml") +
                                "' --env random --strategy random",
                            dir.path());
  INFO(found.out);
  CHECK(VerdictOf(found) == "starvation");
  CHECK(found.out.find("1 more run failed at an environment cpu's step first") != std::string::npos);
}

TEST_CASE("the portfolio shares the runs between its members and names the one that found the failure") {
  TempDir dir;
  // MCS keeping the successor busy: the first member, random, finds it in
  // its first run (per_cpu_test names environment members).
  Command mcs = RunStrata("check '" + Source("configs/check/bad/mcs-keep-busy.toml") +
                              "' --strategy portfolio --schedule p.schedule",
                          dir.path());
  INFO(mcs.out);
  CHECK(mcs.exit_code == 1);
  CHECK(mcs.out.find("strategy   portfolio of random (seed 1), pct (depth 2, ") != std::string::npos);
  CHECK(mcs.out.find("dfs (sleep-set reduction, at most 2 preemptions), random") !=
        std::string::npos);
  CHECK(mcs.out.find("  found by   random (seed 1)\n") != std::string::npos);
  Command r = RunStrata("replay p.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("replay     reproduced: refinement-violation") != std::string::npos);
  // TAS starvation: the third member's first run (the bound is F + 1
  // steps per step waited for, which the fairness guard keeps).
  Command tas = RunStrata("check '" + Source("configs/check/bad/tas-starvation.toml") +
                              "' --strategy portfolio",
                          dir.path());
  INFO(tas.out);
  CHECK(VerdictOf(tas) == "starvation");
  CHECK(tas.out.find("  found by   pct (depth 3, horizon from the run)\n") != std::string::npos);
  // A good stack: every member runs, nothing is found.
  Command good = RunStrata("check '" + Source("configs/check/ticket.toml") +
                               "' --strategy portfolio --runs 400",
                           dir.path());
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("400 executions") != std::string::npos);
}

TEST_CASE("what no check can run against is a one-line error before anything runs") {
  TempDir dir;
  const std::string ticket = "'" + Source("configs/check/ticket.toml") + "'";
  struct Case {
    std::string args, error;
  } cases[] = {
      {"check " + ticket + " --env recorded --focus 1",
       "env.kind: \"recorded\" replays a boot run (strata boot, strata compose): expected live, "
       "or an environment a check runs against (random, adversarial)"},
      {"check " + ticket + " --focus 1",
       "env.focus: a check against the live environment runs every cpu live: expected -1, or "
       "env.kind one of random, adversarial, got 1"},
      {"check " + ticket + " --env random --cpus 1",
       "machine.cpus: a per-CPU check against the random environment needs other cpus: expected "
       "at least 2, got 1"},
      {"check " + ticket + " --env adversarial --strategy dfs",
       "check.strategy: the adversarial environment shapes the schedule itself: expected a "
       "strategy that is not exhaustive (random, pct), got dfs"},
      {"check " + ticket + " --env random --strategy dfs",
       "check.strategy: the random environment shapes the schedule itself: expected a "
       "strategy that is not exhaustive (random, pct), got dfs"},
      {"check " + ticket + " --env random --strategy portfolio",
       "env.kind: check.strategy portfolio runs against every environment itself: expected live "
       "with it, got \"random\""},
      {"check " + ticket + " --env random --layer thread",
       "check.layer: the thread layer declares no rely, so it has no per-CPU check: expected a "
       "layer with one, or env.kind live"},
      {"boot '" + Source("configs/counter.toml") + "' --env random --focus 1",
       "env.kind: \"random\" moves within a layer's rely, which only `strata check` has: expected "
       "live or recorded for a boot run"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.args);
    Command c = RunStrata(k.args, dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err.find(k.error) != std::string::npos);
    CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
    CHECK(c.out.empty());
  }
}

TEST_CASE("strata layers prints each layer's rely and guarantee") {
  TempDir dir;
  Command c = RunStrata("layers '" + Source("configs/check/ticket.toml") + "'", dir.path());
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("rely: other CPUs take the lock with bounds of their choosing") != std::string::npos);
  CHECK(c.out.find("guarantee: each acquire returns holding the lock") != std::string::npos);
  CHECK(c.out.find("rely: other CPUs' threads spawn, yield, sleep on and wake") != std::string::npos);
}

}  // namespace
}  // namespace strata::boot
