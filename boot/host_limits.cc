#include "boot/host_limits.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "boot/workloads.h"
#include "machine/stack_pool.h"
#include "sched/csched.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

// Memory maps kept free for everything else of the process (libraries,
// the allocator's arenas, a sanitizer's own maps).
constexpr std::int64_t kMapReserve = 2048;
// Maps per fiber stack: the stack and its guard page (machine/stack_pool.h).
constexpr std::int64_t kMapsPerStack = 2;
// Bytes a replayed step holds: its choice, its event in the log and the
// log's bookkeeping (a generous bound).
constexpr std::uint64_t kBytesPerStep = 512;

std::uint64_t StackMemory(std::int64_t stacks, const HostDemand& d, const HostLimits& limits) {
  return static_cast<std::uint64_t>(stacks) *
         (d.stack_bytes + machine::StackPool::kPagesBesides * limits.page_bytes);
}

// The largest value of the demand's key from lo up to its value whose
// stacks fit `fits`, or lo - 1 when none does (the stacks grow with it).
std::int64_t LargestFitting(const HostDemand& d, const std::function<bool(std::int64_t)>& fits) {
  std::int64_t lo = d.lo - 1, hi = d.value;  // fits(lo) is taken as true, fits(hi) is false
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (fits(d.stacks(mid)) ? lo : hi) = mid;
  }
  return lo;
}

// The largest stack, in KiB, of which `stacks` fit the available memory.
std::uint64_t LargestStackKib(std::int64_t stacks, const HostLimits& limits) {
  const std::uint64_t each = limits.available_bytes / static_cast<std::uint64_t>(stacks);
  const std::uint64_t besides = machine::StackPool::kPagesBesides * limits.page_bytes;
  return each > besides ? (each - besides) / 1024 : 0;
}

std::string Mib(std::uint64_t bytes) { return fmt::format("{} MiB", (bytes + (1 << 20) - 1) >> 20); }

// The threads `name` (a thread workload) has at once; the pool's size when
// it does not say.
std::int64_t ThreadsOf(const sched::ThreadProgram& program, int cpus, std::int64_t threads,
                       std::int64_t pool) {
  if (program.most_threads == nullptr) return pool;
  return program.most_threads(cpus, static_cast<int>(threads));
}

}  // namespace

HostLimits ReadHostLimits() {
  HostLimits limits;
  if (std::ifstream in("/proc/sys/vm/max_map_count"); in) {
    std::int64_t n = 0;
    if (in >> n && n > 0) limits.max_map_count = n;
  }
  if (std::ifstream in("/proc/self/maps"); in) {
    std::int64_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    limits.maps_in_use = lines;
  }
  if (std::ifstream in("/proc/meminfo"); in) {
    for (std::string line; std::getline(in, line);) {
      std::uint64_t kib = 0;
      if (std::sscanf(line.c_str(), "MemAvailable: %" SCNu64 " kB", &kib) == 1) {
        limits.available_bytes = kib * 1024;
      }
    }
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page > 0) limits.page_bytes = static_cast<std::size_t>(page);
  return limits;
}

namespace {
int HostCores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }
int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return HostCores();
  return std::max(1, CPU_COUNT(&set));
}
}  // namespace

int CheckJobs(const Config& c, int ranks_here) {
  return c.jobs != 0 ? c.jobs : std::min(UsableCores(), std::max(1, HostCores() / std::max(1, ranks_here)));
}

absl::StatusOr<HostDemand> RunDemand(const Config& c, const Catalog& catalog, Command command) {
  HostDemand d;
  d.source = c.source;
  d.stack_bytes = c.machine.stack_bytes;
  const int cpus = c.machine.cpus;
  // A boot run and its shrinking candidate; a check's failure, its
  // witness re-run and the execution each host thread makes (each has its
  // own pool of stacks). The most a process of a sharded check has: the
  // cores are shared only where ranks share a host.
  d.jobs = command == kCheckCommand ? CheckJobs(c, 1) : 1;
  d.jobs_text = c.jobs != 0 ? fmt::format("check.jobs = {}", c.jobs)
                            : fmt::format("{} (check.jobs = 0: one per core)", d.jobs);
  const std::int64_t runs = command == kCheckCommand ? 2 + d.jobs : 2;
  d.key = "machine.cpus";
  d.value = cpus;
  d.runs = runs;
  d.stacks = [runs](std::int64_t cpus) { return runs * cpus; };

  // The thread program a run of `command` has, its threads per CPU, the
  // key that sets them, and the pool.
  const sched::ThreadProgram* program = nullptr;
  std::string name, threads_key;
  std::int64_t threads = 0;
  if (command == kCheckCommand) {
    if (c.check_layer == "all" || c.check_layer == "sched" || c.check_layer == "thread") {
      name = sched::SchedClient(c.stack);
      threads = c.stack.threads;
      threads_key = "check.threads";
    }
  } else if (std::optional<Workload> w = FindWorkload(catalog, c.workload); w && w->threaded) {
    name = c.workload;
    threads = c.threads;
    threads_key = "workload.threads";
  }
  if (const auto* entry = name.empty() ? nullptr : catalog.threads.Find(name)) {
    program = &entry->make;
  }
  if (program == nullptr) return d;

  const std::int64_t pool = sched::PoolCapacity(c.stack.max_threads, cpus, static_cast<int>(threads));
  const std::int64_t need = ThreadsOf(*program, cpus, threads, pool);
  if (c.stack.max_threads != 0 && need > c.stack.max_threads) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: stack.max_threads: {} \"{}\" has up to {} threads at once ({} cpus, {} = {}): "
        "expected 0 (enough for it) or at least {}, got {}",
        c.source, command == kCheckCommand ? "check.client" : "workload", name, need, cpus,
        threads_key, threads, need, c.stack.max_threads));
  }
  d.key = threads_key;
  d.value = threads;
  d.lo = 1;
  d.stacks = [runs, program, cpus, max = c.stack.max_threads](std::int64_t t) {
    const std::int64_t pool = sched::PoolCapacity(max, cpus, static_cast<int>(t));
    return runs * (cpus + std::min(pool, ThreadsOf(*program, cpus, t, pool)));
  };
  return d;
}

absl::Status CheckHostLimits(const HostDemand& d, const HostLimits& limits) {
  if (d.stacks) {
    const std::int64_t stacks = d.stacks(d.value);
    const std::int64_t headroom = std::max<std::int64_t>(
        0, limits.max_map_count - limits.maps_in_use - kMapReserve);
    auto maps_fit = [&](std::int64_t s) { return s * kMapsPerStack <= headroom; };
    if (!maps_fit(stacks)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: {}: {} = {} needs {} fiber stacks at once ({} memory maps, {} runs alive "
          "together{}), more than this host allows (vm.max_map_count {}, {} maps in use): expected "
          "at most {}",
          d.source, d.key, d.key, d.value, stacks, stacks * kMapsPerStack, d.runs,
          d.jobs > 1 ? fmt::format(", one per host thread of {}", d.jobs_text) : std::string(),
          limits.max_map_count,
          limits.maps_in_use, LargestFitting(d, maps_fit)));
    }
    auto memory_fits = [&](std::int64_t s) {
      return StackMemory(s, d, limits) <= limits.available_bytes;
    };
    if (!memory_fits(stacks)) {
      const std::int64_t most = LargestFitting(d, memory_fits);
      const std::string kib = fmt::format("{} KiB", d.stack_bytes / 1024);
      return absl::InvalidArgumentError(fmt::format(
          "{}: {}: {} fiber stacks of {} (machine.stack_kib) need {}, more than the {} this "
          "host has available: expected at most {}{}",
          d.source, most >= d.lo ? d.key : "machine.stack_kib", stacks, kib,
          Mib(StackMemory(stacks, d, limits)), Mib(limits.available_bytes),
          most >= d.lo ? most : static_cast<std::int64_t>(LargestStackKib(stacks, limits)),
          most >= d.lo ? "" : " KiB"));
    }
  }
  if (d.steps > 0 &&
      static_cast<std::uint64_t>(d.steps) > limits.available_bytes / kBytesPerStep) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: schedule.steps: {} steps need {} to replay, more than the {} this host has "
        "available: expected at most {}",
        d.source, d.steps, Mib(static_cast<std::uint64_t>(d.steps) * kBytesPerStep),
        Mib(limits.available_bytes), limits.available_bytes / kBytesPerStep));
  }
  return absl::OkStatus();
}

absl::Status CheckRunFitsHost(const Config& config, const Catalog& catalog, Command command) {
  STRATA_ASSIGN_OR_RETURN(const HostDemand demand, RunDemand(config, catalog, command));
  return CheckHostLimits(demand, ReadHostLimits());
}

}  // namespace strata::boot
