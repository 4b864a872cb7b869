// The PCT strategy: run i under a PCT oracle (depth d, horizon k) seeded
// seed + i, so each run draws its own priorities and change points. PCT
// finds a bug of depth d with probability at least 1/(n k^(d-1)) only if
// its change points can fall where the bug needs them, inside the run: a
// horizon far beyond the client's runs leaves most runs without a change
// point. So by default (pct_horizon 0) k is measured: the longest run so
// far in the run's block of 64 (Finished). A block measures its own runs,
// so that any thread can make any block (BlockStrategy) and the runs are
// the same for every number of threads.
#include <algorithm>

#include <fmt/format.h>

#include "layers/strategy.h"

namespace strata::layers {
namespace {

class PctStrategy final : public BlockStrategy {
 public:
  explicit PctStrategy(const StrategyOptions& o) : BlockStrategy(o.runs), o_(o) {}
  machine::Oracle& Next(std::uint64_t i) override {
    if (Begin(i)) longest_ = 0;
    horizon_ = o_.pct_horizon != 0 ? o_.pct_horizon : longest_;
    // Nothing measured yet: the first run runs the priorities alone.
    oracle_ = machine::MakeOracle({.kind = machine::OracleKind::kPct,
                                   .seed = o_.seed + i,
                                   .cpus = o_.cpus,
                                   .pct_depth = horizon_ == 0 ? 1 : o_.pct_depth,
                                   .pct_horizon = std::max<std::uint64_t>(horizon_, 1)});
    return *oracle_;
  }
  void Finished(std::uint64_t steps) override { longest_ = std::max(longest_, steps); }
  std::string Describe() const override {
    if (o_.pct_horizon != 0) {
      return fmt::format("pct (depth {}, horizon {})", o_.pct_depth, o_.pct_horizon);
    }
    if (horizon_ == 0) return fmt::format("pct (depth {}, horizon from the run)", o_.pct_depth);
    return fmt::format("pct (depth {}, horizon from the run: {} steps)", o_.pct_depth, horizon_);
  }

 private:
  std::unique_ptr<BlockStrategy> Copy() const override { return std::make_unique<PctStrategy>(o_); }

  StrategyOptions o_;
  std::uint64_t longest_ = 0;  // the most steps an execution of the block took so far
  std::uint64_t horizon_ = 0;  // the horizon of the last execution; 0: none measured
  std::unique_ptr<machine::Oracle> oracle_;
};

}  // namespace

std::unique_ptr<Strategy> MakePctStrategy(const StrategyOptions& options) {
  return std::make_unique<PctStrategy>(options);
}

}  // namespace strata::layers
