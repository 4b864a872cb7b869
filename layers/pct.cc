// The PCT strategy: run i under a PCT oracle (depth d, horizon k) seeded
// seed + i, so each run draws its own priorities and change points.
#include <fmt/format.h>

#include "layers/strategy.h"

namespace strata::layers {
namespace {

class PctStrategy final : public Strategy {
 public:
  explicit PctStrategy(const StrategyOptions& o) : o_(o) {}
  machine::Oracle& Next(std::uint64_t i) override {
    oracle_ = machine::MakeOracle({.kind = machine::OracleKind::kPct,
                                   .seed = o_.seed + i,
                                   .cpus = o_.cpus,
                                   .pct_depth = o_.pct_depth,
                                   .pct_horizon = o_.pct_horizon});
    return *oracle_;
  }
  std::string Describe() const override {
    return fmt::format("pct (depth {}, horizon {})", o_.pct_depth, o_.pct_horizon);
  }

 private:
  StrategyOptions o_;
  std::unique_ptr<machine::Oracle> oracle_;
};

}  // namespace

std::unique_ptr<Strategy> MakePctStrategy(const StrategyOptions& options) {
  return std::make_unique<PctStrategy>(options);
}

}  // namespace strata::layers
