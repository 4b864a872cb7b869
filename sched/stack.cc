#include "sched/stack.h"

#include <fmt/format.h>

#include "machine/check.h"
#include "sched/csched.h"
#include "sched/pair.h"

namespace strata::sched {
namespace {

// A wakeup hands the CPU's attention to the thread it names (its result;
// -1 for none), which goes on where its sleep returns; a spawn to the new
// thread's first event. The threads alive are a counter.
layers::Timeline SchedTimeline() {
  using layers::HandOver;
  return {.layer = "sched",
          .primitives = kSchedPrimitives,
          .hand_overs = {{.name = "wakeup",
                          .from = {kinds::kRetWakeup, -1},
                          .to = {kinds::kRetSleep},
                          .target = HandOver::Target::kResultThread},
                         {.name = "spawn",
                          .from = {kinds::kRetSpawn, -1},
                          .to = {},
                          .target = HandOver::Target::kResultThread}},
          .counters = {{.name = "threads",
                        .kind = layers::Counter::Kind::kLevel,
                        .up = {kinds::kRetSpawn, -1},
                        .down = {kinds::kCallExit}}}};
}

}  // namespace

void AddBuiltinSched(SchedCatalog& catalog) {
  kernel::AddBuiltinKernel(catalog);
  AddBuiltinScheds(catalog.scheds);
  AddBuiltinThreadWorkloads(catalog.threads);
}

SchedCatalog BuiltinSchedCatalog() {
  SchedCatalog catalog;
  AddBuiltinSched(catalog);
  return catalog;
}

std::vector<kernel::LayerInfo> Stack(const StackOptions& o, const SchedCatalog* catalog) {
  std::vector<kernel::LayerInfo> layers = kernel::Stack(o, catalog);
  layers.push_back({"sched",
                    o.sched,
                    {"spawn(entry) -> tid", "yield()", "sleep(cv)", "wakeup(cv) -> tid|-1",
                     "lock(l)", "unlock(l)", "makelock(l, R)", "freelock(l)", "exit",
                     "idle() -> tid"},
                    "the lock (" + o.lock + "), queue (" + o.queue + ") and tcb (" + o.tcb +
                        ") layers",
                    "other CPUs' threads spawn, yield, sleep on and wake the client's cvs "
                    "(holding their locks) and exit, each call through the scheduler module; "
                    "a wakeup reaches this CPU's threads only through its pending queue",
                    "each call is one atomic step of the scheduler spec (SPAWN, YIELD, SLEEP, "
                    "WAKE, EXIT) with the spec's return value; the TCBs and queues, read "
                    "through the module, are the spec's threads at every call and return"});
  layers.back().timeline = SchedTimeline();
  if (catalog != nullptr) kernel::AddChoices(layers.back(), catalog->scheds);
  // Not swappable: the per-thread machines are the scheduler spec's, as one
  // thread sees it; what the pair checks is that they compose.
  layers.push_back({"thread",
                    "tsched",
                    {"spawn(entry) -> tid", "yield(): YIELD, the environment acts, YIELD_BACK",
                     "sleep(cv): SLEEP(cv), the environment acts, YIELD_BACK",
                     "wakeup(cv) -> tid|-1", "lock(l)", "unlock(l)", "makelock(l, R)",
                     "freelock(l)", "exit"},
                    "the sched layer, every thread of every CPU",
                    // No rely: its check composes every thread of every CPU.
                    "", ""});
  // Its primitives are the sched layer's, whose timeline draws them.
  if (catalog != nullptr) {
    layers.back().summary =
        "TSched[t, e_t]: one thread live, everything else its environment; the per-thread "
        "machines composed (TLink) must give the scheduler's run";
    layers.back().choices = {"tsched"};
  }
  return layers;
}

std::string SchedClient(const StackOptions& o) {
  return o.client == "fixed" ? "ping-pong" : o.client;
}

std::string SchedulerLine(const StackOptions& o) {
  if (o.sched == "spec") return "spec (atomic; no layers below it)";
  return fmt::format("{} over lock {}, queue {}, tcb {}", o.sched, o.lock, o.queue, o.tcb);
}

std::string LayerNames() { return kernel::LayerNames() + ", sched, thread"; }

SchedPairOptions SchedPairOptionsFor(const StackOptions& o, const SchedCatalog& catalog,
                                     const std::string& client_name) {
  const auto* sched = catalog.scheds.Find(o.sched);
  const auto* client = catalog.threads.Find(client_name);
  STRATA_CHECK(sched != nullptr && client != nullptr, "unvalidated sched pair {} / {}", o.sched,
               client_name);
  SchedPairOptions p;
  p.sched.impl = o.sched;
  p.sched.lock = o.lock;
  p.sched.queue = o.queue;
  p.sched.tcb = o.tcb;
  p.sched.max_threads = o.max_threads;  // 0: sized by the pair for its client
  p.module = sched->make;
  p.lower = LowerOf(p.sched, catalog);
  p.client_name = client_name;
  p.client = client->make;
  p.iterations = o.iterations;
  p.threads = o.threads;
  p.bounds = o.bounds;
  return p;
}

std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& o,
                                            const SchedCatalog& catalog) {
  if (layer == "sched") return MakeSchedPair(SchedPairOptionsFor(o, catalog, SchedClient(o)));
  if (layer == "thread") return MakeThreadPair(SchedPairOptionsFor(o, catalog, SchedClient(o)));
  return kernel::MakePair(layer, o, catalog);
}

}  // namespace strata::sched
