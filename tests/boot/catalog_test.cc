// The catalog's own corpus: every entry of strata's catalog, found by
// iterating its registries, so an entry added to the catalog is tested here
// without a line of this file changing. A good module must refine its spec
// under random, pct and dfs; a known-bad one must be caught, under each of
// them, with exactly the verdict its entry declares. Every name must
// round-trip through a config and the command line.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "boot/boot.h"
#include "boot/catalog.h"
#include "boot/compose.h"
#include "boot/config.h"
#include "layers/explorer.h"
#include "sched/stack.h"
#include "sched/tsched.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using testing::Builtin;

const std::string kStrategies[] = {"random", "pct", "dfs"};

// The verdict of checking `layer` of `stack` on `cpus` CPUs with `strategy`.
layers::Verdict CheckLayer(const std::string& layer, const sched::StackOptions& stack, int cpus,
                           const std::string& strategy, std::uint64_t runs) {
  const Catalog& c = Builtin();
  auto pair = sched::MakePair(layer, stack, c);
  REQUIRE(pair != nullptr);
  layers::ExploreResult r = layers::Explore(
      *pair, machine::MachineOptions{.cpus = cpus},
      {.strategy = c.strategies.Find(strategy)->make, .seed = 1, .runs = runs, .pct_horizon = 80,
       .shrink = false});
  if (!r.failure) {
    CHECK(r.executions > 0);
    return layers::Verdict{};
  }
  return r.failure->verdict;
}

// Checks one entry of `layer` with each of `clients`: a good one refines
// with every client; a known-bad one is caught by some client with its
// declared verdict, and by no client with another verdict.
template <class Entry>
void Expect(const Entry& e, const std::string& layer, sched::StackOptions stack, int cpus,
            const std::string& strategy, std::uint64_t runs,
            std::initializer_list<const char*> clients) {
  std::set<std::string> verdicts;
  for (const char* client : clients) {
    CAPTURE(client);
    stack.client = client;
    const layers::Verdict v = CheckLayer(layer, stack, cpus, strategy, runs);
    if (!e.known_bad) {
      INFO(v.message);
      CHECK(v.name() == "refines");
    }
    verdicts.insert(v.name());
  }
  if (e.known_bad) {
    verdicts.erase("refines");
    // dfs explores one client's schedules (the general client of one seed),
    // which may not reach a bug the general client finds on other seeds:
    // there it must not give another verdict.
    if (strategy == "dfs" && verdicts.empty()) return;
    CHECK(verdicts == std::set<std::string>{e.expect});
  }
}

// The kernel layers' clients: the most-general one and the fixed one.
constexpr std::initializer_list<const char*> kKernelClients = {"general", "fixed"};

TEST_CASE("every lock of the catalog refines, or is caught with its declared verdict") {
  for (const auto& e : Builtin().locks.entries()) {
    for (const std::string& strategy : kStrategies) {
      CAPTURE(e.name);
      CAPTURE(strategy);
      sched::StackOptions stack;
      stack.lock = e.name;
      stack.iterations = 2;
      stack.bound = 2;
      Expect(e, "lock", stack, 3, strategy, 3000, kKernelClients);
    }
  }
}

TEST_CASE("every queue of the catalog refines, or is caught with its declared verdict") {
  for (const auto& e : Builtin().queues.entries()) {
    for (const std::string& strategy : kStrategies) {
      CAPTURE(e.name);
      CAPTURE(strategy);
      sched::StackOptions stack;
      stack.queue = e.name;
      stack.iterations = 2;
      stack.capacity = 2;  // small enough to fill
      Expect(e, "queue", stack, 2, strategy, 3000, kKernelClients);
    }
  }
}

TEST_CASE("every TCB pool of the catalog refines, or is caught with its declared verdict") {
  for (const auto& e : Builtin().tcbs.entries()) {
    for (const std::string& strategy : kStrategies) {
      CAPTURE(e.name);
      CAPTURE(strategy);
      sched::StackOptions stack;
      stack.tcb = e.name;
      stack.iterations = 2;
      stack.capacity = 3;  // small enough to run out
      Expect(e, "tcb", stack, 2, strategy, 3000, kKernelClients);
    }
  }
}

TEST_CASE("every scheduler of the catalog refines, or is caught with its declared verdict") {
  for (const auto& e : Builtin().scheds.entries()) {
    for (const std::string& strategy : kStrategies) {
      CAPTURE(e.name);
      CAPTURE(strategy);
      sched::StackOptions stack;
      stack.sched = e.name;
      stack.iterations = 2;
      // The most-general client, one that yields, one that sleeps and wakes
      // up across CPUs.
      Expect(e, "sched", stack, 2, strategy, 500, {"general", "thread-counter", "ping-pong"});
    }
  }
}

// The default check (Config's defaults: its machine, strategy, runs, seed
// and the most-general clients) of `layer` with `set` applied to the stack.
// `cpus` (if not 0) replaces the default machine's.
layers::Verdict DefaultCheck(const std::string& layer,
                             const std::function<void(sched::StackOptions&)>& set, int cpus = 0) {
  Config defaults;
  if (cpus != 0) defaults.machine.cpus = cpus;
  const Catalog& c = Builtin();
  sched::StackOptions stack = defaults.stack;
  set(stack);
  auto pair = sched::MakePair(layer, stack, c);
  REQUIRE(pair != nullptr);
  layers::ExploreResult r = layers::Explore(
      *pair, defaults.machine,
      {.strategy = c.strategies.Find(defaults.strategy)->make, .seed = defaults.seed,
       .runs = defaults.runs, .shrink = false});
  return r.failure ? r.failure->verdict : layers::Verdict{};
}

TEST_CASE("the default check catches every known-bad module of the catalog with its verdict") {
  const Catalog& c = Builtin();
  auto each = [](const auto& registry, const std::string& layer, auto field) {
    for (const auto& e : registry.entries()) {
      if (!e.known_bad) continue;
      CAPTURE(e.name);
      const layers::Verdict v =
          DefaultCheck(layer, [&](sched::StackOptions& s) { s.*field = e.name; });
      INFO(v.message);
      CHECK(v.name() == e.expect);
    }
  };
  each(c.locks, "lock", &sched::StackOptions::lock);
  each(c.queues, "queue", &sched::StackOptions::queue);
  each(c.tcbs, "tcb", &sched::StackOptions::tcb);
  each(c.scheds, "sched", &sched::StackOptions::sched);
}

TEST_CASE("some known-bad modules pass the default check on 2 CPUs with the fixed client, not with "
          "the most-general one") {
  struct Case {
    std::string layer, impl;
    std::string sched::StackOptions::*field;
  };
  const Case cases[] = {
      {"queue", "module-full-overwrites", &sched::StackOptions::queue},  // 2 x 2 enqs never fill 4 slots
      {"tcb", "tcb-write-free", &sched::StackOptions::tcb},  // writes only TCBs it holds
  };
  for (const Case& k : cases) {
    CAPTURE(k.impl);
    for (const char* client : {"fixed", "general"}) {
      CAPTURE(client);
      const layers::Verdict v = DefaultCheck(k.layer, [&](sched::StackOptions& s) {
        s.*k.field = k.impl;
        s.client = client;
      }, 2);
      CHECK(v.name() == (std::string(client) == "fixed" ? "refines" : "relation-broken"));
    }
  }
}

TEST_CASE("every thread workload of the catalog runs clean as a check client, or fails as declared") {
  for (const auto& e : Builtin().threads.entries()) {
    CAPTURE(e.name);
    if (e.expect == "tlink-mismatch") {
      // Its flaw is invisible to one run; the TLink check shows it.
      for (const char* impl : {"spec", "module"}) {
        CAPTURE(impl);
        sched::StackOptions stack;
        stack.sched = impl;
        sched::TLinkOptions o;
        o.machine.cpus = 2;
        o.oracle = machine::MakeOracle;
        o.oracle_options = {.kind = machine::OracleKind::kRandom, .seed = 1, .cpus = 2};
        o.pair = sched::SchedPairOptionsFor(stack, Builtin(), std::string(e.name));
        o.pair.iterations = 4;
        const sched::TLinkResult r = sched::CheckTLink(o);
        CHECK(r.recorded.ok());
        CHECK_FALSE(r.ok());
        if (std::string(impl) == "spec") {
          // A thread run alone against the others' recorded events departs.
          CHECK(r.problem.find("the composed log differs from the thread-level log") == 0);
        } else {
          // Host-memory timing differs between the module's run and the
          // spec's: the sched layer already sees it.
          CHECK(r.problem.find("the scheduler does not refine its spec on the recorded run") == 0);
        }
      }
      continue;
    }
    for (const std::string& strategy : kStrategies) {
      CAPTURE(strategy);
      sched::StackOptions stack;
      stack.iterations = 2;
      Expect(e, "sched", stack, std::max(2, e.make.min_cpus), strategy, 500, {e.name.c_str()});
    }
  }
}

TEST_CASE("every bare-machine workload boots clean, or ends as declared, under random and pct") {
  for (const auto& e : Builtin().workloads.entries()) {
    for (const char* oracle : {"random", "pct"}) {
      CAPTURE(e.name);
      CAPTURE(oracle);
      std::set<std::string> outcomes;
      for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        Config c;
        c.source = "test";
        c.machine.cpus = std::max(2, e.make.min_cpus);
        c.oracle = oracle;
        c.seed = seed;
        c.workload = e.name;
        c.iterations = 20;
        c.pct_horizon = 200;
        auto run = RunConfig(c, Builtin());
        REQUIRE(run.ok());
        outcomes.insert(std::string(machine::OutcomeName(run->report.outcome)));
        if (e.expect == "non-compositional") {
          // Every run is fine; its per-CPU machines do not compose.
          auto composition = ComposeConfig(c, Builtin());
          REQUIRE(composition.ok());
          CHECK_FALSE(composition->compositional());
          outcomes.insert(e.expect);
        }
      }
      if (e.known_bad) {
        // It ends as declared on some seed, and on no seed in another failure.
        outcomes.erase("ok");
        CHECK(outcomes == std::set<std::string>{e.expect});
      } else {
        CHECK(outcomes == std::set<std::string>{"ok"});
      }
    }
  }
}

TEST_CASE("every oracle of the catalog runs the counter correctly and deterministically") {
  for (const auto& e : Builtin().oracles.entries()) {
    CAPTURE(e.name);
    Config c;
    c.source = "test";
    c.machine.cpus = 3;
    c.oracle = e.name;
    c.iterations = 20;
    auto first = RunConfig(c, Builtin());
    auto second = RunConfig(c, Builtin());
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(first->report.ok());
    CHECK(first->machine->log().hash() == second->machine->log().hash());
  }
}

// Each registry with the config key and the command-line flag that name its
// entries, the command that takes the flag (with options that keep the run
// short) and tables a config needs around it.
struct Key {
  std::string table, key, flag, command, extra;
};

template <class R>
void RoundTrip(const R& registry, const Key& k) {
  testing::TempDir dir;
  for (const auto& e : registry.entries()) {
    CAPTURE(registry.what());
    CAPTURE(e.name);
    const std::string text =
        fmt::format("[machine]\ncpus = 2\n[{}]\n{} = \"{}\"\n{}", k.table, k.key, e.name, k.extra);
    auto c = LoadConfig(dir.Write("c.toml", text), Builtin());
    REQUIRE(c.ok());
    auto back = LoadConfig(dir.Write("back.toml", ConfigToToml(*c)), Builtin());
    REQUIRE(back.ok());
    CHECK(ConfigToToml(*back) == ConfigToToml(*c));
    CHECK(ConfigToToml(*c).find(fmt::format("{} = \"{}\"", k.key, e.name)) != std::string::npos);
    // The same name on the command line is accepted (a run, not bad usage).
    const std::string base = dir.Write("base.toml", "[machine]\ncpus = 2\n" + k.extra);
    testing::Command run = testing::RunStrata(
        fmt::format("{} '{}' {} {}", k.command, base, k.flag, e.name), dir.path().string());
    CHECK(run.exit_code != 2);
    CHECK(run.err.find("error") == std::string::npos);
  }
  // A name no entry has is refused on both paths, with the registry's list.
  auto bad = LoadConfig(
      dir.Write("bad.toml", fmt::format("[{}]\n{} = \"no-such-entry\"\n", k.table, k.key)),
      Builtin());
  REQUIRE_FALSE(bad.ok());
  CHECK(std::string(bad.status().message()).find(registry.Names()) != std::string::npos);
  testing::Command refused = testing::RunStrata(
      fmt::format("{} '{}' {} no-such-entry", k.command, dir.Write("base.toml", k.extra), k.flag),
      dir.path().string());
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find(registry.Names()) != std::string::npos);
}

TEST_CASE("every name of the catalog round-trips through a config and the command line") {
  const Catalog& c = Builtin();
  RoundTrip(c.locks, {"stack", "lock", "--lock", "check --runs 1 --no-shrink --layer lock", ""});
  RoundTrip(c.queues, {"stack", "queue", "--queue", "check --runs 1 --no-shrink --layer queue", ""});
  RoundTrip(c.tcbs, {"stack", "tcb", "--tcb", "check --runs 1 --no-shrink --layer tcb", ""});
  RoundTrip(c.scheds, {"stack", "sched", "--sched", "check --runs 1 --no-shrink --layer sched", ""});
  RoundTrip(c.strategies,
            {"check", "strategy", "--strategy", "check --runs 1 --no-shrink --layer lock", ""});
  RoundTrip(c.oracles, {"oracle", "kind", "--oracle", "boot", "[workload]\niterations = 2\n"});
  RoundTrip(c.workloads, {"workload", "kind", "--workload", "boot", "[run]\nmax_steps = 20000\n"});
  RoundTrip(c.threads, {"workload", "kind", "--workload", "boot", "[run]\nmax_steps = 20000\n"});
}

}  // namespace
}  // namespace strata::boot
