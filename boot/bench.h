// `strata bench`: the machine's speed against the one cost it cannot avoid.
// Measures, in one process, a bare Boost.Context fiber round trip and the
// simulated shared events per second on the bare machine (2, 8 and 64 CPUs,
// round-robin and random oracles), and reports each as a ratio
// events/s ÷ round trips/s (goal: >= 0.35). Then the refinement checker on
// the lock layer (2 acquisitions per CPU, bound 2): random-strategy checked
// executions per second of the ticket lock on 2 CPUs (goal: >= 100,000/s, and
// its ratio to the round trip rate), the cost of checking (time per checked
// execution ÷ time per plain execution, same seed and runs; goal: <= 2), and
// exhaustive dfs (ticket and MCS, 2 and 3 CPUs, with and without sleep-set
// reduction; runs capped at 2,000,000, reported as not exhausted).
#ifndef STRATA_BOOT_BENCH_H_
#define STRATA_BOOT_BENCH_H_

#include <cstdio>

#include "boot/catalog.h"

namespace strata::boot {

struct BenchOptions {
  bool json = false;
  bool quick = false;  // fewer events, runs and dfs executions, for smoke tests
};

// Runs the benchmark and prints it; returns the exit status.
int Bench(const BenchOptions& options, const Catalog& catalog, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_BENCH_H_
