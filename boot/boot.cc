#include "boot/boot.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boot/check.h"
#include "boot/host_limits.h"
#include "boot/json_text.h"
#include "boot/keys.h"
#include "boot/log_file.h"
#include "boot/report.h"
#include "boot/schedule_file.h"
#include "boot/text_out.h"
#include "boot/trace.h"
#include "machine/check.h"
#include "machine/log.h"
#include "machine/shrink.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

using machine::CpuId;
using machine::Outcome;

machine::OracleOptions OracleOptionsFor(const Config& c) {
  return {.seed = c.seed,
          .cpus = c.machine.cpus,
          .pct_depth = c.pct_depth,
          .pct_horizon = c.pct_horizon};
}

// The fairness bound the run's guard kept, or nullopt when it had none (a
// recorded environment turns the guard off: machine/environment.h).
std::optional<std::uint64_t> GuardBound(const machine::Machine& m) {
  if (m.fairness_bound() >= std::numeric_limits<std::uint64_t>::max() / 8) return std::nullopt;
  return m.fairness_bound();
}

std::vector<std::size_t> EventsPerCpu(const machine::Machine& m) {
  std::vector<std::size_t> per_cpu(static_cast<std::size_t>(m.cpus()), 0);
  for (const machine::Event& e : m.log().events()) ++per_cpu[e.cpu.index()];
  return per_cpu;
}

void PrintSummary(std::FILE* out, const Config& c, const Catalog& catalog, const BootRun& run) {
  const machine::Machine& m = *run.machine;
  const machine::Log& log = m.log();
  const std::optional<Workload> w = FindWorkload(catalog, c.workload);
  STRATA_CHECK(w.has_value(), "unvalidated workload {}", c.workload);
  const std::optional<std::uint64_t> guard = GuardBound(m);
  const std::string bound =
      guard ? fmt::format("{}", *guard) : std::string("off: the recorded run kept it");
  fmt::print(out, "  machine    {} cpus, {} KiB stacks, fairness bound {}\n", m.cpus(),
             c.machine.stack_bytes / 1024, bound);
  fmt::print(out, "  oracle     {}\n", run.oracle);
  if (c.focus >= 0) {
    const auto* env = catalog.environments.Find(c.env);
    STRATA_CHECK(env != nullptr, "unvalidated environment {}", c.env);
    fmt::print(out, "  env        {}: the per-CPU machine of cpu {}; {}\n", c.env, c.focus,
               c.recording.empty() ? env->summary
                                   : fmt::format("the other CPUs replay the run {} holds", c.recording));
  } else {
    fmt::print(out, "  env        live: the multicore machine, every cpu live\n");
  }
  if (w->threaded) {
    fmt::print(out, "  workload   {} x{}, {} threads/cpu: {}\n", c.workload, c.iterations,
               c.threads, w->summary);
    fmt::print(out, "  scheduler  {}\n", sched::SchedulerLine(c.stack));
  } else {
    fmt::print(out, "  workload   {} x{}: {}\n", c.workload, c.iterations, w->summary);
  }
  fmt::print(out, "  outcome    {}\n", machine::OutcomeName(run.report.outcome));
  fmt::print(out, "  events     {} in {} steps\n", log.size(), run.report.steps);

  const std::vector<std::size_t> per_cpu = EventsPerCpu(m);
  std::map<std::string_view, std::size_t> per_kind;
  for (const machine::Event& e : log.events()) ++per_kind[e.kind.name()];
  for (std::size_t i = 0; i < per_cpu.size(); i += 8) {
    std::string line;
    for (std::size_t j = i; j < std::min(per_cpu.size(), i + 8); ++j) {
      line += fmt::format("cpu{} {}  ", j, per_cpu[j]);
    }
    fmt::print(out, "    {}{}\n", i == 0 ? "per cpu   " : "          ", line);
  }
  std::string kinds;
  for (const auto& [kind, n] : per_kind) kinds += fmt::format("{} {}  ", kind, n);
  fmt::print(out, "    per kind  {}\n", kinds);
  if (!run.details.empty()) fmt::print(out, "  scheduler per cpu and thread\n{}", run.details);
  bool first = true;
  for (const Check& check : run.checks) {
    fmt::print(out, "  {}{} = {} (expected {}) {}\n", first ? "checks     " : "           ",
               check.what, check.actual, check.expected, check.ok() ? "ok" : "WRONG");
    first = false;
  }
  fmt::print(out, "  worst wait {} steps (bound {})\n", m.worst_wait(), bound);
  if (run.environment != nullptr) {
    const std::uint64_t want = run.environment->log_hash();
    fmt::print(out, "  recorded   the recorded run's log hash {}: the per-CPU run {}\n",
               machine::FormatHash(want),
               log.hash() == want ? "gives it" : "DIFFERS (strata compose names the first event)");
  }
}

void PrintFailure(std::FILE* out, const BootRun& run) {
  const machine::Log& log = run.machine->log();
  fmt::print(out, "  report     {}: {}\n", machine::OutcomeName(run.report.outcome),
             run.report.message);
  std::string cpus;
  for (CpuId c : run.report.cpus) cpus += fmt::format("{}{}", cpus.empty() ? "" : ", ", c);
  fmt::print(out, "  cpus       {}\n", cpus);
  if (!run.waits.empty()) fmt::print(out, "  waits      {}\n", run.waits);
  if (run.original_steps > 0) {
    fmt::print(out, "  shrunk     {}\n",
               machine::DescribeShrunk(run.machine->schedule(), run.original_steps, run.shrink_attempts));
  } else if (!run.not_shrunk.empty()) {
    fmt::print(out, "  shrunk     no: {}\n", run.not_shrunk);
  }
  std::size_t from = log.size() > 8 ? log.size() - 8 : 0;
  fmt::print(out, "  last events ({} of {})\n", log.size() - from, log.size());
  for (std::size_t i = from; i < log.size(); ++i) {
    fmt::print(out, "    {}\n", log.RenderTextWhere(i));
  }
}

void PrintTail(std::FILE* out, const Config& c, const BootRun& run) {
  double events = static_cast<double>(run.machine->log().size());
  fmt::print(out, "  seed {}  log hash {}\n", c.seed,
             machine::FormatHash(run.machine->log().hash()));
  fmt::print(out, "  wall {:.2f} ms  ({:.2f} M events/s)\n", run.wall_seconds * 1e3,
             run.wall_seconds > 0 ? events / run.wall_seconds / 1e6 : 0.0);
}

// The log as JSON lines, with the pushed blocks' contents (a recording
// for env.recording), and as text.
absl::Status WriteLog(const std::string& path, const machine::Machine& m) {
  const machine::Log& log = m.log();
  std::string json, text;
  for (const machine::Event& e : log.events()) {
    json += log.RenderJson(e, e.op == machine::OpCode::kPush ? m.pushed(e.seq)
                                                              : std::span<const std::int64_t>());
    json += '\n';
    text += log.RenderTextWhere(e.seq);
    text += '\n';
  }
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(path, json));
  return WriteFileAtomically(path + ".txt", text);
}

// A written log keeps the pushed contents: it can be a recording.
std::function<void(machine::Machine&)> KeepFor(const BootOptions& options) {
  if (options.log_path.empty()) return nullptr;
  return [](machine::Machine& m) { m.KeepPushedContents(); };
}

// `strata boot --json`: the run as one object (its keys in README.md).
nlohmann::ordered_json BootJson(const Config& c, const BootRun& run, const BootOptions& options,
                                const std::string& schedule_path) {
  const machine::Machine& m = *run.machine;
  const std::optional<std::uint64_t> guard = GuardBound(m);
  nlohmann::ordered_json j;
  j["command"] = "boot";
  j["config"] = c.source;
  j["verdict"] = machine::OutcomeName(run.report.outcome);
  j["ok"] = run.report.ok();
  j["message"] = run.report.message;
  j["workload"] = c.workload;
  j["cpus"] = m.cpus();
  j["env"] = {{"kind", c.focus >= 0 ? c.env : std::string("live")}, {"focus", c.focus}};
  j["oracle"] = run.oracle;
  j["counts"] = {{"events", m.log().size()},
                 {"steps", run.report.steps},
                 {"events_per_cpu", EventsPerCpu(m)}};
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const Check& check : run.checks) {
    checks.push_back({{"what", check.what},
                      {"actual", check.actual},
                      {"expected", check.expected},
                      {"ok", check.ok()}});
  }
  j["checks"] = checks;
  j["waits"] = {{"worst", m.worst_wait()},
                {"bound", guard ? nlohmann::ordered_json(*guard) : nlohmann::ordered_json()},
                {"within", !guard || m.worst_wait() <= *guard}};
  nlohmann::ordered_json failed_cpus = nlohmann::ordered_json::array();
  for (CpuId cpu : run.report.cpus) failed_cpus.push_back(cpu.value());
  j["failure_cpus"] = failed_cpus;
  if (run.original_steps > 0) {
    j["shrunk"] = {{"steps", m.schedule().size()},
                   {"switches", machine::Switches({m.schedule().begin(), m.schedule().end()})},
                   {"steps_before_shrinking", run.original_steps},
                   {"tries", run.shrink_attempts}};
  } else {
    j["shrunk"] = nullptr;
  }
  j["seed"] = c.seed;
  j["log_hash"] = machine::FormatHash(m.log().hash());
  // The event the failure is at (RunReport::event), if it is one.
  j["first_bad"] = FirstBadJson(m.log(), run.report.event);
  j["log"] = PathOrNull(options.log_path);
  j["trace"] = PathOrNull(options.trace_path);
  j["report"] = PathOrNull(options.report_path);
  j["schedule"] = PathOrNull(schedule_path);
  j["replay"] = PathOrNull(schedule_path.empty() ? "" : "strata replay " + schedule_path);
  j["wall_seconds"] = run.wall_seconds;
  return j;
}

// The run's timeline, if asked for, and its summary line.
absl::Status WriteRunTrace(const std::string& path, const std::string& title, const Config& config,
                           const BootRun& run, std::FILE* out) {
  if (path.empty()) return absl::OkStatus();
  STRATA_RETURN_IF_ERROR(WriteStackTrace(
      path, config, *run.machine, fmt::format("{} (seed {})", title, config.seed), run.report.event,
      fmt::format("{}: {}", machine::OutcomeName(run.report.outcome), run.report.message)));
  PrintTraceLine(out, path);
  return absl::OkStatus();
}

// The HTML report of a run (boot/report.h).
HtmlReport BootReport(std::string title, const Config& c, const BootRun& run,
                      const std::string& schedule_path) {
  const machine::Machine& m = *run.machine;
  HtmlReport r{.title = std::move(title),
               .verdict = std::string(machine::OutcomeName(run.report.outcome)),
               .ok = run.report.ok(),
               .message = run.report.message,
               .log = &m.log(),
               .replay = schedule_path.empty() ? "" : "strata replay " + schedule_path};
  r.facts = {{"workload", fmt::format("{} x{}", c.workload, c.iterations)},
             {"machine", fmt::format("{} cpus", m.cpus())},
             {"oracle", run.oracle},
             {"env", c.focus >= 0 ? fmt::format("{}, focus cpu {}", c.env, c.focus) : std::string("live")},
             {"events", fmt::format("{} in {} steps", m.log().size(), run.report.steps)},
             {"worst wait", fmt::format("{} steps", m.worst_wait())},
             {"seed", fmt::format("{}", c.seed)},
             {"log hash", machine::FormatHash(m.log().hash())}};
  if (run.original_steps > 0) {
    r.facts.emplace_back("shrunk", machine::DescribeShrunk(m.schedule(), run.original_steps,
                                                           run.shrink_attempts));
  }
  for (const Check& check : run.checks) {
    r.facts.emplace_back("check", fmt::format("{} = {} (expected {}) {}", check.what, check.actual,
                                              check.expected, check.ok() ? "ok" : "WRONG"));
  }
  if (!run.report.ok()) {
    r.stopped = fmt::format("the run stops here: {}: {}", machine::OutcomeName(run.report.outcome),
                            run.report.message);
    if (run.report.event && *run.report.event < m.log().size()) {
      r.bad = static_cast<std::size_t>(*run.report.event);
    }
  }
  return r;
}

// Prints the run (as text, or as JSON to `out` with options.json) and
// writes its files; returns the exit status.
absl::StatusOr<int> Finish(const Config& config, const Catalog& catalog, const BootRun& run,
                           const BootOptions& options, std::FILE* text, std::FILE* out) {
  PrintSummary(text, config, catalog, run);
  if (!run.report.ok()) PrintFailure(text, run);
  PrintTail(text, config, run);
  if (!options.log_path.empty()) {
    STRATA_RETURN_IF_ERROR(WriteLog(options.log_path, *run.machine));
    fmt::print(text, "  log        {} (JSON lines), {}.txt (text)\n", options.log_path,
               options.log_path);
  }
  STRATA_RETURN_IF_ERROR(WriteRunTrace(options.trace_path,
                                       fmt::format("strata boot {}", config.source), config, run,
                                       text));
  // A failed run's schedule is always written; a good run's when asked
  // (a recording for a recorded environment, env.recording).
  std::string path;
  if (!run.report.ok() || !options.schedule_path.empty()) {
    const std::string taken[] = {config.source,       config.recording,       options.log_path,
                                 options.log_path.empty() ? "" : options.log_path + ".txt",
                                 options.trace_path,  options.report_path};
    path = !options.schedule_path.empty()
               ? options.schedule_path
               : DerivedSchedulePath(config, machine::OutcomeName(run.report.outcome), taken);
    ScheduleFile file{.config = config,
                      .outcome = run.report.outcome,
                      .log_hash = run.machine->log().hash(),
                      .choices = {run.machine->schedule().begin(), run.machine->schedule().end()}};
    if (run.report.ok()) {
      // A recording asked for: not writing it is the command's failure.
      STRATA_RETURN_IF_ERROR(WriteScheduleAndSay(path, file, text));
    } else if (!WriteFailureSchedule(path, file, text)) {
      path.clear();
    }
  }
  if (!options.report_path.empty()) {
    STRATA_RETURN_IF_ERROR(WriteHtmlReport(
        options.report_path, BootReport(fmt::format("strata boot {}", config.source), config, run, path)));
    fmt::print(text, "  report     written to {}\n", options.report_path);
  }
  if (options.json) fmt::print(out, "{}\n", JsonText(BootJson(config, run, options, path)));
  return run.report.ok() ? 0 : 1;
}

}  // namespace

machine::MachineOptions MachineOptionsFor(const Config& config) {
  machine::MachineOptions options = config.machine;
  // A client's own random choices (the general workload's) follow the seed.
  options.client_seed = config.seed;
  return options;
}

SetUpRun SetUp(const Config& config, const Catalog& catalog,
               const machine::MachineOptions& options) {
  const std::optional<Workload> workload = FindWorkload(catalog, config.workload);
  STRATA_CHECK(workload.has_value(), "unvalidated workload {}", config.workload);
  SetUpRun s;
  s.machine = std::make_unique<machine::Machine>(options);
  WorkloadParams params;
  params.iterations = config.iterations;
  params.threads = config.threads;
  params.sched = SchedOptionsFor(config);
  s.workload = workload->make(*s.machine, params);
  if (workload->threaded &&
      (config.stack.bounds.limit > 0 || config.stack.bounds.progress > 0)) {
    s.machine->AddGlobalMonitor(sched::MakeThreadFairnessMonitor(
        s.machine->FindObject("sched"), s.machine->cpus(), config.stack.bounds));
  }
  return s;
}

namespace {

// A boot run needs an environment that makes one (not a check's).
absl::Status BootEnvironmentAllowed(const Config& config, const Catalog& catalog) {
  const auto* env = catalog.environments.Find(config.env);
  STRATA_CHECK(env != nullptr, "unvalidated environment {}", config.env);
  if (env->make.make) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "{}: env.kind: \"{}\" moves within a layer's rely, which only `strata check` has: "
      "expected live or recorded for a boot run",
      config.source, config.env));
}

// The first key that makes a run of `a` another than a run of `b` under the
// same schedule ("workload.iterations = 10, here 100"), or nullopt
// (Key::replay_ignores; the seed counts: a workload's own choices follow it).
std::optional<std::string> FirstDifference(const Config& a, const Config& b) {
  for (const Key& k : Keys()) {
    if (k.replay_ignores) continue;
    if (k.Toml(a) != k.Toml(b)) return fmt::format("{} = {}, here {}", k.name(), k.Toml(a), k.Toml(b));
  }
  return std::nullopt;
}

// A log file's error (it names the file, line and field) as the config's.
absl::Status RecordingError(const Config& config, const absl::Status& s) {
  return absl::InvalidArgumentError(
      fmt::format("{}: env.recording: {}", config.source, std::string(s.message())));
}

// What a recorded environment replays: the config's own multicore run, or
// the run its env.recording file holds — a schedule file, replayed, or a
// log file, read (whose objects the per-CPU machine must then have).
struct Recorded {
  machine::Recording recording;
  std::vector<LogFile::Object> log_objects;
};

absl::StatusOr<Recorded> RecordMulticore(const Config& config, const Catalog& catalog) {
  auto keep = [](machine::Machine& m) { m.KeepPushedContents(); };
  Config multicore = config;
  multicore.env = "live";
  multicore.focus = -1;
  multicore.recording.clear();
  auto recorded = [](const BootRun& run) { return Recorded{machine::RecordingOf(*run.machine), {}}; };
  if (config.recording.empty()) {
    STRATA_ASSIGN_OR_RETURN(BootRun run, RunConfig(multicore, catalog, nullptr, "", keep));
    return recorded(run);
  }
  const std::string& path = config.recording;
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        fmt::format("{}: env.recording: {} {}", config.source, path, what));
  };
  // A directory, a device or a FIFO is no recording (and reading one
  // would not end).
  if (absl::Status s =
          CheckInputFile(path, "the schedule file (expected a schedule file strata wrote)");
      !s.ok()) {
    return bad(fmt::format("is no recording: {}", std::string(s.message())));
  }
  std::error_code error;
  if (std::filesystem::file_size(path, error) == 0) {
    return bad("is no recording: the file is empty (expected a schedule file or a JSON-lines log "
               "strata wrote)");
  }
  if (IsLogFile(path)) {
    absl::StatusOr<LogFile> log = LoadLogFile(path, config.machine.cpus);
    if (!log.ok()) return RecordingError(config, log.status());
    return Recorded{std::move(log->recording), std::move(log->objects)};
  }
  absl::StatusOr<ScheduleFile> file = LoadScheduleFile(path, catalog);
  if (!file.ok()) return bad(fmt::format("is no recording: {}", std::string(file.status().message())));
  if (!file->layer.empty()) {
    return bad(fmt::format("is the schedule of a check (layer {}): expected one a boot run wrote",
                           file->layer));
  }
  if (file->config.focus >= 0) {
    return bad(fmt::format("is the schedule of a per-CPU run (env.kind {}, focus {}): expected a "
                           "multicore run's",
                           file->config.env, file->config.focus));
  }
  if (std::optional<std::string> d = FirstDifference(file->config, config)) {
    return bad(fmt::format("was recorded with another config ({}): expected a run of this one", *d));
  }
  absl::StatusOr<BootRun> replayed = RunConfig(multicore, catalog, &file->choices, path, keep);
  if (!replayed.ok()) {
    return bad(fmt::format("does not replay: {}", std::string(replayed.status().message())));
  }
  if (replayed->machine->log().hash() != file->log_hash) {
    return bad(fmt::format("does not replay: log hash {}, the file says {}",
                           machine::FormatHash(replayed->machine->log().hash()),
                           machine::FormatHash(file->log_hash)));
  }
  return recorded(*replayed);
}

}  // namespace

absl::StatusOr<std::uint64_t> MeasuredHorizon(const Config& config, const Catalog& catalog) {
  if (config.pct_horizon != 0) return 0;
  const auto* entry = catalog.oracles.Find(config.oracle);
  STRATA_CHECK(entry != nullptr, "unvalidated oracle {}", config.oracle);
  if (!entry->make(OracleOptionsFor(config))->wants_run_length()) return 0;
  // Depth 1: the oracle's priorities without change points, and a horizon
  // that is not 0, so the first run measures nothing itself.
  Config first = config;
  first.pct_depth = 1;
  first.pct_horizon = 1;
  STRATA_ASSIGN_OR_RETURN(const BootRun run, RunConfig(first, catalog));
  return std::max<std::uint64_t>(run.report.steps, 1);
}

absl::StatusOr<BootRun> RunConfig(const Config& config, const Catalog& catalog,
                                  const std::vector<CpuId>* replay,
                                  const std::string& replay_source,
                                  const std::function<void(machine::Machine&)>& prepare,
                                  const std::vector<CpuId>* guide) {
  if (replay == nullptr && guide == nullptr) {
    STRATA_ASSIGN_OR_RETURN(const std::uint64_t horizon, MeasuredHorizon(config, catalog));
    if (horizon != 0) {
      Config fitted = config;
      fitted.pct_horizon = horizon;
      STRATA_ASSIGN_OR_RETURN(BootRun run, RunConfig(fitted, catalog, nullptr, "", prepare));
      run.oracle += " (the horizon: the steps of a first run without change points)";
      return run;
    }
  }
  BootRun run;
  const auto* env = catalog.environments.Find(config.env);
  STRATA_CHECK(env != nullptr, "unvalidated environment {}", config.env);
  const CpuId focus = config.focus >= 0 ? CpuId(static_cast<CpuId::Rep>(config.focus)) : CpuId();
  STRATA_RETURN_IF_ERROR(BootEnvironmentAllowed(config, catalog));
  std::vector<LogFile::Object> log_objects;
  if (env->make.replays_recording) {
    STRATA_ASSIGN_OR_RETURN(Recorded recorded, RecordMulticore(config, catalog));
    run.environment = std::make_unique<machine::RecordedEnvironment>(std::move(recorded.recording));
    log_objects = std::move(recorded.log_objects);
  }
  machine::MachineOptions options = MachineOptionsFor(config);
  if (focus.valid()) options = machine::PerCpuOptions(options, focus, env->make);
  SetUpRun set_up = SetUp(config, catalog, options);
  run.machine = std::move(set_up.machine);
  if (absl::Status s = log_objects.empty() ? absl::OkStatus()
                                            : CheckLogFits(log_objects, run.environment->recording(),
                                                           config.recording, *run.machine);
      !s.ok()) {
    return RecordingError(config, s);
  }
  WorkloadRun& w = set_up.workload;
  if (prepare) prepare(*run.machine);
  machine::OracleOptions oo = OracleOptionsFor(config);
  const auto* entry = catalog.oracles.Find(config.oracle);
  STRATA_CHECK(entry != nullptr, "unvalidated oracle {}", config.oracle);
  machine::EnvironmentRun er = env->make.make(
      focus, {.live = w.program, .oracle = entry->make(oo), .recording = run.environment.get()});
  std::unique_ptr<machine::Oracle> oracle = std::move(er.oracle);
  if (replay != nullptr) {
    oo.kind = machine::OracleKind::kReplay;
    oo.replay = *replay;
    oo.replay_source = replay_source;
    oracle = machine::MakeOracle(oo);
  } else if (guide != nullptr) {
    oracle = std::make_unique<machine::GuidedOracle>(*guide);
  }
  run.oracle = oracle->Describe();
  auto start = std::chrono::steady_clock::now();
  STRATA_ASSIGN_OR_RETURN(run.report, run.machine->Run(er.program, *oracle));
  run.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (w.details) run.details = w.details();
  if (w.waits && run.report.outcome == Outcome::kDeadlock) run.waits = w.waits();
  if (run.report.ok()) {
    run.checks = w.checks();
    for (const Check& c : run.checks) {
      if (!c.ok()) {
        run.report.outcome = Outcome::kWrongResult;
        run.report.message = fmt::format("{} = {} at the end, expected {}", c.what, c.actual,
                                         c.expected);
        break;
      }
    }
  }
  return run;
}

namespace {

// A failed run shrunk like a check's failure (machine/shrink.h): the
// smallest run found that fails with the same outcome. Each candidate is a
// whole run of the config, so prefixes are bisected and at most 400 are
// tried; the report names both sizes.
BootRun ShrinkRun(const Config& config, const Catalog& catalog, const BootOptions& options,
                  BootRun found) {
  const Outcome target = found.report.outcome;
  auto steps = [](const BootRun& r) {
    return std::vector<CpuId>(r.machine->schedule().begin(), r.machine->schedule().end());
  };
  auto rerun = [&](std::vector<CpuId> guide) -> std::optional<BootRun> {
    absl::StatusOr<BootRun> r = RunConfig(config, catalog, nullptr, "", KeepFor(options), &guide);
    if (!r.ok() || r->report.outcome != target) return std::nullopt;
    return std::move(*r);
  };
  const std::uint64_t original = found.report.steps;
  const std::string oracle = found.oracle;
  std::uint64_t attempts = 0;
  BootRun best = machine::Shrink(std::move(found), rerun, steps,
                                 machine::ShrinkOptions{.max_attempts = 400, .bisect = true}, &attempts);
  best.original_steps = original;
  best.oracle = oracle + "; shrunk";
  best.shrink_attempts = attempts;
  return best;
}

}  // namespace

absl::StatusOr<int> Boot(const Config& config, const Catalog& catalog, const BootOptions& options,
                         std::FILE* out) {
  STRATA_RETURN_IF_ERROR(CheckWritable(options.log_path, "--log"));
  STRATA_RETURN_IF_ERROR(CheckWritable(options.schedule_path, "--schedule"));
  STRATA_RETURN_IF_ERROR(CheckWritable(options.report_path, "--report"));
  STRATA_RETURN_IF_ERROR(CheckWritable(options.trace_path, "--trace"));
  // The header after the run: a config the run refuses (a recording that
  // does not fit) is one line of error, nothing else.
  STRATA_ASSIGN_OR_RETURN(BootRun run, RunConfig(config, catalog, nullptr, "", KeepFor(options)));
  // Not shrunk: a run against a recorded environment (the recording fixes
  // the other CPUs' steps, and a shrunk run would no longer be its), and a
  // run out of its step budget (every candidate would run to the budget).
  if (!run.report.ok() && config.shrink) {
    if (run.report.outcome == Outcome::kStepBudget) {
      run.not_shrunk = "a step-budget failure takes the whole budget, however it is scheduled";
    } else if (run.environment != nullptr) {
      run.not_shrunk = "the recorded environment fixes the other cpus' steps";
    } else if (run.report.outcome != Outcome::kNondeterminism) {
      run = ShrinkRun(config, catalog, options, std::move(run));
    }
  }
  TextOut text(out, options.json);
  fmt::print(text.get(), "strata boot {}\n", config.source);
  return Finish(config, catalog, run, options, text.get(), out);
}

absl::StatusOr<int> Replay(const std::string& schedule_path, const Catalog& catalog,
                           const BootOptions& options, std::FILE* out) {
  STRATA_ASSIGN_OR_RETURN(ScheduleFile file, LoadScheduleFile(schedule_path, catalog));
  // Its outputs may be neither the schedule nor the recording it replays.
  std::vector<OutputFile> outputs;
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--log", options.log_path},
                                   {"--report", options.report_path},
                                   {"--trace", options.trace_path}}) {
    for (OutputFile& o : OutputsOf(flag, path)) outputs.push_back(std::move(o));
  }
  const std::pair<std::string, std::string> inputs[] = {
      {schedule_path, "the schedule file"}, {file.config.recording, "env.recording's recording"}};
  STRATA_RETURN_IF_ERROR(CheckOutputs(outputs, inputs));
  // A replay makes its runs one at a time, whatever threads the check had.
  Config replayed = file.config;
  replayed.jobs = 1;
  STRATA_RETURN_IF_ERROR(
      CheckRunFitsHost(replayed, catalog, file.layer.empty() ? kBootCommand : kCheckCommand));
  if (!file.layer.empty() && !options.log_path.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "--log: {} is the schedule of a check (layer {}), whose replay writes no log: expected "
        "--log only with a boot run's schedule (--report and --trace show a check's run)",
        schedule_path, file.layer));
  }
  if (!file.layer.empty()) {
    ReplayOptions replay;
    replay.steps = options.steps;
    replay.report_path = options.report_path;
    replay.trace_path = options.trace_path;
    return ReplayCheck(file, schedule_path, catalog, replay, out);
  }
  // The header after the run: a schedule the run refuses (a choice that
  // does not fit, a recording that does not) is one line of error.
  // Its pushes kept, so that its steps show the blocks' contents.
  STRATA_ASSIGN_OR_RETURN(BootRun run, RunConfig(file.config, catalog, &file.choices, schedule_path,
                                                 [](machine::Machine& m) { m.KeepPushedContents(); }));
  fmt::print(out, "strata replay {}\n", schedule_path);
  PrintSummary(out, file.config, catalog, run);
  if (!run.report.ok()) {
    PrintFailure(out, run);
    // A boot run fails where it stops: at a step that may not be in the log
    // (a race is caught before the racy step is appended).
    fmt::print(out, "  the run, step by step\n");
    PrintSteps(out, run.machine->log(), options.steps, run.report.event, nullptr,
               [&run](std::size_t i) { return run.machine->pushed(i); });
    fmt::print(out, "    <== the run stops here: {}: {}\n", machine::OutcomeName(run.report.outcome),
               run.report.message);
  }
  PrintTail(out, file.config, run);
  if (!options.log_path.empty()) {
    STRATA_RETURN_IF_ERROR(WriteLog(options.log_path, *run.machine));
    fmt::print(out, "  log        {} (JSON lines), {}.txt (text)\n", options.log_path,
               options.log_path);
  }
  if (!options.report_path.empty()) {
    STRATA_RETURN_IF_ERROR(WriteHtmlReport(
        options.report_path,
        BootReport(fmt::format("strata replay {}", schedule_path), file.config, run, schedule_path)));
    fmt::print(out, "  report     written to {}\n", options.report_path);
  }
  STRATA_RETURN_IF_ERROR(WriteRunTrace(options.trace_path,
                                       fmt::format("strata replay {}", schedule_path), file.config,
                                       run, out));
  std::uint64_t hash = run.machine->log().hash();
  if (hash != file.log_hash || run.report.outcome != file.outcome) {
    fmt::print(out, "{}", DivergedLine(machine::OutcomeName(file.outcome), file.log_hash,
                                       machine::OutcomeName(run.report.outcome), hash));
    return 1;
  }
  fmt::print(out, "  replay     reproduced: {} with log hash {}\n",
             machine::OutcomeName(file.outcome), machine::FormatHash(hash));
  return run.report.ok() ? 0 : 1;
}

}  // namespace strata::boot
