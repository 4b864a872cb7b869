#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel/stack.h"
#include "kernel/tcb_pool.h"
#include "layers/explorer.h"
#include "machine/machine.h"

namespace strata::kernel {
namespace {

using layers::ExploreResult;
using machine::CpuId;
using machine::Event;
using machine::Machine;
using machine::MachineOptions;
using machine::ObjectId;

KernelCatalog Builtin() {
  KernelCatalog c;
  AddBuiltinKernel(c);
  return c;
}

std::unique_ptr<layers::LayerPair> TcbPair(const char* pool, const char* lock,
                                           std::int64_t capacity, std::int64_t iterations = 2,
                                           const char* client = "fixed") {
  const KernelCatalog c = Builtin();
  return MakePair("tcb",
                  StackOptions{.lock = lock, .tcb = pool, .client = client, .iterations = iterations,
                               .capacity = capacity},
                  c);
}

TEST_CASE("the TCB pool spec allocates the lowest free TCB with zeroed fields") {
  const ObjectId p(2);
  TcbSpecReplay r{.pool = p, .capacity = 2};
  TcbPoolState s = r.Init();
  auto step = [&](EventKind kind, std::int64_t arg0 = 0, std::int64_t arg1 = 0) {
    const Event e{.cpu = CpuId(0), .object = p, .kind = kind, .arg0 = arg0, .arg1 = arg1};
    const std::int64_t result = TcbSpecReplay::Result(s, e);
    CHECK(r.Step(s, e));
    return result;
  };
  CHECK(step(kinds::kAlloc) == 0);
  CHECK(step(kinds::kWrite, TcbWord(0, 2), 7) == 1);
  CHECK(step(kinds::kRead, TcbWord(0, 2)) == 7);
  CHECK(step(kinds::kRead, TcbWord(1, 2)) == -1);   // TCB 1 is free
  CHECK(step(kinds::kWrite, TcbWord(1, 0), 5) == 0);
  CHECK(step(kinds::kAlloc) == 1);
  CHECK(step(kinds::kAlloc) == -1);                 // full
  CHECK(step(kinds::kFree, 0) == 1);
  CHECK(step(kinds::kFree, 0) == 0);                // already free
  CHECK(step(kinds::kAlloc) == 0);
  CHECK(step(kinds::kRead, TcbWord(0, 2)) == 0);    // a fresh TCB's fields are 0
  CHECK(step(kinds::kRead, -1) == -1);              // no such field
  CHECK(fmt::format("{}", s) == "tcb 0 [0 0 0 0]; tcb 1 [0 0 0 0]");
}

TEST_CASE("the TCB pool module refines its spec over every lock and strategy, full pool included") {
  for (const char* lock : {"spec", "ticket", "mcs", "tas"}) {
    for (const char* strategy : {"random", "pct", "dfs"}) {
      // Capacity 3 for 2 CPUs taking 2 TCBs each: alloc runs out in some schedules.
      CAPTURE(lock);
      CAPTURE(strategy);
      auto pair = TcbPair("module", lock, 3, 1);
      ExploreResult r = layers::Explore(
          *pair, MachineOptions{.cpus = 2},
          {.strategy = layers::BuiltinStrategy(strategy), .seed = 5, .runs = 200, .pct_horizon = 80});
      if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
      CHECK(r.executions > 0);
    }
  }
}

TEST_CASE("a client on the TCB pool spec runs out of TCBs and gets -1") {
  Machine m(MachineOptions{.cpus = 2});
  std::shared_ptr<TcbPool> pool = MakeSpecTcbPool(m, "tcbs", 3);
  std::vector<std::int64_t> got;
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kRoundRobin, .cpus = 2});
  auto report = m.Run(
      [&](machine::Cpu& cpu) {
        for (int i = 0; i < 2; ++i) got.push_back(pool->Alloc(cpu));
      },
      *oracle);
  REQUIRE(report.ok());
  CHECK(report->ok());
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::int64_t>{-1, 0, 1, 2});
}

TEST_CASE("known-bad TCB pools are caught with the verdict their entries declare") {
  const KernelCatalog c = Builtin();
  int bad = 0;
  for (const auto& e : c.tcbs.entries()) {
    if (!e.known_bad) continue;
    ++bad;
    for (const char* strategy : {"random", "pct"}) {
      CAPTURE(e.name);
      CAPTURE(strategy);
      auto pair = TcbPair(e.name.c_str(), "ticket", 3, 2, "general");
      ExploreResult r = layers::Explore(*pair, MachineOptions{.cpus = 2},
                                        {.strategy = layers::BuiltinStrategy(strategy), .runs = 2000});
      REQUIRE(r.failure.has_value());
      CHECK(r.failure->verdict.name() == e.expect);
    }
  }
  CHECK(bad == 5);
}

}  // namespace
}  // namespace strata::kernel
