#include "kernel/tas_lock.h"

#include <fmt/format.h>

namespace strata::kernel {
namespace {

class TasView final : public LockView {
 public:
  TasView(ObjectId lock, ObjectId word, const Machine& m)
      : lock_(lock), word_(word), line_({.enter = 2, .leave = 1}, m) {}

  bool Observe(const Event& e) override {
    if (e.object == lock_ && e.op == OpCode::kCall && e.kind == kinds::kCallAcquire) {
      line_.Arrive(e.cpu, e.arg0);
    }
    if (e.object != word_) return true;
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
