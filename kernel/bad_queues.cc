#include "kernel/bad_queues.h"

#include "kernel/queue_module.h"

namespace strata::kernel {
namespace {

// Operates on the block without taking the lock.
class NoLock final : public ModuleQueue {
 public:
  using ModuleQueue::ModuleQueue;

 protected:
  void Enter(Cpu& cpu) override { cpu.Pull(data_); }
  void Leave(Cpu& cpu) override {
    cpu.Push(data_);
    cpu.Linearize();
  }
};

// Writes the block without pulling it.
class NoPull final : public ModuleQueue {
 public:
  using ModuleQueue::ModuleQueue;

 protected:
  void Enter(Cpu& cpu) override { lock_->Acquire(cpu, 2); }
};

// deq takes the newest value.
class Lifo final : public ModuleQueue {
 public:
  using ModuleQueue::ModuleQueue;

 protected:
  std::int64_t TakeOldest(Cpu& cpu, std::size_t count) override { return cpu.Read(data_, count); }
};

// deq returns the value plus one.
class OffByOne final : public ModuleQueue {
 public:
  using ModuleQueue::ModuleQueue;

 protected:
  std::int64_t DoDeq(Cpu& cpu) override {
    const std::int64_t r = ModuleQueue::DoDeq(cpu);
    return r == -1 ? r : r + 1;
  }
};

// enq on a full queue overwrites the newest value (and says it succeeded)
// instead of refusing: only a client that fills the queue sees it.
class FullOverwrites final : public ModuleQueue {
 public:
  using ModuleQueue::ModuleQueue;

 protected:
  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override {
    Enter(cpu);
    const std::int64_t count = cpu.Read(data_, 0);
    if (count < capacity_) {
      cpu.Write(data_, static_cast<std::size_t>(1 + count), value);
      cpu.Write(data_, 0, count + 1);
    } else {
      cpu.Write(data_, static_cast<std::size_t>(count), value);
    }
    Leave(cpu);
    return 1;
  }
};

}  // namespace

void AddKnownBadQueues(QueueRegistry& queues) {
  queues.Add({"module-no-lock", "known-bad: skips the lock", true, "data-race", QueueFactoryOf<NoLock>()});
  queues.Add({"module-no-pull", "known-bad: writes the block without pulling it", true,
              "data-race", QueueFactoryOf<NoPull>()});
  queues.Add({"module-lifo", "known-bad: deq takes the newest value", true, "relation-broken",
              QueueFactoryOf<Lifo>()});
  queues.Add({"module-full-overwrites",
              "known-bad: enq on a full queue overwrites the newest value (the fixed client never "
              "fills the queue)",
              true, "relation-broken", QueueFactoryOf<FullOverwrites>()});
  queues.Add({"module-off-by-one", "known-bad: deq returns the value plus one", true,
              "return-mismatch", QueueFactoryOf<OffByOne>()});
}

}  // namespace strata::kernel
