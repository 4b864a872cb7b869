// What a run asks of the host, checked before it starts, and the host
// threads a check runs on (CheckJobs). Every CPU and every thread is a
// fiber on its own guard-paged stack (two memory maps: the stack and its
// guard page; machine/stack_pool.h), so a config with many threads can pass every key's range
// and still need more maps than vm.max_map_count allows or more memory
// than the host has; a schedule file's steps are held in memory when it
// is replayed. RunDemand says what a config's run needs, CheckHostLimits
// compares it with the host's limits, and both refuse with one line naming
// the key to change.
#ifndef STRATA_BOOT_HOST_LIMITS_H_
#define STRATA_BOOT_HOST_LIMITS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boot/catalog.h"
#include "boot/config.h"
#include "boot/keys.h"

namespace strata::boot {

// The host's limits: vm.max_map_count, the maps this process has, the
// memory available (MemAvailable). A limit it cannot read is the largest
// value (not checked).
struct HostLimits {
  std::int64_t max_map_count = INT64_MAX;
  std::int64_t maps_in_use = 0;
  std::uint64_t available_bytes = UINT64_MAX;
  std::size_t page_bytes = 4096;
};
// This host's, read from /proc now.
HostLimits ReadHostLimits();

// The host threads a check of `config` runs on: check.jobs, or for 0 one
// per core this process may run on (its affinity), the host's cores shared
// by the `ranks_here` ranks of a sharded check that run on this host.
int CheckJobs(const Config& config, int ranks_here);

// What one command's run of a config needs at its peak.
struct HostDemand {
  std::string source;          // the config or schedule file, for the message
  // Fiber stacks alive at once, as a function of the value of `key` (the
  // key the user would lower: "workload.threads", "machine.cpus"), and that
  // key's present value; null `stacks` = none.
  std::string key;
  std::int64_t value = 0;
  std::int64_t lo = 1;  // the key's smallest value
  std::function<std::int64_t(std::int64_t value)> stacks;
  std::int64_t runs = 1;        // runs alive together, counted in `stacks`
  int jobs = 1;                 // of them, one per host thread of a check (check.jobs)
  std::string jobs_text;        // where those threads come from, for the message
  std::size_t stack_bytes = 0;  // each, usable (StackPool maps kPagesBesides pages more)
  // Steps held in memory (a schedule file's `steps`), 0 = none.
  std::int64_t steps = 0;
};

// What a run of `config` by `command` (kBootCommand for boot, replay of a
// boot schedule, compose and tlink; kCheckCommand for check and replay of a
// check's schedule) needs: the CPUs' and the threads' stacks, with room for
// the runs alive together (a failure and the run shrinking it; a check's
// failure, its witness and the execution each of its host threads makes:
// a replay sets check.jobs = 1). Error (InvalidArgument,
// one line): a stack.max_threads set below the threads the workload (or
// the sched check's client) has at once, a pool that cannot hold them.
absl::StatusOr<HostDemand> RunDemand(const Config& config, const Catalog& catalog, Command command);

// OK if `demand` fits `limits`: its stacks' memory maps within what
// vm.max_map_count leaves (a reserve kept for the rest of the process) and
// its stacks' and steps' bytes within the available memory. Otherwise
// InvalidArgument "SOURCE: KEY: ... need N memory maps ...: expected at
// most M" naming the largest value of the key that fits.
absl::Status CheckHostLimits(const HostDemand& demand, const HostLimits& limits);

// RunDemand checked against ReadHostLimits(): call before a run starts.
absl::Status CheckRunFitsHost(const Config& config, const Catalog& catalog, Command command);

}  // namespace strata::boot

#endif  // STRATA_BOOT_HOST_LIMITS_H_
