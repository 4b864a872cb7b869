// The random strategy: one seeded random oracle for every run. Seeding a
// Mersenne twister per run would cost more than the run; a failure is
// replayed from its recorded schedule, not from a seed.
#include <fmt/format.h>

#include "layers/strategy.h"

namespace strata::layers {
namespace {

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(const StrategyOptions& o)
      : seed_(o.seed),
        oracle_(machine::MakeOracle(
            {.kind = machine::OracleKind::kRandom, .seed = o.seed, .cpus = o.cpus})) {}
  machine::Oracle& Next(std::uint64_t) override { return *oracle_; }
  std::string Describe() const override { return fmt::format("random (seed {})", seed_); }

 private:
  std::uint64_t seed_;
  std::unique_ptr<machine::Oracle> oracle_;
};

}  // namespace

std::unique_ptr<Strategy> MakeRandomStrategy(const StrategyOptions& options) {
  return std::make_unique<RandomStrategy>(options);
}

}  // namespace strata::layers
