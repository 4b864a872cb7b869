#include "boot/main.h"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "boot/bench.h"
#include "boot/boot.h"
#include "boot/check.h"
#include "boot/config.h"
#include "boot/tlink.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

int BadInput(const absl::Status& status) {
  fmt::print(stderr, "strata: error: {}\n", std::string(status.message()));
  return 2;
}

// CONFIG, or configs/default.toml found from here or from the source tree.
std::string ResolveConfig(const std::string& given) {
  if (!given.empty()) return given;
  if (std::filesystem::exists(kDefaultConfig)) return kDefaultConfig;
  std::string in_tree = std::string(STRATA_SOURCE_DIR) + "/" + kDefaultConfig;
  if (std::filesystem::exists(in_tree)) return in_tree;
  return kDefaultConfig;
}

struct BootFlags {
  std::string config;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> oracle;
  std::optional<int> cpus;
  std::optional<std::string> workload;
  std::string log;
  std::string schedule;
};

absl::StatusOr<Config> ConfigWithOverrides(const BootFlags& f, const Catalog& catalog) {
  auto loaded = LoadConfig(ResolveConfig(f.config), catalog);
  if (!loaded.ok()) return loaded.status();
  Config c = *loaded;
  if (f.seed) c.seed = *f.seed;
  if (f.cpus) c.machine.cpus = *f.cpus;
  if (f.oracle) {
    if (catalog.oracles.Find(*f.oracle) == nullptr) {
      return absl::InvalidArgumentError("--oracle: " + catalog.oracles.Expected(*f.oracle));
    }
    c.oracle = *f.oracle;
  }
  if (f.workload) {
    if (!FindWorkload(catalog, *f.workload)) {
      return absl::InvalidArgumentError(fmt::format("--workload: expected one of {}, got \"{}\"",
                                                    WorkloadNames(catalog), *f.workload));
    }
    c.workload = *f.workload;
  }
  if (auto s = ValidateConfig(c, catalog); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{} (after command-line overrides)", std::string(s.message())));
  }
  return c;
}

// "NAME  summary" lines of a registry, for --help footers.
template <class R>
std::string Listing(const R& registry) {
  std::string out = fmt::format("{}s:\n", registry.what());
  for (const auto& e : registry.entries()) {
    out += fmt::format("  {:<26} {}\n", e.name, e.summary);
  }
  return out;
}

}  // namespace

int Main(int argc, char** argv, const Catalog& catalog) {
  CLI::App app("strata: a layered multicore OS-kernel simulator", "strata");
  app.require_subcommand(1);

  BootFlags boot;
  CLI::App* boot_cmd = app.add_subcommand("boot", "boot the machine from a config and run its workload");
  boot_cmd->add_option("config", boot.config, "config file (default: configs/default.toml)");
  boot_cmd->add_option("--seed", boot.seed, "oracle seed (overrides oracle.seed)");
  boot_cmd->add_option("--oracle", boot.oracle,
                      catalog.oracles.Names() + " (overrides oracle.kind)");
  boot_cmd->add_option("--cpus", boot.cpus, "number of CPUs (overrides machine.cpus)");
  boot_cmd->add_option("--workload", boot.workload, "workload (overrides workload.kind)");
  boot_cmd->footer(Listing(catalog.workloads) + Listing(catalog.threads) + Listing(catalog.oracles));
  boot_cmd->add_option("--log", boot.log, "write the log as JSON lines to FILE and as text to FILE.txt");
  boot_cmd->add_option("--schedule", boot.schedule, "where to write the schedule of a failed run");

  std::string replay_file, replay_log;
  CLI::App* replay_cmd = app.add_subcommand("replay", "re-run a run from its schedule file");
  replay_cmd->add_option("schedule", replay_file, "schedule file")->required();
  replay_cmd->add_option("--log", replay_log, "write the replayed log to FILE and FILE.txt");

  BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "measure the machine against a bare fiber switch");
  bench_cmd->add_flag("--json", bench.json, "print one JSON object");
  bench_cmd->add_flag("--quick", bench.quick, "short runs (a smoke test, not a measurement)");

  BootFlags check;
  std::optional<std::string> check_layer, check_strategy, check_lock, check_queue, check_sched;
  std::optional<std::uint64_t> check_runs;
  std::optional<int> check_preemptions;
  bool no_reduction = false, no_shrink = false;
  CLI::App* check_cmd = app.add_subcommand(
      "check", "check that each layer's module refines its spec, and shrink any failure");
  check_cmd->add_option("config", check.config, "config file (default: configs/default.toml)");
  check_cmd->add_option("--layer", check_layer, "lock, queue, sched or all (overrides check.layer)");
  check_cmd->add_option("--strategy", check_strategy,
                        catalog.strategies.Names() + " (overrides check.strategy)");
  check_cmd->add_option("--runs", check_runs, "executions; for dfs a cap (overrides check.runs)");
  check_cmd->add_option("--seed", check.seed, "first seed of random and pct (overrides oracle.seed)");
  check_cmd->add_option("--cpus", check.cpus, "number of CPUs (overrides machine.cpus)");
  check_cmd->add_option("--lock", check_lock, "lock implementation (overrides stack.lock)");
  check_cmd->add_option("--queue", check_queue, "queue implementation (overrides stack.queue)");
  check_cmd->add_option("--sched", check_sched, "scheduler implementation (overrides stack.sched)");
  check_cmd->add_option("--preemption-bound", check_preemptions,
                        "dfs: most preemptions per schedule, -1 = none");
  check_cmd->add_flag("--no-reduction", no_reduction, "dfs: explore without sleep sets");
  check_cmd->add_flag("--no-shrink", no_shrink, "keep a failure's schedule as found");
  check_cmd->add_option("--schedule", check.schedule, "where to write the schedule of a failure");
  check_cmd->footer(Listing(catalog.locks) + Listing(catalog.queues) + Listing(catalog.scheds) +
                    Listing(catalog.threads) + Listing(catalog.strategies));

  BootFlags tlink;
  CLI::App* tlink_cmd = app.add_subcommand(
      "tlink", "check that a thread workload's per-thread runs compose to its recorded run");
  tlink_cmd->add_option("config", tlink.config, "config file (default: configs/default.toml)");
  tlink_cmd->add_option("--seed", tlink.seed, "oracle seed (overrides oracle.seed)");
  tlink_cmd->add_option("--oracle", tlink.oracle,
                       catalog.oracles.Names() + " (overrides oracle.kind)");
  tlink_cmd->add_option("--cpus", tlink.cpus, "number of CPUs (overrides machine.cpus)");
  tlink_cmd->add_option("--workload", tlink.workload, "thread workload (overrides workload.kind)");

  std::string layers_config;
  CLI::App* layers_cmd = app.add_subcommand("layers", "print the layer stack of a config");
  layers_cmd->add_option("config", layers_config, "config file (default: configs/default.toml)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "strata: error: {} (see `strata --help`)\n", e.what());
    return 2;
  }

  if (*boot_cmd) {
    auto config = ConfigWithOverrides(boot, catalog);
    if (!config.ok()) return BadInput(config.status());
    auto code = Boot(*config, catalog, {.log_path = boot.log, .schedule_path = boot.schedule},
                     stdout);
    if (!code.ok()) return BadInput(code.status());
    return *code;
  }
  if (*replay_cmd) {
    auto code = Replay(replay_file, catalog, {.log_path = replay_log}, stdout);
    if (!code.ok()) return BadInput(code.status());
    return *code;
  }
  if (*check_cmd) {
    auto config = ConfigWithOverrides(check, catalog);
    if (!config.ok()) return BadInput(config.status());
    Config c = *config;
    auto fail = [](std::string message) { return BadInput(absl::InvalidArgumentError(message)); };
    // A flag that names an entry of `registry` overrides `out`; false if it
    // names none.
    auto pick = [](const auto& registry, const std::optional<std::string>& flag,
                   std::string& out) -> bool {
      if (!flag) return true;
      if (registry.Find(*flag) == nullptr) return false;
      out = *flag;
      return true;
    };
    if (!pick(catalog.locks, check_lock, c.stack.lock)) {
      return fail("--lock: " + catalog.locks.Expected(*check_lock));
    }
    if (!pick(catalog.queues, check_queue, c.stack.queue)) {
      return fail("--queue: " + catalog.queues.Expected(*check_queue));
    }
    if (!pick(catalog.scheds, check_sched, c.stack.sched)) {
      return fail("--sched: " + catalog.scheds.Expected(*check_sched));
    }
    if (!pick(catalog.strategies, check_strategy, c.strategy)) {
      return fail("--strategy: " + catalog.strategies.Expected(*check_strategy));
    }
    if (check_layer) {
      if (*check_layer != "all" && sched::MakePair(*check_layer, c.stack, catalog) == nullptr) {
        return fail(fmt::format("--layer: expected all or one of {}, got \"{}\"",
                                sched::LayerNames(), *check_layer));
      }
      c.check_layer = *check_layer;
    }
    if (check_runs) {
      if (*check_runs == 0) return fail("--runs: expected at least 1, got 0");
      c.runs = *check_runs;
    }
    if (check_preemptions) {
      if (*check_preemptions < -1) {
        return fail(fmt::format("--preemption-bound: expected -1 (none) or more, got {}", *check_preemptions));
      }
      c.preemption_bound = *check_preemptions;
    }
    if (no_reduction) c.reduction = false;
    if (no_shrink) c.shrink = false;
    auto code = CheckStack(c, catalog, {.schedule_path = check.schedule, .progress = true}, stdout);
    if (!code.ok()) return BadInput(code.status());
    return *code;
  }
  if (*tlink_cmd) {
    auto config = ConfigWithOverrides(tlink, catalog);
    if (!config.ok()) return BadInput(config.status());
    auto code = TLink(*config, catalog, stdout);
    if (!code.ok()) return BadInput(code.status());
    return *code;
  }
  if (*layers_cmd) {
    auto config = LoadConfig(ResolveConfig(layers_config), catalog);
    if (!config.ok()) return BadInput(config.status());
    PrintLayers(*config, catalog, stdout);
    return 0;
  }
  if (*bench_cmd) return Bench(bench, catalog, stdout);
  return 2;
}

}  // namespace strata::boot
