#include "kernel/tcb_module.h"

#include <fmt/format.h>

namespace strata::kernel {
namespace {

// The lock is held for two shared events: the pull and the push.
constexpr std::int64_t kBound = 2;

// Replays the module's block from the contents of each of its pushes,
// decoded from its layout.
class ModuleTcbView final : public TcbView {
 public:
  ModuleTcbView(const Machine& m, machine::Block data, std::int64_t capacity)
      : m_(m), data_(data) {
    pool_.allocated.assign(static_cast<std::size_t>(capacity), false);
    pool_.fields.assign(static_cast<std::size_t>(capacity * kTcbFields), 0);
  }

  bool Observe(const Event& e) override {
    if (e.object != data_.id || e.op != OpCode::kPush) return true;
    const std::span<const std::int64_t> words = m_.pushed(e.seq);
    const std::size_t n = pool_.allocated.size();
    if (words.size() < ModuleTcbPool::Slot(static_cast<std::int64_t>(n))) return false;
    for (std::size_t t = 0; t < n; ++t) {
      const std::size_t slot = ModuleTcbPool::Slot(static_cast<std::int64_t>(t));
      if (words[slot] != 0 && words[slot] != 1) return false;  // not a used flag
      pool_.allocated[t] = words[slot] == 1;
      for (std::size_t f = 0; f < kTcbFields; ++f) {
        pool_.fields[t * kTcbFields + f] = words[slot + 1 + f];
      }
    }
    return true;
  }
  std::optional<std::string> Relation(const TcbPoolState& spec) const override {
    if (pool_ == spec) return std::nullopt;
    return fmt::format("the pool's block holds {}, the spec's pool {}", pool_, spec);
  }
  std::string Describe() const override { return fmt::format("block holds {}", pool_); }
  // The pool's liveness is its lock's: the lock layer's check bounds it.
  std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
    return std::nullopt;
  }

 private:
  const Machine& m_;
  machine::Block data_;
  TcbPoolState pool_;
};

}  // namespace

ModuleTcbPool::ModuleTcbPool(Machine& m, const std::string& name, std::int64_t capacity,
                             const LockFactory& lock)
    : TcbPool(m.NewObject(name), capacity),
      data_(m.NewBlock(name + ".data", Slot(capacity))),
      lock_(lock(m, name + ".lock")) {}

std::unique_ptr<TcbView> ModuleTcbPool::NewView(Machine& m) const {
  m.KeepPushedContents();
  return std::make_unique<ModuleTcbView>(m, data_, capacity());
}

std::int64_t ModuleTcbPool::FindFree(Cpu& cpu) {
  for (std::int64_t t = 0; t < capacity(); ++t) {
    if (cpu.Read(data_, Slot(t)) == 0) return t;
  }
  return -1;
}

void ModuleTcbPool::Take(Cpu& cpu, std::int64_t tid) {
  cpu.Write(data_, Slot(tid), 1);
  for (std::size_t f = 0; f < kTcbFields; ++f) cpu.Write(data_, Slot(tid) + 1 + f, 0);
}

std::int64_t ModuleTcbPool::DoAlloc(Cpu& cpu) {
  Enter(cpu);
  const std::int64_t t = FindFree(cpu);
  if (t >= 0) Take(cpu, t);
  Leave(cpu);
  return t;
}

std::int64_t ModuleTcbPool::DoFree(Cpu& cpu, std::int64_t tid) {
  Enter(cpu);
  std::int64_t r = 0;
  if (InRange(tid, 0) && cpu.Read(data_, Slot(tid)) == 1) {
    cpu.Write(data_, Slot(tid), 0);
    r = 1;
  }
  Leave(cpu);
  return r;
}

std::int64_t ModuleTcbPool::DoRead(Cpu& cpu, std::int64_t tid, std::int64_t field) {
  Enter(cpu);
  std::int64_t r = -1;
  if (InRange(tid, field) && cpu.Read(data_, Slot(tid)) == 1) {
    r = cpu.Read(data_, Slot(tid) + 1 + static_cast<std::size_t>(field));
  }
  Leave(cpu);
  return r;
}

std::int64_t ModuleTcbPool::DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                                    std::int64_t value) {
  Enter(cpu);
  std::int64_t r = 0;
  if (InRange(tid, field) && cpu.Read(data_, Slot(tid)) == 1) {
    cpu.Write(data_, Slot(tid) + 1 + static_cast<std::size_t>(field), value);
    r = 1;
  }
  Leave(cpu);
  return r;
}

void ModuleTcbPool::Enter(Cpu& cpu) {
  lock_->Acquire(cpu, kBound);
  cpu.Pull(data_);
}

void ModuleTcbPool::Leave(Cpu& cpu) {
  cpu.Push(data_);
  cpu.Linearize();
  lock_->Release(cpu);
}

}  // namespace strata::kernel
