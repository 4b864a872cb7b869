#include <doctest/doctest.h>

#include <set>
#include <string>

#include "boot/config.h"
#include "boot/keys.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using testing::TempDir;

std::string ErrorOf(const std::string& toml) {
  TempDir dir;
  std::string path = dir.Write("c.toml", toml);
  auto c = LoadConfig(path, testing::Builtin());
  REQUIRE_FALSE(c.ok());
  std::string msg(c.status().message());
  // Messages name the file; strip the temp dir so tests can compare exactly.
  REQUIRE(msg.rfind(path, 0) == 0);
  return "c.toml" + msg.substr(path.size());
}

TEST_CASE("an empty config gives every default") {
  TempDir dir;
  auto c = LoadConfig(dir.Write("c.toml", ""), testing::Builtin());
  REQUIRE(c.ok());
  CHECK(c->machine.cpus == 4);
  CHECK(c->machine.stack_bytes == 64 * 1024);
  CHECK(c->oracle == "round-robin");
  CHECK(c->seed == 1);
  CHECK(c->machine.fairness == 0);
  CHECK(c->machine.max_steps == 1'000'000);
  CHECK(c->workload == "counter");
  CHECK(c->iterations == 100);
}

TEST_CASE("a full config is read key by key") {
  TempDir dir;
  auto c = LoadConfig(dir.Write("c.toml", R"(
[machine]
cpus = 8
stack_kib = 128
[oracle]
kind = "pct"
seed = 99
fairness = 40
pct_depth = 4
pct_horizon = 777
[run]
max_steps = 5000
[workload]
kind = "lost-update"
iterations = 3
)"), testing::Builtin());
  REQUIRE(c.ok());
  CHECK(c->machine.cpus == 8);
  CHECK(c->machine.stack_bytes == 128 * 1024);
  CHECK(c->oracle == "pct");
  CHECK(c->seed == 99);
  CHECK(c->machine.fairness == 40);
  CHECK(c->pct_depth == 4);
  CHECK(c->pct_horizon == 777);
  CHECK(c->machine.max_steps == 5000);
  CHECK(c->workload == "lost-update");
  CHECK(c->iterations == 3);
}

TEST_CASE("ConfigToToml gives back an equal config") {
  TempDir dir;
  auto c = LoadConfig(dir.Write("a.toml", "[machine]\ncpus = 3\n[oracle]\nkind = \"random\"\nseed = 5\n"), testing::Builtin());
  REQUIRE(c.ok());
  auto back = LoadConfig(dir.Write("b.toml", ConfigToToml(*c)), testing::Builtin());
  REQUIRE(back.ok());
  CHECK(ConfigToToml(*back) == ConfigToToml(*c));
}

TEST_CASE("bad configs give one line naming the file, the line, the key and what was expected") {
  CHECK(ErrorOf("[machine]\ncpus = 0\n") ==
        "c.toml:2: machine.cpus: expected an integer from 1 to 1024, got 0");
  CHECK(ErrorOf("[machine]\ncpus = 100000\n") ==
        "c.toml:2: machine.cpus: expected an integer from 1 to 1024, got 100000");
  CHECK(ErrorOf("[machine]\ncpus = \"four\"\n") ==
        "c.toml:2: machine.cpus: expected an integer from 1 to 1024, got a string");
  CHECK(ErrorOf("[machine]\ncpu = 4\n") ==
        "c.toml:2: machine.cpu: unknown key (expected one of: cpus, stack_kib)");
  CHECK(ErrorOf("[oracle]\nkind = \"fifo\"\n") ==
        "c.toml:2: oracle.kind: expected one of round-robin, random, pct, got \"fifo\" (a "
        "recorded schedule is replayed with `strata replay FILE`)");
  CHECK(ErrorOf("[oracel]\nkind = \"random\"\n") ==
        "c.toml:1: oracel: unknown key (expected one of: machine, oracle, env, run, workload, stack, check)");
  CHECK(ErrorOf("machine = 3\n") == "c.toml:1: machine: expected a table like [machine]");
  CHECK(ErrorOf("[workload]\nkind = \"nope\"\n") ==
        "c.toml:2: workload.kind: expected one of counter, lost-update, racy-push, "
        "double-unlock, lock-order, throw, recursion, livelock, host-channel, general, "
            "thread-counter, "
            "producer-consumer, ping-pong, fork-lock, fork-lock-broken-invariant, fork-lock-free-early, "
            "philosophers, philosophers-wrong-order, "
            "lost-wakeup, sleep-unlocked, hidden-channel, got \"nope\"");
  CHECK(ErrorOf("[run]\nmax_steps = -5\n") ==
        "c.toml:2: run.max_steps: expected an integer from 1 to 1000000000000, got -5");
  CHECK(ErrorOf("[oracle]\nfairness = 2\n") ==
        "c.toml: oracle.fairness: expected 0 (auto) or at least machine.cpus (4), got 2");
  CHECK(ErrorOf("[machine]\ncpus = 1\n[workload]\nkind = \"lock-order\"\n") ==
        "c.toml: machine.cpus: workload \"lock-order\" needs at least 2 cpus, got 1");
}

TEST_CASE("bad stack and check keys name the key and the expected values") {
  CHECK(ErrorOf("[stack]\nlock = \"rwlock\"\n") ==
        "c.toml:2: stack.lock: expected one of spec, ticket, mcs, tas, ticket-load-store, "
        "ticket-no-bump, ticket-double-bump, ticket-leaky, mcs-no-wait-next, mcs-keep-busy, "
        "got \"rwlock\"");
  CHECK(ErrorOf("[stack]\nqueue = 3\n") == "c.toml:2: stack.queue: expected a string, got an integer");
  CHECK(ErrorOf("[stack]\nscheduler = \"x\"\n") ==
        "c.toml:2: stack.scheduler: unknown key (expected one of: lock, queue, tcb, sched, max_threads)");
  CHECK(ErrorOf("[check]\nlayer = \"vm\"\n") ==
        "c.toml:2: check.layer: expected one of all, lock, queue, tcb, sched, thread, got \"vm\"");
  CHECK(ErrorOf("[stack]\ntcb = \"slab\"\n") ==
        "c.toml:2: stack.tcb: expected one of spec, module, tcb-no-lock, tcb-forget-used, "
        "tcb-stale-fields, tcb-highest-free, tcb-write-free, got \"slab\"");
  CHECK(ErrorOf("[check]\nstrategy = \"bfs\"\n") ==
        "c.toml:2: check.strategy: expected one of random, pct, dfs, portfolio, got \"bfs\"");
  CHECK(ErrorOf("[check]\nruns = 0\n") ==
        "c.toml:2: check.runs: expected an integer from 1 to 1000000000000, got 0");
  CHECK(ErrorOf("[check]\nreduction = 1\n") ==
        "c.toml:2: check.reduction: expected a string, got an integer");
  CHECK(ErrorOf("[check]\nreduction = \"optimal\"\n") ==
        "c.toml:2: check.reduction: expected one of dpor, sleep, none, got \"optimal\"");
  CHECK(ErrorOf("[check]\npreemption_bound = -2\n") ==
        "c.toml:2: check.preemption_bound: expected an integer from -1 to 1000000, got -2");
}

TEST_CASE("malformed TOML names the line and column") {
  std::string e = ErrorOf("[machine]\ncpus = = 4\n");
  CHECK(e.rfind("c.toml:2:", 0) == 0);
  CHECK(e.find("malformed TOML") != std::string::npos);
}

TEST_CASE("a missing config file is reported, not crashed on") {
  auto c = LoadConfig("/nonexistent/strata.toml", testing::Builtin());
  REQUIRE_FALSE(c.ok());
  CHECK(std::string(c.status().message()) ==
        "/nonexistent/strata.toml: cannot open the config file (expected a TOML file)");
}

TEST_CASE("the key table keeps each table's keys together, so a written config has each table once") {
  std::set<std::string> done;
  std::string table;
  for (const Key& k : Keys()) {
    if (k.table == table) continue;
    CAPTURE(k.table);
    CHECK(done.count(k.table) == 0);
    done.insert(table);
    table = k.table;
  }
}

}  // namespace
}  // namespace strata::boot
