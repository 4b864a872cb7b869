#include "ring_queue.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ring {
namespace {

using strata::kernel::Lock;
using strata::kernel::LockFactory;
using strata::kernel::Queue;
using strata::kernel::QueueSpecReplay;
using strata::kernel::QueueView;
using strata::machine::Block;
using strata::machine::Cpu;
using strata::machine::CpuId;
using strata::machine::Event;
using strata::machine::Machine;
using strata::machine::OpCode;

constexpr std::size_t kHead = 0, kSize = 1, kSlots = 2;

// Replays the ring from the contents of each of its pushes.
class RingView final : public QueueView {
 public:
  RingView(const Machine& m, Block data, std::int64_t capacity)
      : m_(m), data_(data), capacity_(capacity) {}

  bool Observe(const Event& e) override {
    if (e.object != data_.id || e.op != OpCode::kPush) return true;
    const std::span<const std::int64_t> words = m_.pushed(e.seq);
    if (words.size() != kSlots + static_cast<std::size_t>(capacity_)) return false;
    const std::int64_t head = words[kHead], size = words[kSize];
    if (head < 0 || head >= capacity_ || size < 0 || size > capacity_) return false;
    values_.clear();
    for (std::int64_t i = 0; i < size; ++i) {
      values_.push_back(words[kSlots + static_cast<std::size_t>((head + i) % capacity_)]);
    }
    head_ = head;
    return true;
  }

  std::optional<std::string> Relation(const QueueSpecReplay::State& spec) const override {
    if (std::equal(values_.begin(), values_.end(), spec.begin(), spec.end())) return std::nullopt;
    return fmt::format("the ring holds [{}] (head at slot {}), the spec's queue is [{}]",
                       fmt::join(values_, ", "), head_, fmt::join(spec, ", "));
  }

  std::string Describe() const override {
    return fmt::format("ring [{}], head at slot {}", fmt::join(values_, ", "), head_);
  }

  // A ring operation waits only for its lock: the lock layer bounds it.
  std::optional<std::uint64_t> WaitBound(CpuId, const strata::layers::Primitive&) const override {
    return std::nullopt;
  }

 private:
  const Machine& m_;
  Block data_;
  std::int64_t capacity_;
  std::vector<std::int64_t> values_;
  std::int64_t head_ = 0;
};

class RingQueue final : public Queue {
 public:
  RingQueue(Machine& m, const std::string& name, std::int64_t capacity, const LockFactory& lock,
            bool overwrite)
      : Queue(m.NewObject(name)),
        data_(m.NewBlock(name + ".ring", kSlots + static_cast<std::size_t>(capacity))),
        lock_(lock(m, name + ".lock")),
        capacity_(capacity),
        overwrite_(overwrite) {}

  std::unique_ptr<QueueView> NewView(Machine& m) const override {
    m.KeepPushedContents();  // the view decodes each push
    return std::make_unique<RingView>(m, data_, capacity_);
  }

 protected:
  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override {
    Enter(cpu);
    std::int64_t head = cpu.Read(data_, kHead), size = cpu.Read(data_, kSize);
    std::int64_t r = 0;
    if (size == capacity_ && overwrite_) {  // the flaw: drop the oldest
      head = (head + 1) % capacity_;
      --size;
      cpu.Write(data_, kHead, head);
    }
    if (size < capacity_) {
      cpu.Write(data_, Slot((head + size) % capacity_), value);
      cpu.Write(data_, kSize, size + 1);
      r = 1;
    }
    Leave(cpu);
    return r;
  }

  std::int64_t DoDeq(Cpu& cpu) override {
    Enter(cpu);
    const std::int64_t head = cpu.Read(data_, kHead), size = cpu.Read(data_, kSize);
    std::int64_t r = -1;
    if (size > 0) {
      r = cpu.Read(data_, Slot(head));
      cpu.Write(data_, kHead, (head + 1) % capacity_);
      cpu.Write(data_, kSize, size - 1);
    }
    Leave(cpu);
    return r;
  }

 private:
  static std::size_t Slot(std::int64_t i) { return kSlots + static_cast<std::size_t>(i); }
  void Enter(Cpu& cpu) {
    lock_->Acquire(cpu, 2);
    cpu.Pull(data_);
  }
  void Leave(Cpu& cpu) {
    cpu.Push(data_);
    cpu.Linearize();
    lock_->Release(cpu);
  }

  Block data_;
  std::unique_ptr<Lock> lock_;
  std::int64_t capacity_;
  bool overwrite_;
};

}  // namespace

void AddRingQueues(strata::kernel::QueueRegistry& queues) {
  queues.Add({"ring", "ring buffer [head, size, slots...] under a lock", false, "",
              [](Machine& m, const std::string& name, std::int64_t capacity,
                 const LockFactory& lock) -> std::unique_ptr<Queue> {
                return std::make_unique<RingQueue>(m, name, capacity, lock, /*overwrite=*/false);
              }});
  queues.Add({"ring-overwrite", "known-bad: enq into a full ring overwrites the oldest value",
              true, "relation-broken",
              [](Machine& m, const std::string& name, std::int64_t capacity,
                 const LockFactory& lock) -> std::unique_ptr<Queue> {
                return std::make_unique<RingQueue>(m, name, capacity, lock, /*overwrite=*/true);
              }});
}

}  // namespace ring
