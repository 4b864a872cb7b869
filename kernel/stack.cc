#include "kernel/stack.h"

#include "kernel/lock.h"
#include "kernel/queue.h"
#include "kernel/tcb_pool.h"
#include "machine/check.h"

namespace strata::kernel {
namespace {

using layers::Counter;
using layers::HandOver;

// A lock passes from its releaser to the next agent whose acquire returns;
// its holder is a counter.
layers::Timeline LockTimeline() {
  return {.layer = "lock",
          .primitives = kLockPrimitives,
          .hand_overs = {{.name = "lock hand-over",
                          .from = {kinds::kRetRelease},
                          .to = {kinds::kRetAcquire},
                          .target = HandOver::Target::kSameObject}},
          .counters = {{.name = "holder",
                        .kind = Counter::Kind::kHolder,
                        .up = {kinds::kRetAcquire},
                        .down = {kinds::kRetRelease}}}};
}

// An item goes from its enqueuer to the agent whose deq takes it next (a
// FIFO's next deq need not take that very item; the arrow shows who handed
// the queue something and who took from it next). A full queue's enq (0)
// and an empty queue's deq (-1) move nothing.
layers::Timeline QueueTimeline() {
  return {.layer = "queue",
          .primitives = kQueuePrimitives,
          .hand_overs = {{.name = "queue hand-over",
                          .from = {kinds::kRetEnq, 0},
                          .to = {kinds::kRetDeq, -1},
                          .target = HandOver::Target::kSameObject}},
          .counters = {{.name = "length",
                        .kind = Counter::Kind::kLevel,
                        .up = {kinds::kRetEnq, 0},
                        .down = {kinds::kRetDeq, -1}}}};
}

// The pool's TCBs in use: an alloc that found one (not -1) up, a free that
// freed one (not 0) down.
layers::Timeline TcbTimeline() {
  return {.layer = "tcb",
          .primitives = kTcbPrimitives,
          .hand_overs = {},
          .counters = {{.name = "in use",
                        .kind = Counter::Kind::kLevel,
                        .up = {kinds::kRetAlloc, -1},
                        .down = {kinds::kRetFree, 0}}}};
}

}  // namespace

std::vector<LayerInfo> Stack(const StackOptions& o, const KernelCatalog* catalog) {
  std::vector<LayerInfo> layers = {
      {"lock", o.lock, {"acquire(lock, bound)", "release(lock)"}, "the machine",
       "other CPUs take the lock with bounds of their choosing (0 to 3 in the most-general "
       "client), append at most that many shared events while they hold it, release only what "
       "they hold, and reach its words only through the module's acquire and release",
       "each acquire returns holding the lock, within its wait bound under F; each release frees "
       "it; each call has one linearization point, and the module's replay of its words names "
       "the spec's holder at every call and return"},
      {"queue", o.queue, {"enq(queue, value) -> 1|0", "deq(queue) -> value|-1"},
       "the lock layer (" + o.lock + ")",
       "other CPUs enqueue and dequeue any number of times, values of their own, each call "
       "through the module (under the queue's lock)",
       "each enq and deq is one atomic step of the spec's FIFO (full: 0, empty: -1), with the "
       "block's contents, read through the module, the spec's queue at every call and return"},
      {"tcb", o.tcb,
       {"alloc() -> tid|-1", "free(tid) -> 1|0", "read(tid, field) -> value|-1",
        "write(tid, field, value) -> 1|0"},
       "the lock layer (" + o.lock + ")",
       "other CPUs alloc, free, read and write TCBs, any tid and field (out of range "
       "included), each call through the module (under the pool's lock)",
       "each call is one atomic step of the spec's pool: no TCB handed out twice, a free only "
       "of an allocated one, reads return the last write; the pool's block, read through the "
       "module, is the spec's at every call and return"},
  };
  layers[0].timeline = LockTimeline();
  layers[1].timeline = QueueTimeline();
  layers[2].timeline = TcbTimeline();
  if (catalog != nullptr) {
    AddChoices(layers[0], catalog->locks);
    AddChoices(layers[1], catalog->queues);
    AddChoices(layers[2], catalog->tcbs);
  }
  return layers;
}

std::string LayerNames() { return "lock, queue, tcb"; }

void AddBuiltinKernel(KernelCatalog& catalog) {
  AddBuiltinLocks(catalog.locks);
  AddBuiltinQueues(catalog.queues);
  AddBuiltinTcbPools(catalog.tcbs);
}

std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& o,
                                            const KernelCatalog& catalog) {
  const auto* lock = catalog.locks.Find(o.lock);
  STRATA_CHECK(lock != nullptr, "unvalidated lock {}", o.lock);
  if (layer == "lock") {
    return MakeLockPair({.impl = o.lock,
                         .module = lock->make,
                         .iterations = o.iterations,
                         .bound = o.bound,
                         .overrun = o.overrun,
                         .general = o.client == "general",
                         .symmetric = lock->symmetric});
  }
  if (layer == "queue") {
    const auto* queue = catalog.queues.Find(o.queue);
    STRATA_CHECK(queue != nullptr, "unvalidated queue {}", o.queue);
    return MakeQueuePair({.impl = o.queue,
                          .lock_impl = o.lock,
                          .module = queue->make,
                          .lock = lock->make,
                          .iterations = o.iterations,
                          .capacity = o.capacity,
                          .general = o.client == "general"});
  }
  if (layer == "tcb") {
    const auto* tcb = catalog.tcbs.Find(o.tcb);
    STRATA_CHECK(tcb != nullptr, "unvalidated tcb pool {}", o.tcb);
    return MakeTcbPair({.impl = o.tcb,
                        .lock_impl = o.lock,
                        .module = tcb->make,
                        .lock = lock->make,
                        .iterations = o.iterations,
                        .capacity = o.capacity,
                        .general = o.client == "general"});
  }
  return nullptr;
}

}  // namespace strata::kernel
