// Per-CPU checks in the generic calculus (DESIGN §2.2): a failure only
// environment CPUs are in is the environment's; the explorer counts such
// runs apart and goes on; the environment's clients draw at the edges; the
// adversarial schedule; the portfolio's members in turn.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "layers/explorer.h"
#include "machine/environment.h"
#include "machine/machine.h"
#include "machine/rng.h"
#include "tests/layers/toy_layers.h"

namespace strata::layers::toy {
namespace {

using machine::MachineOptions;
using machine::OracleKind;
using machine::Outcome;

TEST_CASE("a failure only environment cpus are in is the environment's, never the focused cpu's") {
  const CounterOptions bad{.module = Module::kNoLinearization, .iterations = 1};
  // Round-robin: cpu 0's call returns first, without its linearization point.
  auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
  Execution multicore = Check(bad, MachineOptions{.cpus = 2}, *oracle);
  INFO(Show(multicore));
  CHECK(multicore.verdict.kind == Outcome::kRefinementViolation);
  CHECK(multicore.verdict.cpus == std::vector<CpuId>{CpuId(0)});
  oracle = OracleOf(OracleKind::kRoundRobin, 2);
  Execution focus0 = Check(bad, MachineOptions{.cpus = 2, .focus = CpuId(0)}, *oracle);
  CHECK(focus0.verdict.kind == Outcome::kRefinementViolation);
  oracle = OracleOf(OracleKind::kRoundRobin, 2);
  Execution focus1 = Check(bad, MachineOptions{.cpus = 2, .focus = CpuId(1)}, *oracle);
  INFO(Show(focus1));
  CHECK(focus1.verdict.kind == Outcome::kInvalidEnvironment);
  CHECK(focus1.verdict.message.rfind("the first bad step is environment cpu 0's, not focused cpu "
                                     "1's (the environment runs the module too): "
                                     "refinement-violation: ", 0) == 0);
  // A deadlock names its victims, not a culprit: it is never the environment's.
  oracle = OracleOf(OracleKind::kRoundRobin, 2);
  Execution never = Check({.module = Module::kAwaitNever, .iterations = 1},
                          MachineOptions{.cpus = 2, .focus = CpuId(1)}, *oracle);
  INFO(Show(never));
  CHECK(never.verdict.kind == Outcome::kDeadlock);
  // A correct module refines on every focus.
  for (int focus : {0, 1}) {
    oracle = OracleOf(OracleKind::kRandom, 2);
    Execution good = Check({}, MachineOptions{.cpus = 2, .focus = CpuId(focus)}, *oracle);
    CHECK(good.verdict.ok());
  }
}

TEST_CASE("a per-CPU exploration counts the runs that left the rely and finds the focused cpu's failure") {
  const CounterOptions bad{.module = Module::kNoLinearization, .iterations = 1};
  const CounterPair pair(bad);
  const NamedEnvironment random{.name = "random", .env = *machine::RandomEnvironment().check};
  ExploreOptions explore{.strategy =
                             [random](const StrategyOptions& o) {
                               return WithEnvironment(MakeRandomStrategy(o), random, CpuId(1), o.cpus);
                             },
                         .runs = 200};
  ExploreResult r = Explore(pair, MachineOptions{.cpus = 2}, explore);
  REQUIRE(r.failure.has_value());
  INFO(Show(*r.failure));
  CHECK(r.failure->verdict.kind == Outcome::kRefinementViolation);
  CHECK(r.failure->verdict.cpus == std::vector<CpuId>{CpuId(1)});
  CHECK(r.failure->machine->options().focus == CpuId(1));
  CHECK(r.found_by.find("against the random environment (focus cpu 1)") != std::string::npos);
  CHECK(r.environment == "random");
  // With the correct module nothing leaves the rely and nothing fails; the
  // focus goes round the cpus.
  const CounterPair good((CounterOptions()));
  explore.strategy = [random](const StrategyOptions& o) {
    return WithEnvironment(MakeRandomStrategy(o), random, CpuId(), o.cpus);
  };
  ExploreResult ok = Explore(good, MachineOptions{.cpus = 3}, explore);
  CHECK_FALSE(ok.failure.has_value());
  CHECK(ok.left_rely == 0);
  CHECK(ok.executions == 200);
  // When the focused cpu never fails first, the environment's failure is
  // the result: never a pass. The adversarial environment's first
  // execution runs the environment first, so cpu 1's call returns first.
  const NamedEnvironment adversarial{.name = "adversarial",
                                     .env = *machine::AdversarialEnvironment().check};
  ExploreOptions one = explore;
  one.runs = 1;
  one.strategy = [adversarial](const StrategyOptions& o) {
    return WithEnvironment(MakeRandomStrategy(o), adversarial, CpuId(0), o.cpus);
  };
  const ExploreResult env_only = Explore(pair, MachineOptions{.cpus = 2}, one);
  REQUIRE(env_only.left_rely == 1);
  REQUIRE(env_only.first_left_rely.has_value());
  CHECK(env_only.first_left_rely->kind == Outcome::kInvalidEnvironment);
  CHECK(env_only.executions == 0);
  REQUIRE(env_only.failure.has_value());
  CHECK(env_only.failure->verdict.kind == Outcome::kInvalidEnvironment);
}

TEST_CASE("an environment's clients draw at the edges; the focused cpu and a multicore run draw uniformly") {
  const std::uint64_t seed = 42;
  // The uniform stream is the one every client had before environments.
  machine::ClientRng uniform(seed, 3);
  machine::StreamRng plain(machine::MixSeed(seed ^ machine::MixSeed(4)));
  for (int k = 0; k < 100; ++k) CHECK(uniform.Below(10) == plain.Below(10));
  machine::ClientRng edges(seed, 3, machine::Draws::kEdges);
  int high = 0;
  std::set<std::uint64_t> picks;
  for (int k = 0; k < 400; ++k) {
    const std::uint64_t v = edges.Below(10);
    CHECK((v == 0 || v == 9));
    high += v == 9;
    picks.insert(edges.Pick(10));
  }
  CHECK(high > 250);  // three in four
  CHECK(high < 350);
  CHECK(picks.size() == 10);  // alternatives stay uniform
  CHECK(edges.Below(1) == 0);
  const MachineOptions adversarial{.cpus = 3, .focus = CpuId(1),
                                   .environment_draws = machine::Draws::kEdges};
  CHECK(machine::DrawsOf(adversarial, CpuId(0)) == machine::Draws::kEdges);
  CHECK(machine::DrawsOf(adversarial, CpuId(1)) == machine::Draws::kUniform);
  CHECK(machine::DrawsOf(MachineOptions{.cpus = 3, .environment_draws = machine::Draws::kEdges},
                         CpuId(0)) == machine::Draws::kUniform);
}

TEST_CASE("the adversarial schedule runs the environment or the focused cpu first, in turn") {
  auto lowest = OracleOf(OracleKind::kRoundRobin, 3);
  const std::array<CpuId, 3> all = {CpuId(0), CpuId(1), CpuId(2)};
  const std::array<CpuId, 1> only_focus = {CpuId(0)};
  const std::array<CpuId, 2> without_focus = {CpuId(1), CpuId(2)};
  // Even executions: the environment first, the cpu that ran last going on.
  auto env_first = machine::AdversarialSchedule(CpuId(0), 0, *lowest);
  CHECK(env_first->Pick({.step = 0, .runnable = all}) != CpuId(0));
  CHECK(env_first->Pick({.step = 1, .runnable = all, .last = CpuId(2)}) == CpuId(2));
  CHECK(env_first->Pick({.step = 2, .runnable = only_focus, .last = CpuId(2)}) == CpuId(0));
  // The fairness guard's overdue cpu is always the one.
  CHECK(env_first->Pick({.step = 3, .runnable = all, .last = CpuId(2), .overdue = CpuId(0)}) ==
        CpuId(0));
  // Odd executions: the focused cpu whenever it can run.
  auto focus_first = machine::AdversarialSchedule(CpuId(0), 1, *lowest);
  CHECK(focus_first->Pick({.step = 0, .runnable = all, .last = CpuId(2)}) == CpuId(0));
  CHECK(focus_first->Pick({.step = 1, .runnable = without_focus, .last = CpuId(2)}) == CpuId(2));
  CHECK(focus_first->Pick({.step = 2, .runnable = all, .last = CpuId(0), .overdue = CpuId(1)}) ==
        CpuId(1));
}

TEST_CASE("the portfolio runs its members in turn, each on its own machine, and names each") {
  const std::vector<NamedEnvironment> envs = {
      {.name = "random", .env = *machine::RandomEnvironment().check},
      {.name = "adversarial", .env = *machine::AdversarialEnvironment().check}};
  auto p = MakePortfolioStrategy({.cpus = 2, .seed = 5, .environments = envs});
  CHECK_FALSE(p->exhaustive());
  std::vector<std::string> members;
  const MachineOptions base{.cpus = 2, .client_seed = 999};
  for (int i = 0; i < 7; ++i) {
    p->Next(static_cast<std::uint64_t>(i));
    const MachineOptions run = p->MachineFor(base);
    members.push_back(p->Member());
    CAPTURE(p->Member());
    // dfs explores one client; the environment members are per-CPU runs.
    CHECK(run.client_seed == (i == 4 ? 5u : 999u));
    CHECK(run.focus.valid() == (i >= 5));
    CHECK(p->Environment() == (i == 5 ? "random" : i == 6 ? "adversarial" : ""));
    CHECK(p->Advance());
  }
  CHECK(members[0] == "random (seed 5)");
  CHECK(members[1].rfind("pct (depth 2,", 0) == 0);
  CHECK(members[3].rfind("pct (depth 4,", 0) == 0);
  CHECK(members[4] == "dfs (sleep-set reduction, at most 2 preemptions)");
  CHECK(members[5].find("against the random environment (focus cpu 0)") != std::string::npos);
  CHECK(members[6].find("against the adversarial environment (focus cpu 0)") != std::string::npos);
  // Explored, it finds the lost update and says which member did.
  const CounterPair lost({.module = Module::kLoadStore, .iterations = 2});
  ExploreResult r = Explore(lost, MachineOptions{.cpus = 2},
                            {.strategy = [envs](const StrategyOptions& o) {
                               StrategyOptions with = o;
                               with.environments = envs;
                               return MakePortfolioStrategy(with);
                             },
                             .runs = 500});
  REQUIRE(r.failure.has_value());
  // The member that ran the failing execution, by its own description.
  CHECK((r.found_by.rfind("random (seed ", 0) == 0 || r.found_by.rfind("pct (depth ", 0) == 0 ||
         r.found_by.rfind("dfs (", 0) == 0));
  CHECK(r.found_by != p->Describe());
}

}  // namespace
}  // namespace strata::layers::toy
