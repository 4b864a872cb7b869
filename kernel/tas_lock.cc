#include "kernel/tas_lock.h"

#include <optional>
#include <vector>

#include <fmt/format.h>

namespace strata::kernel {
namespace {

class TasView final : public LockView {
 public:
  TasView(ObjectId lock, ObjectId word, const Machine& m)
      : lock_(lock), word_(word), line_({.enter = 2, .leave = 1}, m),
        promised_(static_cast<std::size_t>(m.cpus())) {}

  bool Observe(const Event& e) override {
    const std::size_t c = e.cpu.index();
    // The bound the caller promised comes with its call; it joins the line
    // at its doorway, its first compare-and-swap. Not at the call: the
    // cpus make their first calls in the order of their ids, whatever the
    // schedule, so a line in the order of calls would not be renamed with
    // the cpus, and neither would the bounds (the lock is `symmetric`).
    if (e.object == lock_ && e.op == OpCode::kCall && e.kind == kinds::kCallAcquire) {
      promised_[c] = e.arg0;
    }
    if (e.object != word_) return true;
    if (e.op == OpCode::kCas && promised_[c].has_value()) {
      line_.Arrive(e.cpu, *promised_[c]);
      promised_[c].reset();
    }
    const std::int64_t before = value_;
    if (!replay_.Step(value_, e)) return false;
    // The word names the holder: cpu + 1, or 0.
    if (before != 0 && value_ == 0) line_.Free(CpuId(static_cast<int>(before - 1)));
    if (before == 0 && value_ != 0) line_.Take(CpuId(static_cast<int>(value_ - 1)));
    return true;
  }

  std::optional<std::string> Relation(const LockSpecState& spec) const override {
    return line_.Relation(spec);
  }
  std::string Describe() const override {
    return fmt::format("{}, word {}", line_.Describe(), value_);
  }
  std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const override {
    return line_.WaitBound(cpu, p);
  }

 private:
  ObjectId lock_, word_;
  machine::WordReplay replay_;
  std::int64_t value_ = 0;
  LockLine line_;
  std::vector<std::optional<std::int64_t>> promised_;  // by cpu: called, not yet at the doorway
};

}  // namespace

TasLock::TasLock(Machine& m, const std::string& name)
    : Lock(m.NewObject(name)), word_(m.NewWord(name + ".word")) {}

std::unique_ptr<LockView> TasLock::NewView(Machine& m) const {
  return std::make_unique<TasView>(object(), word_.id, m);
}

void TasLock::DoAcquire(Cpu& cpu, std::int64_t) {
  for (;;) {
    const std::int64_t seen = cpu.CompareSwap(word_, 0, cpu.id().value() + 1, kinds::kTas);
    if (seen == 0) break;
    cpu.LoadWhenChanged(word_, seen, kinds::kSpin);
  }
  cpu.Linearize();
}

void TasLock::DoRelease(Cpu& cpu) {
  cpu.Store(word_, 0, kinds::kClear);
  cpu.Linearize();
}

}  // namespace strata::kernel
