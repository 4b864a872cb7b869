// `strata bench`: the machine's speed against the one cost it cannot avoid.
// Measures, in one process, a bare Boost.Context fiber round trip and the
// simulated shared events per second on the bare machine (2, 8 and 64 CPUs,
// round-robin and random oracles), and reports each as a ratio
// events/s ÷ round trips/s (goal: >= 0.35).
#ifndef STRATA_BOOT_BENCH_H_
#define STRATA_BOOT_BENCH_H_

#include <cstdio>

namespace strata::boot {

struct BenchOptions {
  bool json = false;
  bool quick = false;  // fewer events, for smoke tests
};

// Runs the benchmark and prints it; returns the exit status.
int Bench(const BenchOptions& options, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_BENCH_H_
