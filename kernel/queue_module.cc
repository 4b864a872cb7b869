#include "kernel/queue_module.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace strata::kernel {
namespace {

// The lock is held for two shared events: the pull and the push.
constexpr std::int64_t kBound = 2;

// Replays the module's block from the contents of each of its pushes,
// decoded from its layout [count, v0, v1, ...].
class ModuleQueueView final : public QueueView {
 public:
  ModuleQueueView(const Machine& m, machine::Block data) : m_(m), data_(data) {}

  bool Observe(const Event& e) override {
    if (e.object != data_.id || e.op != OpCode::kPush) return true;
    const std::span<const std::int64_t> words = m_.pushed(e.seq);
    if (words.empty()) return false;
    const std::int64_t count = words[0];
    if (count < 0 || static_cast<std::size_t>(count) >= words.size()) return false;
    values_.assign(words.begin() + 1, words.begin() + 1 + count);
    return true;
  }
  std::optional<std::string> Relation(const QueueSpecReplay::State& spec) const override {
    if (std::equal(values_.begin(), values_.end(), spec.begin(), spec.end())) return std::nullopt;
    return fmt::format("the queue's block holds [{}], the spec's queue is [{}]",
                       fmt::join(values_, ", "), fmt::join(spec, ", "));
  }
  std::string Describe() const override {
    return fmt::format("block holds [{}]", fmt::join(values_, ", "));
  }
  // The queue's liveness is its lock's: the lock layer's check bounds it.
  std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
    return std::nullopt;
  }

 private:
  const Machine& m_;
  machine::Block data_;
  std::vector<std::int64_t> values_;
};

}  // namespace

ModuleQueue::ModuleQueue(Machine& m, const std::string& name, std::int64_t capacity,
                         const LockFactory& lock)
    : Queue(m.NewObject(name)),
      data_(m.NewBlock(name + ".data", static_cast<std::size_t>(capacity + 1))),
      lock_(lock(m, name + ".lock")),
      capacity_(capacity) {}

std::unique_ptr<QueueView> ModuleQueue::NewView(Machine& m) const {
  m.KeepPushedContents();
  return std::make_unique<ModuleQueueView>(m, data_);
}

std::int64_t ModuleQueue::DoEnq(Cpu& cpu, std::int64_t value) {
  Enter(cpu);
  const std::int64_t count = cpu.Read(data_, 0);
  std::int64_t r = 0;
  if (count < capacity_) {
    cpu.Write(data_, static_cast<std::size_t>(1 + count), value);
    cpu.Write(data_, 0, count + 1);
    r = 1;
  }
  Leave(cpu);
  return r;
}

std::int64_t ModuleQueue::DoDeq(Cpu& cpu) {
  Enter(cpu);
  const std::int64_t count = cpu.Read(data_, 0);
  std::int64_t r = -1;
  if (count > 0) {
    const auto n = static_cast<std::size_t>(count);
    r = TakeOldest(cpu, n);
    cpu.Write(data_, n, 0);
    cpu.Write(data_, 0, count - 1);
  }
  Leave(cpu);
  return r;
}

std::int64_t ModuleQueue::TakeOldest(Cpu& cpu, std::size_t count) {
  const std::int64_t r = cpu.Read(data_, 1);
  for (std::size_t i = 1; i < count; ++i) cpu.Write(data_, i, cpu.Read(data_, i + 1));
  return r;
}

void ModuleQueue::Enter(Cpu& cpu) {
  lock_->Acquire(cpu, kBound);
  cpu.Pull(data_);
}

void ModuleQueue::Leave(Cpu& cpu) {
  cpu.Push(data_);
  cpu.Linearize();
  lock_->Release(cpu);
}

}  // namespace strata::kernel
