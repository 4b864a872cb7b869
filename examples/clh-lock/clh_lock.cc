#include "clh_lock.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "machine/replay.h"

namespace clh {
namespace {

using strata::kernel::Lock;
using strata::kernel::LockSpecState;
using strata::kernel::LockView;
using strata::machine::Cpu;
using strata::machine::CpuId;
using strata::machine::Event;
using strata::machine::EventKind;
using strata::machine::Machine;
using strata::machine::ObjectId;
using strata::machine::OpCode;
using strata::machine::Word;

inline constexpr EventKind kSetLocked{"SET_LOCKED"};
inline constexpr EventKind kSwapTail{"SWAP_TAIL"};
inline constexpr EventKind kWaitPred{"WAIT_PRED"};
inline constexpr EventKind kClearLocked{"CLEAR_LOCKED"};

// The module's replay of its words: who holds the lock (the CPU that saw
// its predecessor unlocked and has not cleared its own node since) and the
// line of waiters for the FIFO bound.
class ClhView final : public LockView {
 public:
  ClhView(ObjectId tail, std::vector<ObjectId> nodes, const Machine& m)
      : tail_(tail),
        locked_(nodes.size(), 0),
        pred_(static_cast<std::size_t>(m.cpus()), -1),
        line_({.enter = 3, .leave = 1}, m) {
    for (std::size_t i = 0; i < nodes.size(); ++i) nodes_.Add(nodes[i], static_cast<int>(i));
    tail_value_ = static_cast<std::int64_t>(nodes.size()) - 1;  // the dummy
  }

  bool Observe(const Event& e) override {
    const std::size_t c = e.cpu.index();
    if (e.object == tail_) {
      if (!word_.Step(tail_value_, e)) return false;
      if (e.op == OpCode::kSwap) {
        pred_[c] = e.result;
        line_.Arrive(e.cpu, e.arg1);
      }
      return true;
    }
    const int node = nodes_.Find(e.object);
    if (node < 0) return true;
    if (!word_.Step(locked_[static_cast<std::size_t>(node)], e)) return false;
    if (e.op == OpCode::kLoad && node == pred_[c] && e.result == 0) line_.Take(e.cpu);
    if (e.op == OpCode::kStore && e.arg0 == 0) line_.Free(e.cpu);
    return true;
  }

  std::optional<std::string> Relation(const LockSpecState& spec) const override {
    return line_.Relation(spec);
  }

  std::string Describe() const override {
    return fmt::format("{}, tail node {}", line_.Describe(), tail_value_);
  }

  std::optional<std::uint64_t> WaitBound(CpuId cpu,
                                         const strata::layers::Primitive& p) const override {
    return line_.WaitBound(cpu, p);
  }

 private:
  ObjectId tail_;
  strata::layers::ObjectSlots nodes_;  // the locked words, by node
  std::vector<std::int64_t> locked_;
  std::vector<std::int64_t> pred_;  // per CPU: its predecessor's node, from its swap
  std::int64_t tail_value_ = 0;
  strata::machine::WordReplay word_;
  strata::kernel::LockLine line_;
};

class ClhLock : public Lock {
 public:
  ClhLock(Machine& m, const std::string& name, bool recycle)
      : Lock(m.NewObject(name)), recycle_(recycle) {
    // Node c is cpu c's own to start with (renaming the cpus renames their
    // nodes: Machine::NewWord's `mine`); the last one, the dummy, is
    // nobody's.
    for (int i = 0; i <= m.cpus(); ++i) {
      const CpuId mine = i < m.cpus() ? CpuId(i) : CpuId();
      locked_.push_back(m.NewWord(fmt::format("{}.locked[{}]", name, i), 0, mine));
    }
    tail_ = m.NewWord(name + ".tail", m.cpus());  // the dummy node, unlocked
    for (int c = 0; c < m.cpus(); ++c) {
      mine_.push_back(c);
      pred_.push_back(-1);
    }
  }

  std::unique_ptr<LockView> NewView(Machine& m) const override {
    std::vector<ObjectId> nodes;
    for (const Word& w : locked_) nodes.push_back(w.id);
    return std::make_unique<ClhView>(tail_.id, std::move(nodes), m);
  }

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override {
    const std::size_t c = cpu.id().index();
    cpu.Store(locked_[Index(mine_[c])], 1, kSetLocked);
    pred_[c] = cpu.Swap(tail_, mine_[c], kSwapTail, bound);
    cpu.AwaitValue(locked_[Index(pred_[c])], 0, kWaitPred);
    cpu.Linearize();
  }

  void DoRelease(Cpu& cpu) override {
    const std::size_t c = cpu.id().index();
    cpu.Store(locked_[Index(mine_[c])], 0, kClearLocked);
    cpu.Linearize();
    if (recycle_) mine_[c] = pred_[c];
  }

 private:
  static std::size_t Index(std::int64_t node) { return static_cast<std::size_t>(node); }

  bool recycle_;
  std::vector<Word> locked_;
  Word tail_;
  // Private to each CPU (its registers, in a real kernel): only CPU c
  // touches entry c.
  std::vector<std::int64_t> mine_, pred_;
};

}  // namespace

// Both treat cpus alike: a cpu's id only picks its own node (`symmetric`,
// so a dfs check with the fixed client runs one schedule per renaming).
void AddClhLocks(strata::kernel::LockRegistry& locks) {
  locks.Add({"clh", "CLH queue lock: per-CPU nodes recycled from the predecessor", false, "",
             [](Machine& m, const std::string& name) -> std::unique_ptr<Lock> {
               return std::make_unique<ClhLock>(m, name, /*recycle=*/true);
             },
             /*symmetric=*/true});
  locks.Add({"clh-reuse-node", "known-bad: release keeps its own node instead of the predecessor's",
             true, "deadlock",
             [](Machine& m, const std::string& name) -> std::unique_ptr<Lock> {
               return std::make_unique<ClhLock>(m, name, /*recycle=*/false);
             },
             /*symmetric=*/true});
}

}  // namespace clh
