#include "boot/main.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <system_error>
#include <filesystem>
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "boot/bench.h"
#include "boot/boot.h"
#include "boot/check.h"
#include "boot/compose.h"
#include "boot/config.h"
#include "boot/files.h"
#include "boot/host_limits.h"
#include "boot/keys.h"
#include "boot/mpi_cluster.h"
#include "boot/tlink.h"
#include "layers/cluster.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

// Never throws: stderr may be a full disk too.
int BadInput(const absl::Status& status) {
  std::fputs(fmt::format("strata: error: {}\n", std::string(status.message())).c_str(), stderr);
  return 2;
}

// Runs a command; what it prints to stdout, or the error lines to stderr,
// could not be written (a full disk, a closed pipe): a one-line error and
// exit status 2, never an abort (fmt::print throws std::system_error) or a
// result lost with exit status 0 (a buffered stdout fails at its flush).
int Printing(const std::function<int()>& command) {
  int status = 0;
  try {
    status = command();
  } catch (const std::system_error& e) {
    std::fflush(stdout);
    return BadInput(absl::UnavailableError(
        fmt::format("cannot write the output: {} (expected a standard output and error that take it)", e.what())));
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return BadInput(absl::UnavailableError(
        "cannot write the output: standard output refused it (expected a standard output that takes it)"));
  }
  return status;
}

// A follower rank of a sharded run prints nothing: its stdout goes to
// /dev/null (anything a library prints there too) and its error lines,
// which would repeat the leader's, are not printed. stderr stays open for
// what only this rank can say (an internal error, a sanitizer report).
void SilenceFollower() {
  std::fflush(stdout);
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0) return;
  ::dup2(null, STDOUT_FILENO);
  ::close(null);
}

// CONFIG, or configs/default.toml found from here, in the source tree this
// was built from, or where `cmake --install` put the configs.
std::string ResolveConfig(const std::string& given) {
  if (!given.empty()) return given;
  if (std::filesystem::exists(kDefaultConfig)) return kDefaultConfig;
  for (const std::string& dir : {std::string(STRATA_SOURCE_DIR), std::string(STRATA_DATA_DIR)}) {
    const std::string path = dir + "/" + kDefaultConfig;
    if (std::filesystem::exists(path)) return path;
  }
  return kDefaultConfig;
}

// Levenshtein distance: how many letters to insert, delete or change.
std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "lock implementations", "strategies": a registry's kind, plural.
std::string Plural(const std::string& what) {
  if (!what.empty() && what.back() == 'y') return what.substr(0, what.size() - 1) + "ies";
  return what + "s";
}

// What one command's command line holds: the config, an override per key
// flag it takes (from the key table), and its output paths.
struct Flags {
  std::string config;
  std::vector<std::pair<const Key*, std::optional<std::string>>> overrides;
  std::vector<std::pair<const Key*, bool>> switches;  // bool keys (--no-shrink)
  std::string log;
  std::string schedule;
  bool json = false;
  std::string witness;
  bool witness_all = false;
  std::string report;
  std::string trace;
};

constexpr const char* kTraceHelp =
    "write the run's timeline to FILE as Chrome trace-event JSON (open it in "
    "https://ui.perfetto.dev or chrome://tracing)";

// Adds the flags of every key that `command` takes to `cmd`.
void AddKeyFlags(CLI::App* cmd, unsigned command, const Catalog& catalog, Flags& f) {
  for (const Key& k : Keys()) {
    if ((k.commands & command) == 0) continue;
    if (k.type == Key::Type::kBool) {
      f.switches.emplace_back(&k, false);
    } else {
      f.overrides.emplace_back(&k, std::nullopt);
    }
  }
  for (auto& [k, value] : f.overrides) {
    cmd->add_option(k->flag, value,
                    fmt::format("{} (overrides {}; {})", k->meaning, k->name(), k->Expected(catalog)));
  }
  for (auto& [k, on] : f.switches) {
    cmd->add_flag(k->flag, on, fmt::format("turns off: {} (overrides {})", k->meaning, k->name()));
  }
}

// A flag given for a strategy it does not apply to (--preemption-bound
// with --strategy random) is an error, not ignored.
absl::Status CheckFlagsApply(const Flags& f, const Config& c) {
  auto applies = [&c](const Key& k) -> absl::Status {
    if (k.strategies.empty()) return absl::OkStatus();
    for (std::string_view rest = k.strategies; !rest.empty();) {
      const std::size_t comma = rest.find(", ");
      if (rest.substr(0, comma) == c.strategy) return absl::OkStatus();
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    }
    std::string names = k.strategies;
    if (const std::size_t last = names.rfind(", "); last != std::string::npos) {
      names.replace(last, 2, " or ");
    }
    return absl::InvalidArgumentError(fmt::format(
        "{}: applies to check.strategy {} only: expected --strategy {} with it, got \"{}\"",
        k.flag, names, names, c.strategy));
  };
  for (const auto& [k, value] : f.overrides) {
    if (value) STRATA_RETURN_IF_ERROR(applies(*k));
  }
  for (const auto& [k, on] : f.switches) {
    if (on) STRATA_RETURN_IF_ERROR(applies(*k));
  }
  return absl::OkStatus();
}

// The files a run of `c` reads: no output may be one of them.
std::vector<std::pair<std::string, std::string>> InputsOf(const Config& c) {
  return {{c.source, "the config"}, {c.recording, "env.recording's recording"}};
}

// Every output `f` names (--log's FILE.txt too), for CheckOutputs.
std::vector<OutputFile> OutputsOf(const Flags& f) {
  std::vector<OutputFile> out;
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--log", f.log},
                                   {"--schedule", f.schedule},
                                   {"--trace", f.trace},
                                   {"--report", f.report},
                                   {"--witness", f.witness}}) {
    for (OutputFile& o : boot::OutputsOf(flag, path)) out.push_back(std::move(o));
  }
  return out;
}

// The config of one command: the file, the flags over it, validated, with
// the flags that apply, outputs that can be written and no input
// overwritten, and a run that fits the host. Everything a run could refuse
// up front is refused here, before it starts. A follower rank writes no
// file, so it does not look at the outputs (its node may not even have
// their folder).
absl::StatusOr<Config> ConfigWithOverrides(const Flags& f, const Catalog& catalog,
                                           Command command, bool follower = false) {
  // How the keys fit together is checked once the flags have set theirs
  // (`--cpus 2` with a file's oracle.fairness = 3 and 4 cpus is fine).
  auto loaded = ReadConfig(ResolveConfig(f.config), catalog);
  if (!loaded.ok()) return loaded.status();
  Config c = *loaded;
  bool overridden = false;
  for (const auto& [k, value] : f.overrides) {
    if (value) STRATA_RETURN_IF_ERROR(ApplyFlag(*k, catalog, *value, c));
    overridden = overridden || value.has_value();
  }
  for (const auto& [k, on] : f.switches) {
    if (on) STRATA_RETURN_IF_ERROR(ApplyFlag(*k, catalog, "", c));
    overridden = overridden || on;
  }
  if (auto s = ValidateConfig(c, catalog); !s.ok()) {
    if (!overridden) return s;
    return absl::InvalidArgumentError(fmt::format("{} (after command-line overrides)", std::string(s.message())));
  }
  STRATA_RETURN_IF_ERROR(CheckFlagsApply(f, c));
  if (!follower) STRATA_RETURN_IF_ERROR(CheckOutputs(OutputsOf(f), InputsOf(c)));
  STRATA_RETURN_IF_ERROR(CheckRunFitsHost(c, catalog, command));
  return c;
}

// `strata docs`: the README's generated parts, from the catalog and the key
// table (a test checks the README holds exactly this).
std::string Docs(const Catalog& catalog) {
  std::string out = "### Config keys\n\n" + KeyTableMarkdown(catalog);
  out += "\n### The catalog\n\n";
  auto list = [&out](const auto& registry) {
    out += fmt::format("**{}**\n\n", Plural(registry.what()));
    for (const auto& e : registry.entries()) {
      out += fmt::format("- `{}`: {}{}\n", e.name, e.summary,
                         e.known_bad ? fmt::format(" (expect: `{}`)", e.expect) : std::string());
    }
    out += "\n";
  };
  list(catalog.locks);
  list(catalog.queues);
  list(catalog.scheds);
  list(catalog.workloads);
  list(catalog.threads);
  list(catalog.oracles);
  list(catalog.strategies);
  list(catalog.environments);
  return out;
}

// "NAME  summary" lines of a registry, for --help footers.
template <class R>
std::string Listing(const R& registry) {
  std::string out = fmt::format("{}:\n", Plural(registry.what()));
  for (const auto& e : registry.entries()) {
    out += fmt::format("  {:<26} {}\n", e.name, e.summary);
  }
  return out;
}

// Main without the MPI job around it. `cluster`: the ranks of a sharded
// run (two or more), or null for one process; on a follower rank only
// `check` runs (sharing the leader's explorations) and nothing is printed.
int RunCommand(int argc, char** argv, const Catalog& catalog, layers::Cluster* cluster) {
  const bool follower = cluster != nullptr && !cluster->leader();
  auto bad_input = [follower](const absl::Status& status) {
    return follower ? 2 : BadInput(status);
  };
  CLI::App app("strata: a layered multicore OS-kernel simulator", "strata");
  app.require_subcommand(1);

  Flags boot;
  CLI::App* boot_cmd = app.add_subcommand("boot", "boot the machine from a config and run its workload");
  boot_cmd->add_option("config", boot.config, "config file (default: configs/default.toml)");
  AddKeyFlags(boot_cmd, kBootCommand, catalog, boot);
  boot_cmd->footer(Listing(catalog.workloads) + Listing(catalog.threads) + Listing(catalog.oracles) +
                   Listing(catalog.environments));
  boot_cmd->add_option("--log", boot.log, "write the log as JSON lines to FILE and as text to FILE.txt");
  boot_cmd->add_option("--schedule", boot.schedule,
                       "write the run's schedule to FILE (a failed run's is written anyway, to a "
                       "derived name without it)");
  boot_cmd->add_option("--trace", boot.trace, kTraceHelp);
  boot_cmd->add_option("--report", boot.report,
                       "write the run as one self-contained HTML file (swim lanes, steps, source "
                       "lines)");
  boot_cmd->add_flag("--json", boot.json,
                     "print one JSON object (verdict, counts, waits, seed, log hash, files) in "
                     "place of the summary");

  std::string replay_file, replay_log, replay_trace;
  CLI::App* replay_cmd = app.add_subcommand("replay", "re-run a run from its schedule file");
  replay_cmd->add_option("schedule", replay_file, "schedule file")->required();
  replay_cmd->add_option("--log", replay_log, "write the replayed log to FILE and FILE.txt");
  replay_cmd->add_option("--trace", replay_trace, kTraceHelp);
  StepsOptions replay_steps;
  std::string replay_report;
  replay_cmd->add_option("--report", replay_report,
                         "write the replayed run as one self-contained HTML file");
  replay_cmd->add_flag("--all", replay_steps.all,
                       "show every step, also after the first bad event (a boot run's: its "
                       "last 200 without it)");
  replay_cmd->add_flag("--by-thread", replay_steps.by_thread,
                       "group the steps by thread (by cpu on the bare machine)");

  BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "measure the machine against a bare fiber switch");
  bench_cmd->add_flag("--json", bench.json, "print one JSON object");
  bench_cmd->add_flag("--quick", bench.quick, "short runs (a smoke test, not a measurement)");

  Flags check;
  CLI::App* check_cmd = app.add_subcommand(
      "check", "check that each layer's module refines its spec, and shrink any failure");
  check_cmd->add_option("config", check.config, "config file (default: configs/default.toml)");
  AddKeyFlags(check_cmd, kCheckCommand, catalog, check);
  check_cmd->add_option("--schedule", check.schedule, "where to write the schedule of a failure");
  check_cmd->add_option("--trace", check.trace,
                        "write the timeline of the failing execution (with no failure: of the last "
                        "execution checked) to FILE as Chrome trace-event JSON (open it in "
                        "https://ui.perfetto.dev or chrome://tracing)");
  check_cmd->add_option("--report", check.report,
                        "write the failure (or the verdict) as one self-contained HTML file");
  check_cmd->add_option("--witness", check.witness,
                        "write the refinement witness of the failure (the log map, each border "
                        "crossing's label, states and relation) to FILE as JSON");
  check_cmd->add_flag("--witness-all", check.witness_all,
                      "with --witness: the witness of every execution checked");
  bool check_progress = false;
  check_cmd->add_flag("--progress", check_progress,
                      "a progress line on stderr every few seconds even when it is not a terminal");
  check_cmd->add_flag("--json", check.json,
                      "print one JSON object (verdict, layers, counts, waits, failure, seed, log "
                      "hash) in place of the text");
  check_cmd->footer(Listing(catalog.locks) + Listing(catalog.queues) + Listing(catalog.scheds) +
                    Listing(catalog.threads) + Listing(catalog.strategies));

  Flags compose;
  CLI::App* compose_cmd = app.add_subcommand(
      "compose", "check that the per-CPU machines Boot[cid, recorded] compose to the multicore run");
  compose_cmd->add_option("config", compose.config, "config file (default: configs/default.toml)");
  AddKeyFlags(compose_cmd, kComposeCommand, catalog, compose);
  compose_cmd->add_option("--trace", compose.trace, kTraceHelp);

  Flags tlink;
  CLI::App* tlink_cmd = app.add_subcommand(
      "tlink", "check that a thread workload's per-thread machines (TSched) compose to its run");
  tlink_cmd->add_option("config", tlink.config, "config file (default: configs/default.toml)");
  AddKeyFlags(tlink_cmd, kTLinkCommand, catalog, tlink);
  tlink_cmd->add_option("--trace", tlink.trace, kTraceHelp);

  CLI::App* docs_cmd = app.add_subcommand(
      "docs", "print the README's key table and catalog lists (Markdown), from this binary's catalog");

  std::string layers_config;
  CLI::App* layers_cmd = app.add_subcommand("layers", "print the layer stack of a config");
  layers_cmd->add_option("config", layers_config, "config file (default: configs/default.toml)");

  // An unknown command is named, with the closest known one (CLI11 would
  // only say that a subcommand is required).
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string given = argv[1];
    std::string names, closest;
    std::size_t best = std::string::npos;
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == given) {
        best = 0;
        break;
      }
      names += (names.empty() ? "" : ", ") + sub->get_name();
      const std::size_t d = EditDistance(given, sub->get_name());
      if (d < best) {
        best = d;
        closest = sub->get_name();
      }
    }
    if (best != 0) {
      if (follower) return 2;
      fmt::print(stderr, "strata: error: unknown command \"{}\"{}: expected one of {}\n", given,
                 best <= 2 ? fmt::format(" (did you mean {}?)", closest) : std::string(), names);
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (follower) return 2;
    fmt::print(stderr, "strata: error: {} (see `strata --help`)\n", e.what());
    return 2;
  }

  // Only check is sharded; any other command is the leader's alone.
  if (follower && !*check_cmd) return 0;

  if (*boot_cmd) {
    auto config = ConfigWithOverrides(boot, catalog, kBootCommand);
    if (!config.ok()) return bad_input(config.status());
    BootOptions options;
    options.log_path = boot.log;
    options.schedule_path = boot.schedule;
    options.json = boot.json;
    options.report_path = boot.report;
    options.trace_path = boot.trace;
    auto code = Boot(*config, catalog, options, stdout);
    if (!code.ok()) return bad_input(code.status());
    return *code;
  }
  if (*replay_cmd) {
    BootOptions options;
    options.log_path = replay_log;
    options.steps = replay_steps;
    options.report_path = replay_report;
    options.trace_path = replay_trace;
    auto code = Replay(replay_file, catalog, options, stdout);
    if (!code.ok()) return bad_input(code.status());
    return *code;
  }
  if (*check_cmd) {
    auto config = ConfigWithOverrides(check, catalog, kCheckCommand, follower);
    if (!config.ok()) return bad_input(config.status());
    auto code =
        CheckStack(*config, catalog, {.schedule_path = check.schedule,
                                         .progress = true,
                                         .progress_always = check_progress,
                                         .json = check.json,
                                         .witness_path = check.witness,
                                         .witness_all = check.witness_all,
                                         .report_path = check.report,
                                         .trace_path = check.trace,
                                         .cluster = cluster}, stdout);
    if (!code.ok()) return bad_input(code.status());
    return *code;
  }
  if (*docs_cmd) {
    fmt::print("{}", Docs(catalog));
    return 0;
  }
  if (*compose_cmd) {
    auto config = ConfigWithOverrides(compose, catalog, kComposeCommand);
    if (!config.ok()) return bad_input(config.status());
    auto code = Compose(*config, catalog, compose.trace, stdout);
    if (!code.ok()) return bad_input(code.status());
    return *code;
  }
  if (*tlink_cmd) {
    auto config = ConfigWithOverrides(tlink, catalog, kTLinkCommand);
    if (!config.ok()) return bad_input(config.status());
    auto code = TLink(*config, catalog, tlink.trace, stdout);
    if (!code.ok()) return bad_input(code.status());
    return *code;
  }
  if (*layers_cmd) {
    auto config = LoadConfig(ResolveConfig(layers_config), catalog);
    if (!config.ok()) return bad_input(config.status());
    PrintLayers(*config, catalog, stdout);
    return 0;
  }
  if (*bench_cmd) return Bench(bench, catalog, stdout);
  return 2;
}

}  // namespace

int Main(int argc, char** argv, const Catalog& catalog) {
  auto joined = JoinMpiCluster(&argc, &argv);
  if (!joined.ok()) return LauncherRank() == 0 ? BadInput(joined.status()) : 2;
  std::unique_ptr<MpiCluster> cluster = std::move(*joined);
  if (cluster == nullptr) return Printing([&] { return RunCommand(argc, argv, catalog, nullptr); });
  // `mpirun -n 1` is one process that still has to finalize MPI.
  const bool sharded = cluster->size() >= 2;
  if (sharded && !cluster->leader()) SilenceFollower();
  // Printing flushes stdout: mpirun ends every rank once one exits with a
  // nonzero status, maybe before this one's exit would flush it.
  int status = Printing([&] { return RunCommand(argc, argv, catalog, sharded ? cluster.get() : nullptr); });
  status = layers::EndShardedRun(*cluster, status);
  cluster.reset();
  return status;
}

}  // namespace strata::boot
