// The scheduler's part of `strata bench`: context switches per second on one
// CPU with 2 and with 1000 threads that yield in a loop (module scheduler
// over ticket locks), against a bare fiber round trip measured by the
// caller; and booting 64 CPUs x 64 threads (4096 thread fibers).
#ifndef STRATA_BOOT_BENCH_SCHED_H_
#define STRATA_BOOT_BENCH_SCHED_H_

#include <cstdio>
#include <string>

#include "boot/catalog.h"

namespace strata::boot {

// Prints the section (text) or returns its JSON object's members (json).
// `bare` is the bare fiber round trips per second of the same process.
std::string SchedBench(const Catalog& catalog, bool quick, bool json, double bare, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_BENCH_SCHED_H_
