// The portfolio strategy: the run budget shared, one execution each in
// turn, between members that find different bugs — random runs, PCT at
// depths 2, 3 and 4 (bugs of a few ordering constraints), dfs bounded to 2
// preemptions (small schedules exhaustively, until its space is covered)
// and, where the layer allows per-CPU checks, a random run against each
// environment context (the adversarial one's edge values and late moves).
// Each member keeps its own numbering of executions, so a member runs as
// it would alone; Member() names the one that ran the last execution.
#include <fmt/format.h>

#include "layers/strategy.h"
#include "machine/rng.h"

namespace strata::layers {
namespace {

class Portfolio final : public Strategy {
 public:
  explicit Portfolio(const StrategyOptions& o) {
    members_.push_back({MakeRandomStrategy(o)});
    for (int depth : {2, 3, 4}) {
      StrategyOptions pct = o;
      pct.pct_depth = depth;
      pct.seed = machine::MixSeed(o.seed + static_cast<std::uint64_t>(depth));
      members_.push_back({MakePctStrategy(pct)});
    }
    StrategyOptions dfs = o;
    dfs.preemption_bound = o.preemption_bound >= 0 ? o.preemption_bound : 2;
    members_.push_back({MakeDfsStrategy(dfs)});
    for (const NamedEnvironment& env : o.environments) {
      StrategyOptions inner = o;
      inner.seed = machine::MixSeed(o.seed ^ 0x656e76ull ^ members_.size());
      members_.push_back(
          {WithEnvironment(MakeRandomStrategy(inner), env, machine::CpuId(), o.cpus)});
    }
  }
  machine::Oracle& Next(std::uint64_t) override {
    Slot& m = members_[current_];
    return m.strategy->Next(m.executions);
  }
  void Finished(std::uint64_t steps) override { members_[current_].strategy->Finished(steps); }
  bool Advance() override {
    Slot& m = members_[current_];
    ++m.executions;
    if (!m.strategy->Advance()) m.done = true;
    for (std::size_t k = 1; k <= members_.size(); ++k) {
      const std::size_t next = (current_ + k) % members_.size();
      if (!members_[next].done) {
        current_ = next;
        return true;
      }
    }
    return false;  // never: the random members run on
  }
  std::string Describe() const override {
    std::string out = "portfolio of";
    for (std::size_t k = 0; k < members_.size(); ++k) {
      out += fmt::format("{} {}", k == 0 ? "" : ",", members_[k].strategy->Describe());
    }
    return out;
  }
  std::uint64_t skipped() const override {
    std::uint64_t n = 0;
    for (const Slot& m : members_) n += m.strategy->skipped();
    return n;
  }
  machine::MachineOptions MachineFor(const machine::MachineOptions& base) const override {
    return members_[current_].strategy->MachineFor(base);
  }
  std::string Member() const override { return members_[current_].strategy->Member(); }
  std::string Environment() const override { return members_[current_].strategy->Environment(); }
  bool runs_environments() const override { return true; }

 private:
  struct Slot {
    std::unique_ptr<Strategy> strategy;
    std::uint64_t executions = 0;
    bool done = false;
  };
  std::vector<Slot> members_;
  std::size_t current_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> MakePortfolioStrategy(const StrategyOptions& options) {
  return std::make_unique<Portfolio>(options);
}

}  // namespace strata::layers
