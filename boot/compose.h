// strata compose: the compositionality check of the per-CPU machines
// (DESIGN §2.2). It boots the config on the multicore machine, then re-runs
// each CPU as the per-CPU machine Boot[cid, ε] — its own code live, the
// other CPUs' recorded events as its environment (machine/environment.h),
// under the recorded schedule — and composes the per-CPU logs, each log
// position taken from the machine that focuses the CPU that owns it. The
// composition must be the multicore log (same hash). It fails when a
// CPU's behaviour depends on anything but the log — CPUs that talk through
// host memory, nondeterminism — and names the first event that differs.
#ifndef STRATA_BOOT_COMPOSE_H_
#define STRATA_BOOT_COMPOSE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boot/config.h"
#include "machine/machine.h"
#include "machine/report.h"

namespace strata::boot {

// One CPU's per-CPU machine.
struct CpuComposition {
  machine::CpuId cpu;
  std::size_t events = 0;  // its events in the multicore log
  std::string problem;     // empty: its per-CPU machine gave the multicore log
};

struct Composition {
  machine::RunReport recorded;    // how the multicore run ended
  std::uint64_t recorded_hash = 0;
  std::uint64_t composed_hash = 0;  // set when the composition is the multicore log
  std::size_t events = 0;
  std::vector<CpuComposition> cpus;
  std::string problem;            // empty: the composition is the multicore log
  // Every CPU's machine gave the multicore log and the composition is it.
  bool compositional() const {
    for (const CpuComposition& cpu : cpus) {
      if (!cpu.problem.empty()) return false;
    }
    return problem.empty();
  }
};

// Runs the check for `config` (a bare-machine or thread workload). An error
// if the config sets an environment of its own (env.kind, env.focus).
// `catalog` names the config's workload, scheduler and oracle. `recorded`,
// if set, is called with the multicore run before the per-CPU runs.
absl::StatusOr<Composition> ComposeConfig(
    const Config& config, const Catalog& catalog,
    const std::function<void(const machine::Machine&)>& recorded = nullptr);

// `strata compose`: prints the check and returns the exit status (0 the
// run finished and is compositional, 1 otherwise); an error Status is bad
// input. With `trace_path`, writes the multicore run's timeline
// (boot/trace.h) there.
absl::StatusOr<int> Compose(const Config& config, const Catalog& catalog,
                            const std::string& trace_path, std::FILE* out);

}  // namespace strata::boot

#endif  // STRATA_BOOT_COMPOSE_H_
