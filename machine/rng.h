// The only sources of randomness in strata: our own bounded draw over
// std::mt19937_64 (Rng) or over SplitMix64 (StreamRng), so that a seed means
// the same sequence on every standard library (std::uniform_int_distribution
// is implementation-defined).
#ifndef STRATA_MACHINE_RNG_H_
#define STRATA_MACHINE_RNG_H_

#include <cstdint>
#include <random>

namespace strata::machine {

// SplitMix64's finalizer: spreads nearby seeds (1, 2, 3 ...) apart.
constexpr std::uint64_t MixSeed(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// SplitMix64 (Steele, Lea and Flood, OOPSLA 2014) as a standard engine:
// one word of state, so seeding is free. std::mt19937_64 fills 312 words
// when seeded; a check seeds about nine streams per execution (every cpu's
// client, twice, and the environment's bursts), and that seeding was 30% of
// a lock check's time (perf, strata check --layer lock --cpus 4).
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t operator()() {
    const std::uint64_t z = state_;
    state_ += 0x9e3779b97f4a7c15ull;
    return MixSeed(z);
  }

 private:
  std::uint64_t state_;
};

// A uniform bounded draw over `Engine`. Rng (std::mt19937_64) is for the
// long-lived streams: an oracle seeded once per run. StreamRng (SplitMix64)
// is for streams seeded once per execution or more often: clients'
// choices, an environment's bursts.
template <class Engine>
class BasicRng {
  __extension__ typedef unsigned __int128 U128;

 public:
  explicit BasicRng(std::uint64_t seed) : engine_(seed) {}

  // A uniform draw from [0, n). Precondition: n > 0. Lemire's multiply-
  // and-shift with rejection: exact, and almost never divides.
  std::uint64_t Below(std::uint64_t n) {
    const U128 m = static_cast<U128>(engine_()) * n;
    if (static_cast<std::uint64_t>(m) < n) [[unlikely]] return Retry(m, n);
    return static_cast<std::uint64_t>(m >> 64);
  }

  std::uint64_t Next() { return engine_(); }

 private:
  // Below's rare rejection path, out of line so that the common draw stays
  // small enough to inline into an oracle's pick.
  [[gnu::noinline, gnu::cold]] std::uint64_t Retry(U128 m, std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    auto low = static_cast<std::uint64_t>(m);
    while (low < threshold) {
      m = static_cast<U128>(engine_()) * n;
      low = static_cast<std::uint64_t>(m);
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  Engine engine_;
};

using Rng = BasicRng<std::mt19937_64>;
using StreamRng = BasicRng<SplitMix64>;

// How a client draws its choices. kEdges is an adversarial environment's
// (machine/environment.h): every size, count or value is the least or the
// greatest of its range, the greatest three times in four (the largest
// bound, the longest critical section, the most calls); which of several
// alternatives it takes stays uniform.
enum class Draws : std::uint8_t { kUniform, kEdges };

// The random stream of one CPU's client code under `client_seed`
// (MachineOptions::client_seed). One stream per CPU, so a CPU's choices do
// not depend on how the CPUs interleave: the spec run that follows a
// module run's mapped log makes the same calls.
class ClientRng {
 public:
  ClientRng(std::uint64_t client_seed, int cpu, Draws draws = Draws::kUniform)
      : rng_(MixSeed(client_seed ^ MixSeed(static_cast<std::uint64_t>(cpu) + 1))),
        edges_(draws == Draws::kEdges) {}
  // A size, a count or a value from [0, n). Precondition: n > 0.
  std::uint64_t Below(std::uint64_t n) {
    if (!edges_ || n <= 1) return rng_.Below(n);
    return rng_.Below(4) == 0 ? 0 : n - 1;
  }
  // Which of n alternatives (an operation, an object). Precondition: n > 0.
  std::uint64_t Pick(std::uint64_t n) { return rng_.Below(n); }

 private:
  StreamRng rng_;
  bool edges_;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_RNG_H_
