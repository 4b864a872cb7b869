#include "kernel/mcs_lock.h"

#include <fmt/format.h>

namespace strata::kernel {
namespace {

class McsView final : public LockView {
 public:
  McsView(const Word& tail, const std::vector<Word>& next, const std::vector<Word>& busy,
          const Machine& m)
      : line_({.enter = 5, .leave = 6}, m) {
    // Slots: 0 the tail, 1 + c node c's next, 1 + cpus + c node c's busy.
    slots_.Add(tail.id, 0);
    for (std::size_t c = 0; c < next.size(); ++c) slots_.Add(next[c].id, static_cast<int>(1 + c));
    for (std::size_t c = 0; c < busy.size(); ++c) {
      slots_.Add(busy[c].id, static_cast<int>(1 + next.size() + c));
    }
    values_.assign(1 + next.size() + busy.size(), 0);
    cpus_ = next.size();
  }

  bool Observe(const Event& e) override {
    const int found = slots_.Find(e.object);
    if (found < 0) return true;
    const auto slot = static_cast<std::size_t>(found);
    if (!word_.Step(values_[slot], e)) return false;
    const bool tail = slot == 0;
    const bool busy = slot > cpus_;
    if (tail && e.op == OpCode::kSwap) {
      line_.Arrive(e.cpu, e.arg1);
      if (e.result == 0) line_.Take(e.cpu);
    }
    if (busy && e.op == OpCode::kLoad && slot - 1 - cpus_ == e.cpu.index() && e.result == 0) {
      line_.Take(e.cpu);
    }
    const bool freed = (tail && e.op == OpCode::kCas && e.result == e.arg0) ||
                       (busy && e.op == OpCode::kStore && e.arg0 == 0);
    if (freed) line_.Free(e.cpu);
    return true;
  }

  std::optional<std::string> Relation(const LockSpecState& spec) const override {
    return line_.Relation(spec);
  }

  std::string Describe() const override {
    return fmt::format("{}, tail {}", line_.Describe(),
                       values_[0] == 0 ? std::string("none") : fmt::format("cpu {}", values_[0] - 1));
  }

  std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const override {
    return line_.WaitBound(cpu, p);
  }

 private:
  layers::ObjectSlots slots_;
  std::vector<std::int64_t> values_;
  std::size_t cpus_ = 0;
  machine::WordReplay word_;
  LockLine line_;
};

}  // namespace

McsLock::McsLock(Machine& m, const std::string& name)
    : Lock(m.NewObject(name)), tail_(m.NewWord(name + ".tail")) {
  for (int c = 0; c < m.cpus(); ++c) {
    // Each cpu's node is its own: renaming the cpus renames their nodes.
    next_.push_back(m.NewWord(fmt::format("{}.next[{}]", name, c), 0, CpuId(c)));
    busy_.push_back(m.NewWord(fmt::format("{}.busy[{}]", name, c), 0, CpuId(c)));
  }
}

std::unique_ptr<LockView> McsLock::NewView(Machine& m) const {
  return std::make_unique<McsView>(tail_, next_, busy_, m);
}

// Nodes are named by cpu + 1; 0 is "none".
void McsLock::DoAcquire(Cpu& cpu, std::int64_t bound) {
  const std::size_t me = cpu.id().index();
  cpu.Store(next_[me], 0, kinds::kSetNext);
  cpu.Store(busy_[me], 1, kinds::kSetBusy);
  const std::int64_t pred = cpu.Swap(tail_, cpu.id().value() + 1, kinds::kSwapTail, bound);
  if (pred == 0) {
    cpu.Linearize();
    return;
  }
  cpu.Store(next_[static_cast<std::size_t>(pred - 1)], cpu.id().value() + 1, kinds::kSetNext);
  cpu.AwaitValue(busy_[me], 0, kinds::kGetBusy);
  cpu.Linearize();
}

void McsLock::DoRelease(Cpu& cpu) {
  const std::size_t me = cpu.id().index();
  std::int64_t next = cpu.Load(next_[me], kinds::kGetNext);
  if (next == 0) {
    const std::int64_t mine = cpu.id().value() + 1;
    if (cpu.CompareSwap(tail_, mine, 0, kinds::kCasTail) == mine) {
      cpu.Linearize();
      return;
    }
    next = WaitForLink(cpu);
    if (next == 0) return;
  }
  HandOver(cpu, next);
}

std::int64_t McsLock::WaitForLink(Cpu& cpu) {
  return cpu.LoadWhenChanged(next_[cpu.id().index()], 0, kinds::kGetNext);
}

void McsLock::HandOver(Cpu& cpu, std::int64_t node) {
  cpu.Store(busy_[static_cast<std::size_t>(node - 1)], 0, kinds::kSetBusy);
  cpu.Linearize();
}

}  // namespace strata::kernel
