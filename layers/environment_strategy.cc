// A strategy's executions as per-CPU checks (DESIGN §2.2): the same
// oracles, on machines focused on one CPU whose environment draws and is
// scheduled as the environment context says.
#include <fmt/format.h>

#include "layers/strategy.h"
#include "machine/check.h"

namespace strata::layers {
namespace {

using machine::CpuId;

class EnvironmentStrategy final : public Strategy {
 public:
  EnvironmentStrategy(std::unique_ptr<Strategy> inner, NamedEnvironment env, CpuId focus, int cpus)
      : inner_(std::move(inner)), env_(std::move(env)), fixed_(focus), cpus_(cpus) {
    STRATA_CHECK(!(env_.env.schedule && inner_->exhaustive()),
                 "the {} environment shapes the schedule: not over an exhaustive strategy", env_.name);
    if (!fixed_.valid() && inner_->exhaustive()) fixed_ = CpuId(0);
  }
  machine::Oracle& Next(std::uint64_t i) override {
    focus_ = fixed_.valid() ? fixed_ : CpuId(static_cast<CpuId::Rep>(i % static_cast<std::uint64_t>(cpus_)));
    machine::Oracle& strategy = inner_->Next(i);
    if (!env_.env.schedule) return strategy;
    // The focus's own count of executions, so that what the schedule does
    // in turn does not go with the focus.
    oracle_ = env_.env.schedule(focus_, fixed_.valid() ? i : i / static_cast<std::uint64_t>(cpus_),
                                strategy);
    return *oracle_;
  }
  void Finished(std::uint64_t steps) override { inner_->Finished(steps); }
  bool Advance() override { return inner_->Advance(); }
  bool exhaustive() const override { return inner_->exhaustive(); }
  std::string bound() const override { return inner_->bound(); }
  std::uint64_t guard_cuts() const override { return inner_->guard_cuts(); }
  bool reduced() const override { return inner_->reduced(); }
  std::uint64_t skipped() const override { return inner_->skipped(); }
  std::string Describe() const override {
    return fmt::format("{} against the {} environment ({})", inner_->Describe(), env_.name,
                       fixed_.valid() ? fmt::format("focus cpu {}", fixed_)
                                      : std::string("each cpu in turn the focus"));
  }
  machine::MachineOptions MachineFor(const machine::MachineOptions& base) const override {
    return machine::CheckOptions(inner_->MachineFor(base), focus_, env_.env);
  }
  std::string Member() const override {
    return fmt::format("{} against the {} environment (focus cpu {})", inner_->Member(), env_.name,
                       focus_);
  }
  std::string Environment() const override { return env_.name; }
  // A part is the inner strategy's part against the same environment.
  std::unique_ptr<Strategy> Split(std::uint64_t id, std::uint64_t* first) override {
    std::unique_ptr<Strategy> inner = inner_->Split(id, first);
    if (inner == nullptr) return nullptr;
    return std::make_unique<EnvironmentStrategy>(std::move(inner), env_, fixed_, cpus_);
  }
  std::optional<std::uint64_t> Joining() const override { return inner_->Joining(); }
  bool Fits(const Strategy& part) const override {
    return inner_->Fits(*static_cast<const EnvironmentStrategy&>(part).inner_);
  }
  bool Join(Strategy& part) override { return inner_->Join(*static_cast<EnvironmentStrategy&>(part).inner_); }
  void Reclaim() override { inner_->Reclaim(); }
  std::vector<std::uint64_t> Abandoned() override { return inner_->Abandoned(); }
  std::optional<std::string> Pack() const override { return inner_->Pack(); }
  std::unique_ptr<Strategy> Unpack(std::string_view bytes) const override {
    std::unique_ptr<Strategy> inner = inner_->Unpack(bytes);
    if (inner == nullptr) return nullptr;
    return std::make_unique<EnvironmentStrategy>(std::move(inner), env_, fixed_, cpus_);
  }
  std::string PackOutcome() const override { return inner_->PackOutcome(); }
  bool UnpackOutcome(std::string_view bytes) override { return inner_->UnpackOutcome(bytes); }

 private:
  std::unique_ptr<Strategy> inner_;
  NamedEnvironment env_;
  CpuId fixed_, focus_;
  int cpus_;
  std::unique_ptr<machine::Oracle> oracle_;
};

}  // namespace

std::unique_ptr<Strategy> WithEnvironment(std::unique_ptr<Strategy> inner, NamedEnvironment env,
                                          CpuId focus, int cpus) {
  return std::make_unique<EnvironmentStrategy>(std::move(inner), std::move(env), focus, cpus);
}

}  // namespace strata::layers
