// The run configuration: a TOML file parsed once into a plain struct.
//
//   [machine]  cpus = 4            stack_kib = 64
//   [oracle]   kind = "round-robin"  seed = 1  fairness = 0 (F; 0 = 8 × cpus)
//              pct_depth = 3       pct_horizon = 0 (0 = the measured length of the runs)
//              thread_limit = 0    thread_progress = 0   (TSched bounds; 0 = off)
//   [run]      max_steps = 1000000
//   [workload] kind = "counter"    iterations = 100      threads = 2 (per CPU)
//   [stack]    lock = "ticket"     queue = "module"      sched = "module"
//              max_threads = 0     (implementation per layer; TCB pool size, 0 = auto)
//   [env]      kind = "live"       focus = -1   recording = "" (a schedule or log file)
//   [check]    layer = "all"       strategy = "random"   runs = 1000
//              preemption_bound = -1 (none)  reduction = "dpor"  symmetry = true  shrink = true
//              jobs = 0 (host threads that check; 0 = one per core)
//              iterations = 2      bound = 2   overrun = 0   capacity = 4
//              client = "ping-pong"  threads = 2  (the sched pair's client)
//
// Every key is optional (defaults above); unknown keys, wrong types and
// out-of-range values are errors that name the file, the line and the key.
// Schedule files (schedule_file.h) embed a config plus a [schedule] table.
#ifndef STRATA_BOOT_CONFIG_H_
#define STRATA_BOOT_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "boot/catalog.h"
#include "sched/csched.h"
#include "sched/stack.h"
#include "sched/tsched.h"
#include "layers/explorer.h"
#include "machine/machine.h"
#include "machine/oracle.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace strata::boot {

inline constexpr const char* kDefaultConfig = "configs/default.toml";

struct Config {
  std::string source;  // the file it came from, for messages
  machine::MachineOptions machine;
  std::string oracle = "round-robin";  // catalog.oracles
  std::string env = "live";            // catalog.environments: what the other CPUs do
  int focus = -1;                      // the per-CPU machine's CPU; -1: none (every CPU live)
  // A recorded environment's recording: a schedule file a boot run of this
  // config wrote, or its log (boot --log); "" = record the config's own
  // multicore run first. From a config file, resolved against the file's
  // folder (keys.h, Key::is_path).
  std::string recording;
  std::uint64_t seed = 1;
  int pct_depth = 3;
  std::uint64_t pct_horizon = 0;  // 0: from the measured length of the runs
  std::string workload = "counter";
  std::int64_t iterations = 100;
  int threads = 2;  // threads per CPU of thread workloads
  // The kernel stack and how `strata check` explores it.
  sched::StackOptions stack;
  std::string check_layer = "all";
  std::string strategy = "random";     // catalog.strategies
  std::uint64_t runs = 1000;
  int preemption_bound = -1;
  std::string reduction = "dpor";  // dfs: layers::ParseReduction
  bool symmetry = true;            // dfs: one schedule per renaming of interchangeable cpus
  int jobs = 0;                    // host threads that check executions; 0 = one per core
  bool shrink = true;
};

// The scheduler a config's thread workloads run on.
sched::SchedOptions SchedOptionsFor(const Config& config);

// Reads and validates a config file. Errors are InvalidArgument (bad content)
// or NotFound (missing file), with a one-line message "FILE:LINE: key: ...".
// Every name must be an entry of `catalog`.
absl::StatusOr<Config> LoadConfig(const std::string& path, const Catalog& catalog);

// LoadConfig without ValidateConfig: each key's own value is checked, not
// how values fit together, for a command that overrides keys first.
absl::StatusOr<Config> ReadConfig(const std::string& path, const Catalog& catalog);

// Parses a parsed TOML table; `allow_schedule` accepts the extra [schedule]
// table of schedule files.
absl::StatusOr<Config> ParseConfig(const toml::table& table, const std::string& source,
                                   bool allow_schedule, const Catalog& catalog);

// Checks values that depend on each other or on command-line overrides
// (cpus range, the workload's needs). Call after applying overrides.
absl::Status ValidateConfig(const Config& config, const Catalog& catalog);

// The config as TOML, for embedding in schedule files; ParseConfig of it
// gives back an equal config.
std::string ConfigToToml(const Config& config);

}  // namespace strata::boot

#endif  // STRATA_BOOT_CONFIG_H_
