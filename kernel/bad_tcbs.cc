#include "kernel/bad_tcbs.h"

#include "kernel/tcb_module.h"

namespace strata::kernel {
namespace {

// Operates on the block without taking the lock.
class NoLock final : public ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  void Enter(Cpu& cpu) override { cpu.Pull(data_); }
  void Leave(Cpu& cpu) override {
    cpu.Push(data_);
    cpu.Linearize();
  }
};

// alloc hands out the TCB without marking it used: the next alloc hands it
// out again.
class ForgetUsed final : public ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  void Take(Cpu& cpu, std::int64_t tid) override {
    for (std::size_t f = 0; f < kTcbFields; ++f) cpu.Write(data_, Slot(tid) + 1 + f, 0);
  }
};

// alloc leaves the previous owner's fields in the TCB.
class StaleFields final : public ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  void Take(Cpu& cpu, std::int64_t tid) override { cpu.Write(data_, Slot(tid), 1); }
};

// alloc takes the highest free TCB, not the lowest.
class HighestFree final : public ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  std::int64_t FindFree(Cpu& cpu) override {
    for (std::int64_t t = capacity() - 1; t >= 0; --t) {
      if (cpu.Read(data_, Slot(t)) == 0) return t;
    }
    return -1;
  }
};

// write does not check that the TCB is allocated: a write to a free TCB
// changes it (only a client that writes TCBs it does not hold sees it).
class WriteFree final : public ModuleTcbPool {
 public:
  using ModuleTcbPool::ModuleTcbPool;

 protected:
  std::int64_t DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                       std::int64_t value) override {
    Enter(cpu);
    std::int64_t r = 0;
    if (InRange(tid, field)) {
      cpu.Write(data_, Slot(tid) + 1 + static_cast<std::size_t>(field), value);
      r = 1;
    }
    Leave(cpu);
    return r;
  }
};

}  // namespace

void AddKnownBadTcbPools(TcbRegistry& pools) {
  pools.Add({"tcb-no-lock", "known-bad: skips the lock", true, "data-race",
             TcbFactoryOf<NoLock>()});
  pools.Add({"tcb-forget-used", "known-bad: alloc does not mark the TCB used", true,
             "relation-broken", TcbFactoryOf<ForgetUsed>()});
  pools.Add({"tcb-stale-fields", "known-bad: alloc keeps the previous owner's fields", true,
             "relation-broken", TcbFactoryOf<StaleFields>()});
  pools.Add({"tcb-highest-free", "known-bad: alloc takes the highest free TCB", true,
             "relation-broken", TcbFactoryOf<HighestFree>()});
  pools.Add({"tcb-write-free",
             "known-bad: write changes a free TCB (the fixed client writes only TCBs it holds)",
             true, "relation-broken", TcbFactoryOf<WriteFree>()});
}

}  // namespace strata::kernel
