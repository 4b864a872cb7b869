// The random strategy: a seeded random oracle per block of runs. Seeding a
// Mersenne twister per run would cost more than the run, so the oracle's
// stream goes on from run to run within a block; a block's seed comes from
// the check's seed and the block's number, so that any thread can make any
// block (BlockStrategy) and the runs are the same for every number of
// threads. A failure is replayed from its recorded schedule, not from a seed.
#include <fmt/format.h>

#include "layers/strategy.h"
#include "machine/rng.h"

namespace strata::layers {
namespace {

class RandomStrategy final : public BlockStrategy {
 public:
  explicit RandomStrategy(const StrategyOptions& o) : BlockStrategy(o.runs), o_(o) {}
  machine::Oracle& Next(std::uint64_t i) override {
    if (Begin(i)) {
      oracle_ = machine::MakeOracle({.kind = machine::OracleKind::kRandom,
                                     .seed = machine::MixSeed(o_.seed ^ machine::MixSeed(i / kBlock)),
                                     .cpus = o_.cpus});
    }
    return *oracle_;
  }
  std::string Describe() const override { return fmt::format("random (seed {})", o_.seed); }

 private:
  std::unique_ptr<BlockStrategy> Copy() const override { return std::make_unique<RandomStrategy>(o_); }

  StrategyOptions o_;
  std::unique_ptr<machine::Oracle> oracle_;
};

}  // namespace

std::unique_ptr<Strategy> MakeRandomStrategy(const StrategyOptions& options) {
  return std::make_unique<RandomStrategy>(options);
}

}  // namespace strata::layers
