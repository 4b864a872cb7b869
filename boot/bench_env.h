// strata bench's per-CPU machine figures: a per-CPU run against the
// recorded environment, timed against the multicore run it replays; and a
// per-CPU check against the random environment, its cost per event of the
// focused cpu against the multicore check's per event of one cpu.
#ifndef STRATA_BOOT_BENCH_ENV_H_
#define STRATA_BOOT_BENCH_ENV_H_

#include <cstdio>
#include <string>

#include "boot/catalog.h"

namespace strata::boot {

// Prints the figures to `out`, or with `json` returns them as one JSON
// member ("per_cpu": {...}) and prints nothing.
std::string EnvBench(const Catalog& catalog, bool quick, bool json, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_BENCH_ENV_H_
