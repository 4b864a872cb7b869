// The only source of randomness in strata: std::mt19937_64 with our own
// bounded draw, so that a seed means the same sequence on every standard
// library (std::uniform_int_distribution is implementation-defined).
#ifndef STRATA_MACHINE_RNG_H_
#define STRATA_MACHINE_RNG_H_

#include <cstdint>
#include <random>

namespace strata::machine {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // A uniform draw from [0, n). Precondition: n > 0.
  std::uint64_t Below(std::uint64_t n) {
    // Rejection sampling: discard the top partial range so every value is
    // equally likely.
    const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    std::uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return x % n;
  }

  std::uint64_t Next() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_RNG_H_
