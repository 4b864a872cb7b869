#include <doctest/doctest.h>

#include <string>

#include "kernel/queue.h"
#include "kernel/stack.h"
#include "layers/explorer.h"
#include "machine/machine.h"

namespace strata::kernel {
namespace {

// strata's own locks and queues.
KernelCatalog Builtin() {
  KernelCatalog c;
  AddBuiltinKernel(c);
  return c;
}

// The queue pair of `queue` over `lock` (names in the built-in catalog).
std::unique_ptr<layers::LayerPair> QueuePair(const char* queue, const char* lock,
                                             std::int64_t iterations, std::int64_t capacity = 4,
                                             const char* client = "fixed") {
  const KernelCatalog c = Builtin();
  return MakePair("queue",
                  StackOptions{.lock = lock, .queue = queue, .client = client, .iterations = iterations,
                               .capacity = capacity},
                  c);
}

using layers::ExploreResult;
using machine::CpuId;
using machine::Event;
using machine::MachineOptions;
using machine::ObjectId;

TEST_CASE("the queue spec replay keeps values in order and drops enq past capacity") {
  const ObjectId q(3);
  QueueSpecReplay r{.queue = q, .capacity = 2};
  QueueSpecReplay::State s = r.Init();
  for (std::int64_t v : {5, 6, 7}) {
    CHECK(r.Step(s, Event{.cpu = CpuId(0), .object = q, .kind = kinds::kEnq, .arg0 = v}));
  }
  CHECK(s == QueueSpecReplay::State{5, 6});
  CHECK(r.Step(s, Event{.cpu = CpuId(1), .object = q, .kind = kinds::kDeq}));
  CHECK(s == QueueSpecReplay::State{6});
  CHECK(r.Step(s, Event{.cpu = CpuId(1), .object = ObjectId(4), .kind = kinds::kDeq}));
  CHECK(s == QueueSpecReplay::State{6});  // another queue's event
}

TEST_CASE("the queue module refines the queue spec over every lock") {
  for (const char* lock : {"spec", "ticket", "mcs", "tas"}) {
    for (const char* strategy : {"random", "pct", "dfs"}) {
      CAPTURE(lock);
      CAPTURE(strategy);
      auto pair = QueuePair("module", lock, 2, 3);
      ExploreResult r = layers::Explore(*pair, MachineOptions{.cpus = 2},
                                        {.strategy = layers::BuiltinStrategy(strategy), .seed = 3, .runs = 200,
                                         .pct_horizon = 80});
      CHECK_FALSE(r.failure.has_value());
      if (r.failure) FAIL_CHECK(r.failure->verdict.name() << ": " << r.failure->verdict.message);
      CHECK(r.executions > 0);
    }
  }
}

TEST_CASE("dfs over the queue on the MCS lock exhausts 2 cpus x (1 enq + 1 deq)") {
  auto pair = QueuePair("module", "mcs", 1);
  ExploreResult r = layers::Explore(*pair, MachineOptions{.cpus = 2},
                                    {.strategy = layers::BuiltinStrategy("dfs"), .runs = 1'000'000});
  CHECK_FALSE(r.failure.has_value());
  CHECK(r.exhausted);
  CHECK(r.executions == 78);
}

TEST_CASE("every known-bad queue module is caught with its exact verdict") {
  struct Bad {
    const char* impl;
    const char* lock;
    const char* strategy;
    const char* verdict;
    const char* message;
  };
  const Bad corpus[] = {
      {"module-no-lock", "ticket", "dfs", "data-race",
       "cpu 1 pulls block `q.data` while cpu 0 owns it"},
      {"module-no-pull", "ticket", "random", "data-race",
       "reads block `q.data` without owning it"},
      {"module-lifo", "ticket", "dfs", "relation-broken",
       "the spec's queue is [1001]"},
      {"module-off-by-one", "spec", "random", "return-mismatch",
       "`deq` on `q` returned 1001, the spec returns 1000"},
  };
  for (const Bad& b : corpus) {
    CAPTURE(b.impl);
    auto pair = QueuePair(b.impl, b.lock, 2);
    ExploreResult r = layers::Explore(*pair, MachineOptions{.cpus = 2},
                                      {.strategy = layers::BuiltinStrategy(b.strategy), .runs = 2000});
    REQUIRE(r.failure.has_value());
    CHECK(r.failure->verdict.name() == b.verdict);
    CHECK(r.failure->verdict.message.find(b.message) != std::string::npos);
  }
}

TEST_CASE("the stack names its layers and their implementations") {
  StackOptions o{.lock = "mcs", .queue = "spec"};
  auto stack = Stack(o);
  REQUIRE(stack.size() == 3);
  CHECK(stack[0].name == "lock");
  CHECK(stack[0].implementation == "mcs");
  CHECK(stack[1].name == "queue");
  CHECK(stack[1].below == "the lock layer (mcs)");
  CHECK(stack[2].name == "tcb");
  CHECK(stack[2].implementation == "module");
  const KernelCatalog c = Builtin();
  CHECK(MakePair("lock", o, c)->lower() == "mcs over the machine");
  CHECK(MakePair("queue", o, c)->upper() == "queue spec");
  CHECK(MakePair("tcb", o, c)->upper() == "tcb spec");
  CHECK(MakePair("sched", o, c) == nullptr);  // not a kernel layer
}

}  // namespace
}  // namespace strata::kernel
