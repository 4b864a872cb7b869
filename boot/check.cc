#include "boot/check.h"

#include <unistd.h>

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "boot/host_limits.h"
#include "boot/interrupt.h"
#include "boot/json_text.h"
#include "boot/report.h"
#include "boot/schedule_file.h"
#include "boot/text_out.h"
#include "boot/witness.h"

#include "boot/trace.h"
#include "sched/stack.h"
#include "sched/workloads.h"
#include "layers/explorer.h"
#include "machine/check.h"
#include "machine/log.h"
#include "machine/shrink.h"

namespace strata::boot {
namespace {

// "1 execution", "2 executions".
std::string Executions(std::uint64_t n) { return fmt::format("{} execution{}", n, n == 1 ? "" : "s"); }

using layers::Execution;
using machine::CpuId;

std::vector<std::string> LayersToCheck(const Config& c) {
  std::vector<std::string> names;
  for (const kernel::LayerInfo& l : sched::Stack(c.stack)) {
    if (c.check_layer == "all" || c.check_layer == l.name) names.push_back(l.name);
  }
  return names;
}

std::string Implementation(const Config& c, const std::string& layer) {
  for (const kernel::LayerInfo& l : sched::Stack(c.stack)) {
    if (l.name == layer) return l.implementation;
  }
  return "";
}

const kernel::LayerInfo* FindLayer(const std::vector<kernel::LayerInfo>& stack,
                                   const std::string& name) {
  for (const kernel::LayerInfo& l : stack) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// The environments a per-CPU check runs against, as the portfolio takes them.
std::vector<layers::NamedEnvironment> CheckEnvironments(const Catalog& catalog) {
  std::vector<layers::NamedEnvironment> out;
  for (const auto& e : catalog.environments.entries()) {
    if (e.make.check) out.push_back({.name = e.name, .env = *e.make.check});
  }
  return out;
}

// "random, adversarial": their names.
std::string CheckEnvironmentNames(const Catalog& catalog) {
  std::string out;
  for (const layers::NamedEnvironment& e : CheckEnvironments(catalog)) {
    out += (out.empty() ? "" : ", ") + e.name;
  }
  return out;
}

// The per-CPU check's environment (DESIGN §2.2), or nullopt for the
// multicore check (env.kind live); an error for what no check can run.
absl::StatusOr<std::optional<layers::NamedEnvironment>> CheckEnvironmentOf(
    const Config& c, const Catalog& catalog, bool exhaustive) {
  const auto* env = catalog.environments.Find(c.env);
  STRATA_CHECK(env != nullptr, "unvalidated environment {}", c.env);
  if (!env->make.check) {
    if (env->make.replays_recording) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: env.kind: \"{}\" replays a boot run (strata boot, strata compose): expected live, "
          "or an environment a check runs against ({})",
          c.source, c.env, CheckEnvironmentNames(catalog)));
    }
    if (c.focus >= 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: env.focus: a check against the {} environment runs every cpu live: expected -1, "
          "or env.kind one of {}, got {}",
          c.source, c.env, CheckEnvironmentNames(catalog), c.focus));
    }
    return std::nullopt;
  }
  if (c.machine.cpus < 2) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: a per-CPU check against the {} environment needs other cpus: expected "
        "at least 2, got {}",
        c.source, c.env, c.machine.cpus));
  }
  const auto* strategy = catalog.strategies.Find(c.strategy);
  STRATA_CHECK(strategy != nullptr, "unvalidated strategy {}", c.strategy);
  if (strategy->make({.cpus = c.machine.cpus})->runs_environments()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: env.kind: check.strategy {} runs against every environment itself: expected live "
        "with it, got \"{}\"",
        c.source, c.strategy, c.env));
  }
  if (env->make.check->schedule && exhaustive) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: check.strategy: the {} environment shapes the schedule itself: expected a strategy "
        "that is not exhaustive (random, pct), got {}",
        c.source, c.env, c.strategy));
  }
  for (const kernel::LayerInfo& l : sched::Stack(c.stack)) {
    if (c.check_layer == l.name && l.rely.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: check.layer: the {} layer declares no rely, so it has no per-CPU check: expected "
          "a layer with one, or env.kind live",
          c.source, l.name));
    }
  }
  return layers::NamedEnvironment{.name = c.env, .env = *env->make.check};
}

// The machine a check's schedule replays on: the config's, focused as it
// says when it names an environment a check runs against.
machine::MachineOptions CheckMachineOf(const Config& c, const Catalog& catalog) {
  const auto* env = catalog.environments.Find(c.env);
  if (env == nullptr || !env->make.check || c.focus < 0) return c.machine;
  return machine::CheckOptions(c.machine, CpuId(static_cast<CpuId::Rep>(c.focus)), *env->make.check);
}

// What the log map made of lower event `i` ("  => ENQ q", "  (internal)"), or "".
std::string MapNote(const Execution& x, std::size_t i) {
  const machine::Log& log = x.machine->log();
  if (i < x.image.size() && x.image[i] >= 0) {
    const machine::Event& u = x.mapped[static_cast<std::size_t>(x.image[i])];
    if (u.kind != log[i].kind) return fmt::format("  => {} {}", u.kind, log.object_name(u.object));
  } else if (i < x.image.size() && !log[i].marker() && (!x.verdict.event || i <= *x.verdict.event)) {
    return "  (internal)";
  }
  return "";
}

// `x` (a failing execution of `pair`) re-run along its schedule, recording
// its border crossings (Checking::kWitness).
Execution Witnessed(const layers::LayerPair& pair, const Execution& x) {
  return layers::ReplaySchedule(pair, x.machine->options(),
                                {x.machine->schedule().begin(), x.machine->schedule().end()},
                                "the failure", layers::Checking::kWitness);
}

// The HTML report of a failing execution `x` of `pair`, `w` the same run
// witnessed (for the states before the first bad event).
HtmlReport FailureReport(std::string title, const layers::LayerPair& pair, const Execution& x,
                         const Execution& w, std::vector<std::pair<std::string, std::string>> facts,
                         std::string replay) {
  HtmlReport r{.title = std::move(title),
               .verdict = x.verdict.name(),
               .ok = false,
               .message = x.verdict.message,
               .checked = fmt::format("{} refines {}?", pair.lower(), pair.upper()),
               .facts = std::move(facts),
               .log = &x.machine->log(),
               .bad = x.verdict.event,
               .note = [&x](std::size_t i) { return MapNote(x, i); },
               .module_after = x.verdict.lower_state,
               .spec_after = x.verdict.upper_state,
               .replay = std::move(replay)};
  // Before: the last crossing before the bad event; after: the crossing at
  // it, if it is one (a verdict found after the walk, a return mismatch,
  // holds the states at the end of the run).
  for (const layers::Crossing& c : w.crossings) {
    if (x.verdict.event && c.seq == *x.verdict.event) {
      r.module_after = c.lower_state;
      r.spec_after = c.upper_state;
    }
    if (x.verdict.event && c.seq >= *x.verdict.event) break;
    r.module_before = c.lower_state;
    r.spec_before = c.upper_state;
  }
  return r;
}

// The timeline of one execution of a check, if asked for; `what` says which.
absl::Status WriteCheckTrace(const std::string& path, const std::string& title, const Config& c,
                             const Execution& x, const std::string& what, std::FILE* out) {
  if (path.empty()) return absl::OkStatus();
  STRATA_RETURN_IF_ERROR(WriteStackTrace(
      path, c, *x.machine, fmt::format("{}: {}", title, what), x.verdict.event,
      x.verdict.ok() ? std::string() : fmt::format("{}: {}", x.verdict.name(), x.verdict.message)));
  PrintTraceLine(out, path, what);
  return absl::OkStatus();
}

void PrintVerdict(std::FILE* out, const Execution& x) {
  const layers::Verdict& v = x.verdict;
  const machine::Log& log = x.machine->log();
  fmt::print(out, "  verdict    {}: {}\n", v.name(), v.message);
  if (v.event && *v.event < log.size()) {
    fmt::print(out, "  first bad  {}\n", log.RenderTextWhere(*v.event));
  }
  if (!v.lower_state.empty()) fmt::print(out, "  module     {}\n", v.lower_state);
  if (!v.upper_state.empty()) fmt::print(out, "  spec       {}\n", v.upper_state);
}

}  // namespace

void PrintLayers(const Config& c, const Catalog& catalog, std::FILE* out) {
  fmt::print(out, "strata layers {}\n", c.source);
  fmt::print(out, "  (top)\n");
  std::vector<kernel::LayerInfo> stack = sched::Stack(c.stack, &catalog);
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    const bool spec = it->implementation == "spec";
    fmt::print(out, "  {:<8} runs as {}\n", it->name,
               spec ? std::string("its spec (atomic)")
                    : fmt::format("module `{}` over {}", it->implementation, it->below));
    for (const std::string& p : it->primitives) fmt::print(out, "             {}\n", p);
    if (!it->summary.empty()) fmt::print(out, "             ({})\n", it->summary);
    if (!it->rely.empty()) {
      fmt::print(out, "             rely: {}\n             guarantee: {}\n", it->rely, it->guarantee);
    }
    fmt::print(out, "             choices: {}\n", fmt::join(it->choices, ", "));
    if (!it->known_bad.empty()) {
      fmt::print(out, "             known-bad: {}\n", fmt::join(it->known_bad, ", "));
    }
  }
  fmt::print(out, "  machine  {} cpus: faa, cas, swap, load, store, pull, push (atomic, one event each)\n",
             c.machine.cpus);
  fmt::print(out, "  (bottom)\n");
}

absl::StatusOr<int> CheckStack(const Config& c, const Catalog& catalog,
                               const CheckOptions& options, std::FILE* json_out) {
  const std::string client_name = sched::SchedClient(c.stack);
  const auto* client = catalog.threads.Find(client_name);
  if (client != nullptr && (c.check_layer == "all" || c.check_layer == "sched") &&
      c.machine.cpus < client->make.min_cpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: check.client \"{}\" needs at least {} cpus, got {}", c.source,
        client_name, client->make.min_cpus, c.machine.cpus));
  }
  const auto* strategy = catalog.strategies.Find(c.strategy);
  STRATA_CHECK(strategy != nullptr, "unvalidated strategy {}", c.strategy);
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  const bool progress = (options.progress && terminal) || options.progress_always;
  const layers::StrategyOptions so{.cpus = c.machine.cpus,
                                   .seed = c.seed,
                                   .pct_depth = c.pct_depth,
                                   .pct_horizon = c.pct_horizon,
                                   .preemption_bound = c.preemption_bound,
                                   .reduction = *layers::ParseReduction(c.reduction)};
  const bool exhaustive = strategy->make(so)->exhaustive();
  STRATA_ASSIGN_OR_RETURN(const std::optional<layers::NamedEnvironment> env,
                          CheckEnvironmentOf(c, catalog, exhaustive));
  if (options.witness_all && options.witness_path.empty()) {
    return absl::InvalidArgumentError(
        "--witness-all: writes every execution's witness to the --witness file: expected "
        "--witness FILE with it");
  }
  // A follower rank of a sharded check makes parts of the leader's
  // explorations and prints and writes nothing (its output is the leader's;
  // its node may not even have the outputs' folders).
  const bool follower = options.cluster != nullptr && !options.cluster->leader();
  auto check_writable = [follower](const std::string& path, const char* flag) {
    return follower ? absl::OkStatus() : CheckWritable(path, flag);
  };
  STRATA_RETURN_IF_ERROR(check_writable(options.witness_path, "--witness"));
  STRATA_RETURN_IF_ERROR(check_writable(options.report_path, "--report"));
  std::vector<std::pair<std::string, std::string>> facts;  // the report's
  std::optional<HtmlReport> failure_report;
  STRATA_RETURN_IF_ERROR(check_writable(options.schedule_path, "--schedule"));
  WitnessFile witness;
  TextOut text(json_out, options.json);
  std::FILE* out = text.get();
  const std::uint64_t fairness =
      c.machine.fairness != 0 ? c.machine.fairness : 8 * static_cast<std::uint64_t>(c.machine.cpus);
  STRATA_RETURN_IF_ERROR(check_writable(options.trace_path, "--trace"));
  fmt::print(out, "strata check {}\n", c.source);
  fmt::print(out, "  machine    {} cpus, fairness bound {}\n", c.machine.cpus, fairness);
  nlohmann::ordered_json json;
  json["command"] = "check";
  json["config"] = c.source;
  json["verdict"] = nullptr;  // filled in below, kept here to come first
  json["ok"] = nullptr;
  json["exhaustive"] = nullptr;
  json["cpus"] = c.machine.cpus;
  json["fairness_bound"] = fairness;
  json["seed"] = c.seed;
  json["runs"] = c.runs;
  nlohmann::ordered_json json_layers = nlohmann::ordered_json::array();
  // Ends the command: the JSON result on `json_out` with --json, and the
  // exit status. `verdict`: refines, no-violation, or the failure's name.
  auto finish = [&](int code, const std::string& verdict, bool exhaustive) -> absl::StatusOr<int> {
    if (!follower && !options.witness_path.empty()) {
      STRATA_RETURN_IF_ERROR(witness.Write());
      fmt::print(out, "  witness    written to {} ({} execution{}{})\n", options.witness_path,
                 witness.executions(), witness.executions() == 1 ? "" : "s",
                 options.witness_all                ? ", every one checked"
                 : witness.executions() > 0 ? ": the failure"
                                            : ": no failure to witness (--witness-all writes every execution)");
      json["witness"] = options.witness_path;
    }
    if (!options.report_path.empty()) {
      HtmlReport passed{.title = fmt::format("strata check {}", c.source),
                        .verdict = verdict,
                        .ok = code == 0,
                        .facts = facts};
      STRATA_RETURN_IF_ERROR(WriteHtmlReport(options.report_path, failure_report ? *failure_report : passed));
      fmt::print(out, "  report     written to {}\n", options.report_path);
      json["report"] = options.report_path;
    }
    json["verdict"] = verdict;
    json["ok"] = code == 0;
    json["exhaustive"] = exhaustive;
    json["layers"] = json_layers;
    if (options.json) fmt::print(json_out, "{}\n", JsonText(json));
    return code;
  };
  const CpuId focus = c.focus >= 0 ? CpuId(static_cast<CpuId::Rep>(c.focus)) : CpuId();
  // Per layer: the strategy, against the environment of a per-CPU check;
  // a portfolio's members against every environment the layer allows.
  auto strategy_for = [&](const kernel::LayerInfo& layer) -> layers::StrategyFactory {
    if (env) {
      return [make = strategy->make, env = *env, focus](const layers::StrategyOptions& o) {
        return layers::WithEnvironment(make(o), env, focus, o.cpus);
      };
    }
    std::vector<layers::NamedEnvironment> allowed;
    if (!layer.rely.empty() && c.machine.cpus >= 2) allowed = CheckEnvironments(catalog);
    return [make = strategy->make, allowed](const layers::StrategyOptions& o) {
      layers::StrategyOptions with = o;
      with.environments = allowed;
      return make(with);
    };
  };
  // The header names a portfolio's members on a layer with a rely.
  layers::StrategyOptions header = so;
  if (!env && c.machine.cpus >= 2) header.environments = CheckEnvironments(catalog);
  // Host threads change how fast, never what: the result is the same. By
  // default one per core this process may run on (mpirun and Slurm pin
  // ranks to cores), and the host's cores shared by the ranks of a sharded
  // check that run on it.
  const int ranks_here = options.cluster != nullptr ? std::max(1, options.cluster->ranks_on_host()) : 1;
  // --witness-all: one. The witnesses are made and written on the calling
  // thread, in order, which is most of the time; and the executions other
  // threads made ahead would wait whole in memory (16 KB each for the
  // ticket lock on 2 cpus: 20,000 runs held 340 MB on 2 threads).
  const int usual_jobs = CheckJobs(c, ranks_here);
  const int jobs = options.witness_all ? 1 : usual_jobs;
  // "Up to": a strategy that does not split (the portfolio) runs on one.
  fmt::print(out, "  strategy   {}, {}; seed {}; {}\n", strategy->make(header)->Describe(),
             exhaustive ? Executions(c.runs) + " at most"
                        : fmt::format("{} run{}", c.runs, c.runs == 1 ? "" : "s"),
             c.seed,
             jobs > 1          ? fmt::format("up to {} host threads", jobs)
             : usual_jobs == 1 ? std::string("1 host thread")
                               : std::string("1 host thread (--witness-all writes each witness as it is made)"));
  json["threads"] = jobs;
  json["strategy"] = strategy->make(header)->Describe();
  facts.emplace_back("machine", fmt::format("{} cpus, fairness bound {}", c.machine.cpus, fairness));
  facts.emplace_back("strategy", fmt::format("{}, {} runs at most", strategy->make(header)->Describe(), c.runs));
  facts.emplace_back("env", env ? c.env : std::string("live"));
  json["env"] = {{"kind", env ? c.env : std::string("live")}, {"focus", c.focus}};
  json["layers"] = nullptr;
  json["failure"] = nullptr;
  if (env) {
    const auto* entry = catalog.environments.Find(c.env);
    fmt::print(out, "  env        {}: per-CPU checks, {}; {}\n", c.env,
               focus.valid() ? fmt::format("focus cpu {}", focus)
                             : std::string(exhaustive ? "focus cpu 0" : "each cpu in turn the focus"),
               entry->summary);
  }

  layers::ExploreOptions explore{.seed = c.seed,
                                 .runs = c.runs,
                                 .pct_depth = c.pct_depth,
                                 .pct_horizon = c.pct_horizon,
                                 .preemption_bound = c.preemption_bound,
                                 .reduction = *layers::ParseReduction(c.reduction),
                                 .symmetry = c.symmetry && !env,
                                 .shrink = c.shrink,
                                 .keep_last = !options.trace_path.empty(),
                                 .progress = progress ? stderr : nullptr,
                                 .progress_lines = !terminal,
                                 .jobs = jobs,
                                 .cluster = options.cluster};
  const InterruptScope interrupt;
  explore.stop = interrupt.flag();
  // Written as the check goes (every execution's, with --witness-all);
  // opened once a second signal would remove it (boot/interrupt.h).
  if (!follower && !options.witness_path.empty()) STRATA_RETURN_IF_ERROR(witness.Open(options.witness_path));
  const std::string title = fmt::format("strata check {} (seed {})", c.source, c.seed);
  // With no failure, the trace is of the last layer's last execution.
  std::optional<Execution> last;
  std::string last_layer;
  auto write_trace = [&](const Execution& x, const std::string& what) -> absl::Status {
    if (options.trace_path.empty()) return absl::OkStatus();
    STRATA_RETURN_IF_ERROR(WriteCheckTrace(options.trace_path, title, c, x, what, out));
    json["trace"] = options.trace_path;
    return absl::OkStatus();
  };
  const std::vector<kernel::LayerInfo> stack = sched::Stack(c.stack);
  int uncovered = 0;  // layers checked without covering their whole space
  int explored = 0;   // layers checked at all
  const std::vector<std::string> to_check = LayersToCheck(c);
  for (std::size_t k = 0; k < to_check.size(); ++k) {
    const std::string& layer = to_check[k];
    if (Implementation(c, layer) == "spec") {
      fmt::print(out, "  {:<10} runs as its spec: nothing to check\n", layer);
      json_layers.push_back({{"layer", layer}, {"verdict", "spec"}});
      continue;
    }
    const kernel::LayerInfo* info = FindLayer(stack, layer);
    STRATA_CHECK(info != nullptr, "unvalidated layer {}", layer);
    if (env && info->rely.empty()) {
      fmt::print(out, "  {:<10} declares no rely: no per-CPU check\n", layer);
      json_layers.push_back({{"layer", layer}, {"verdict", "no-rely"}});
      continue;
    }
    std::unique_ptr<layers::LayerPair> pair = sched::MakePair(layer, c.stack, catalog);
    STRATA_CHECK(pair != nullptr, "unvalidated layer {}", layer);
    explore.strategy = strategy_for(*info);
    explore.progress_label = layer;
    if (!options.witness_path.empty()) witness.BeginLayer(layer, *pair);
    explore.witness_all = options.witness_all;
    explore.each = nullptr;
    if (options.witness_all) {
      // Every passing execution; the failure is added once, shrunk, below.
      explore.each = [&witness, &pair](const Execution& x) {
        if (x.verdict.ok()) witness.Add(WitnessJson(*pair, x));
      };
    }
    layers::ExploreResult r = layers::Explore(*pair, c.machine, explore);
    explore.each = nullptr;  // it holds `pair`, which ends with this iteration
    if (r.follower) {
      // The leader ended the command, or goes on to the next layer.
      if (r.dismissed) return 0;
      continue;
    }
    ++explored;
    fmt::print(out, "  {:<10} {} refines {}?\n", layer, pair->lower(), pair->upper());
    if (env) {
      fmt::print(out, "             rely       (declared) {}\n             guarantee  (declared) {}\n",
                 info->rely, info->guarantee);
    }
    // The whole F-fair space: exhausted, not limited by a bound, and not
    // cut short where the fairness guard chose a step.
    const bool whole = r.exhausted && r.bound.empty() && r.guard_cuts == 0;
    std::string space;
    if (exhaustive) {
      space = fmt::format(", {} skipped by reduction, {}", r.skipped,
                          !r.exhausted        ? std::string("space NOT exhausted")
                          : whole             ? std::string("space exhausted")
                          : !r.bound.empty()  ? fmt::format("bounded space exhausted (schedules with {})", r.bound)
                                              : fmt::format("space exhausted as far as the fairness guard let the "
                                                            "reduction reorder ({} cut{})",
                                                            r.guard_cuts, r.guard_cuts == 1 ? "" : "s"));
    }
    fmt::print(out, "             {}{}, {} events, {:.3f} s ({:.0f} executions/s)\n",
               Executions(r.executions), space, r.events, r.seconds,
               r.seconds > 0 ? static_cast<double>(r.executions) / r.seconds : 0.0);
    if (r.symmetric) {
      fmt::print(out, "             symmetry   the cpus are interchangeable: one schedule per renaming of them\n");
    }
    // A failure over its bound is the one the verdict reports (shrunk):
    // its wait, so that the two lines agree.
    const bool failed_wait = r.failure && r.failure->verdict.kind == machine::Outcome::kStarvation &&
                             r.failure->worst_wait > r.failure->wait_bound;
    const std::uint64_t worst_wait = failed_wait ? r.failure->worst_wait : r.worst_wait;
    const std::uint64_t wait_bound = failed_wait ? r.failure->wait_bound : r.wait_bound;
    if (wait_bound > 0) {
      fmt::print(out, "             worst wait {} steps (bound {}){}\n", worst_wait, wait_bound,
                 worst_wait > wait_bound ? ": over its bound, the failure below" : "");
    }
    if (!r.failure) {
      fmt::print(out, "             seed {}  log hash {} ({})\n", c.seed, machine::FormatHash(r.logs_hash),
                 r.executions == 1 ? std::string("of the execution's log")
                                   : fmt::format("of the {} executions' logs, in order", r.executions));
    }
    nlohmann::ordered_json& jl = json_layers.emplace_back();
    jl["layer"] = layer;
    jl["lower"] = pair->lower();
    jl["upper"] = pair->upper();
    jl["verdict"] = nullptr;
    jl["executions"] = r.executions;
    jl["exhausted"] = r.exhausted;
    jl["bound"] = r.bound.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.bound);
    // Known when the whole tree was taken.
    if (exhaustive) jl["fairness_cuts"] = r.exhausted ? nlohmann::ordered_json(r.guard_cuts) : nlohmann::ordered_json();
    jl["symmetry"] = r.symmetric;
    if (exhaustive) {
      jl["skipped_by_reduction"] = r.skipped;
      // Whether each wait was checked in every interleaving (up to a
      // renaming of the cpus, which renames the waits with them), or in one
      // per order of dependent steps (Strategy::reduced).
      jl["waits_on_every_schedule"] = !r.reduced;
    }
    jl["events"] = r.events;
    // Of the executions checked, folded in order (a failure's own log hash
    // is the failure's).
    jl["log_hash"] = machine::FormatHash(r.logs_hash);
    jl["seconds"] = r.seconds;
    jl["threads"] = {{"threads", r.threads},
                     {"ranks", r.ranks},
                     {"parts_joined", r.parts_joined},
                     {"parts_refused", r.parts_refused},
                     {"made", r.made}};
    jl["waits"] = {{"worst", worst_wait},
                   {"bound", wait_bound > 0 ? nlohmann::ordered_json(wait_bound)
                                              : nlohmann::ordered_json()},
                   {"within", wait_bound == 0 || worst_wait <= wait_bound}};
    jl["left_rely"] = r.left_rely;
    if (r.left_rely > 0) {
      fmt::print(out,
                 "             {} more run{} failed at an environment cpu's step first (not "
                 "counted as executions; the first: {})\n",
                 r.left_rely, r.left_rely == 1 ? "" : "s", r.first_left_rely->message);
    }
    if (r.interrupted && !r.failure) {
      jl["verdict"] = "interrupted";
      jl["interrupted_by"] = interrupt.name();
      fmt::print(out,
                 "             verdict: interrupted by {} after {} (not exhaustive; no "
                 "refinement claim)\n",
                 interrupt.name(), Executions(r.executions));
      std::string after;
      for (std::size_t n = k + 1; n < to_check.size(); ++n) {
        after += fmt::format("{}{}", after.empty() ? "" : ", ", to_check[n]);
      }
      fmt::print(out, "  result     interrupted by {}: layer {} not finished{}{}\n", interrupt.name(),
                 layer, json_layers.size() > 1 ? "; the layers below it as printed above" : "",
                 after.empty() ? "" : fmt::format("; not reached: {}", after));
      json["not_reached"] = to_check.size() > k + 1
                                ? nlohmann::ordered_json(std::vector<std::string>(
                                      to_check.begin() + static_cast<std::ptrdiff_t>(k) + 1, to_check.end()))
                                : nlohmann::ordered_json::array();
      json["interrupted_by"] = interrupt.name();
      if (r.last) {
        last = std::move(r.last);
        last_layer = layer;
      }
      if (last) {
        STRATA_RETURN_IF_ERROR(
            write_trace(*last, fmt::format("interrupted: the last execution of layer {} checked", last_layer)));
      }
      return finish(interrupt.exit_status(), "interrupted", false);
    }
    if (!r.failure && r.executions == 0) {
      fmt::print(out, "  FAILED     layer {}: no execution was checked to the end\n", layer);
      jl["verdict"] = "no-execution";
      return finish(1, "no-execution", false);
    }
    if (!r.failure) {
      // Honest about coverage: "refines" only for a space explored whole.
      const std::string whose =
          env ? fmt::format("; the focused cpu's calls, against the {} environment", env->name)
          : r.symmetric ? std::string(", up to a renaming of its interchangeable cpus")
                        : std::string();
      jl["verdict"] = whole ? "refines" : "no-violation";
      facts.emplace_back(fmt::format("layer {}", layer),
                         fmt::format("{} refines {}? {} in {}; seed {}, log hash {}", pair->lower(), pair->upper(),
                                     whole ? "refines (exhaustive)" : "no violation (not exhaustive)",
                                     Executions(r.executions), c.seed, machine::FormatHash(r.logs_hash)));
      if (whole) {
        fmt::print(out, "             verdict: refines (exhaustive: every F-fair schedule of the client{}{})\n",
                   whose, !r.reduced ? "" : r.symmetric ? " and the order of independent steps"
                                                       : ", up to the order of independent steps");
        // A wait counts the steps of every cpu between a call and its
        // return, so reordering independent steps changes it: an
        // exploration that ran one schedule of each class saw one wait of
        // each, not the longest. A renaming of the cpus renames their
        // waits and bounds with them (LayerPair::interchangeable), so
        // symmetry alone keeps every wait.
        if (r.reduced) {
          fmt::print(out,
                     "             waits: checked in one schedule per order of dependent steps, not in every "
                     "interleaving (--reduction none: in every one{})\n",
                     r.symmetric ? ", up to a renaming of the cpus" : "");
        }
      } else {
        // Cut short by the fairness guard: what to do about it comes last.
        const bool cut = r.exhausted && r.bound.empty() && r.guard_cuts > 0;
        fmt::print(out, "             verdict: no violation in {} ({}{}{})\n", Executions(r.executions),
                   !exhaustive ? std::string("not exhaustive")
                   : !r.exhausted
                       ? fmt::format("NOT exhaustive: stopped at its cap of {}", Executions(c.runs))
                   : !r.bound.empty()
                       ? fmt::format("NOT exhaustive: every schedule with {} was covered, not every "
                                     "F-fair schedule", r.bound)
                       : fmt::format("NOT exhaustive: {} time{} the fairness guard (bound {}) ran the cpu it "
                                     "owed a turn where the reduction needed another, so orders of steps may "
                                     "be missed",
                                     r.guard_cuts, r.guard_cuts == 1 ? "" : "s", fairness),
                   whose,
                   cut ? "; --reduction none explores every F-fair schedule, or raise oracle.fairness"
                       : "");
        ++uncovered;
      }
      if (r.last) {
        last = std::move(r.last);
        last_layer = layer;
      }
      continue;
    }
    const Execution& x = *r.failure;
    // The shrunk failure again, recording its crossings (after every
    // execution's with --witness-all: the last one in the file).
    std::optional<Execution> witnessed;
    if (!options.witness_path.empty() || !options.report_path.empty()) witnessed = Witnessed(*pair, x);
    if (witnessed) {
      // The re-run is the same run (Explore checked it is deterministic),
      // but a nondeterministic module's may end otherwise: the check's
      // verdict is the one to witness.
      witnessed->verdict = x.verdict;
    }
    if (!options.witness_path.empty()) witness.Add(WitnessJson(*pair, *witnessed));
    fmt::print(out, "  FAILED     layer {}: {}\n", layer, x.verdict.name());
    if (r.found_by != explore.strategy(so)->Describe()) {
      fmt::print(out, "  found by   {}\n", r.found_by);
    }
    PrintVerdict(out, x);
    const std::vector<machine::CpuId> to_failure = layers::ToFailure(x);
    std::string shrunk =
        c.shrink ? machine::DescribeShrunk(to_failure, r.failure_original_steps, r.shrink_attempts)
                 : fmt::format("{} steps to the failure with {} context switches (--no-shrink)",
                               to_failure.size(), machine::Switches(to_failure));
    // The run goes on past its first bad event (the check reads it after the
    // run), and the schedule file replays all of it.
    if (const std::size_t run_steps = x.machine->schedule().size(); run_steps != to_failure.size()) {
      shrunk += fmt::format("; the schedule replays the whole run, {} steps", run_steps);
    }
    fmt::print(out, "  {} {}\n", c.shrink ? "shrunk    " : "not shrunk", shrunk);
    fmt::print(out, "  seed {}  log hash {}\n", c.seed, machine::FormatHash(x.machine->log().hash()));
    const std::string taken[] = {c.source, c.recording, options.trace_path, options.report_path,
                                 options.witness_path};
    std::string path = !options.schedule_path.empty()
                           ? options.schedule_path
                           : DerivedSchedulePath(c, fmt::format("check-{}-{}", layer, x.verdict.name()), taken);
    Config recorded = c;
    recorded.machine.client_seed = x.machine->options().client_seed;
    // The member or environment that ran it: a replay runs on its machine.
    recorded.env = r.environment.empty() ? "live" : r.environment;
    recorded.focus = x.machine->options().focus.valid() ? x.machine->options().focus.value() : -1;
    ScheduleFile file{.config = recorded,
                      .layer = layer,
                      .verdict = x.verdict.name(),
                      .log_hash = x.machine->log().hash(),
                      .choices = {x.machine->schedule().begin(), x.machine->schedule().end()}};
    if (!WriteFailureSchedule(path, file, out)) path.clear();
    if (!options.report_path.empty()) {
      facts.emplace_back("found by", r.found_by);
      facts.emplace_back(c.shrink ? "shrunk" : "not shrunk", shrunk);
      facts.emplace_back("seed", fmt::format("{}", c.seed));
      facts.emplace_back("log hash", machine::FormatHash(x.machine->log().hash()));
      failure_report = FailureReport(fmt::format("strata check {}", c.source), *pair, x, *witnessed, facts,
                                     path.empty() ? "" : "strata replay " + path);
    }
    jl["verdict"] = x.verdict.name();
    nlohmann::ordered_json& jf = json["failure"];
    jf["layer"] = layer;
    jf["verdict"] = x.verdict.name();
    jf["message"] = x.verdict.message;
    jf["found_by"] = r.found_by;
    jf["environment"] = recorded.env;
    jf["focus"] = recorded.focus;
    jf["first_bad"] = FirstBadJson(x.machine->log(), x.verdict.event);
    jf["module_state"] = x.verdict.lower_state;
    jf["spec_state"] = x.verdict.upper_state;
    jf["steps"] = to_failure.size();
    jf["switches"] = machine::Switches(to_failure);
    jf["steps_before_shrinking"] = r.failure_original_steps;
    jf["log_hash"] = machine::FormatHash(x.machine->log().hash());
    jf["schedule"] = PathOrNull(path);
    jf["replay"] = PathOrNull(path.empty() ? "" : "strata replay " + path);
    STRATA_RETURN_IF_ERROR(
        write_trace(x, fmt::format("the failing execution of layer {}{}", layer, c.shrink ? ", shrunk" : "")));
    return finish(1, x.verdict.name(), false);
  }
  if (follower) return 0;
  if (explored == 0) {
    // Every layer asked for runs as its spec or has no per-CPU check.
    fmt::print(out, "  result     nothing checked: no layer asked for runs as a module that can be "
                    "checked here\n");
    return finish(0, "nothing-checked", false);
  }
  if (uncovered == 0) {
    fmt::print(out, "  result     every checked layer refines its spec (exhaustively)\n");
  } else {
    fmt::print(out, "  result     no violation in any checked layer ({} not explored exhaustively)\n",
               uncovered == 1 ? std::string("1 layer") : fmt::format("{} layers", uncovered));
  }
  if (last) {
    STRATA_RETURN_IF_ERROR(write_trace(*last, fmt::format("no failure: the last execution of layer {}", last_layer)));
  }
  return finish(0, uncovered == 0 ? "refines" : "no-violation", uncovered == 0);
}

absl::StatusOr<int> ReplayCheck(const ScheduleFile& file, const std::string& path,
                                const Catalog& catalog, const ReplayOptions& replay,
                                std::FILE* out) {
  STRATA_RETURN_IF_ERROR(CheckWritable(replay.report_path, "--report"));
  const Config& c = file.config;
  STRATA_RETURN_IF_ERROR(CheckWritable(replay.trace_path, "--trace"));
  std::unique_ptr<layers::LayerPair> pair = sched::MakePair(file.layer, c.stack, catalog);
  STRATA_CHECK(pair != nullptr, "unvalidated layer {}", file.layer);
  const machine::MachineOptions options = CheckMachineOf(c, catalog);
  // As a witness does, so that its steps show the blocks' contents.
  Execution x = layers::ReplaySchedule(*pair, options, file.choices, path, layers::Checking::kWitness);
  if (!x.input.ok()) return x.input;
  fmt::print(out, "strata replay {}\n", path);
  fmt::print(out, "  layer      {}: {} refines {}?\n", file.layer, pair->lower(), pair->upper());
  fmt::print(out, "  machine    {} cpus, {} steps from the schedule\n", c.machine.cpus,
             file.choices.size());
  if (options.focus.valid()) {
    fmt::print(out, "  env        {}: the per-CPU machine of cpu {}\n", c.env, options.focus);
  }
  const machine::Log& log = x.machine->log();
  fmt::print(out,
             "  the run, step by step (the lower log; `=> K obj`: the upper event the log map "
             "makes of a step; `(internal)`: a step it drops)\n");
  PrintSteps(out, log, replay.steps, x.verdict.event, [&x](std::size_t i) { return MapNote(x, i); },
             [&x](std::size_t i) { return x.machine->pushed(i); });
  if (x.verdict.ok() && file.verdict == "nondeterminism") {
    // One run cannot show it (below, the same schedule runs again).
    fmt::print(out, "  verdict    this run passes its check; nondeterminism shows between two runs\n");
  } else if (x.verdict.ok()) {
    fmt::print(out, "  verdict    refines\n");
  } else {
    PrintVerdict(out, x);
  }
  const std::uint64_t hash = log.hash();
  fmt::print(out, "  seed {}  log hash {}\n", c.seed, machine::FormatHash(hash));
  if (!replay.report_path.empty()) {
    const std::vector<std::pair<std::string, std::string>> facts = {
        {"layer", file.layer},
        {"machine", fmt::format("{} cpus, {} steps from the schedule", c.machine.cpus, file.choices.size())},
        {"env", options.focus.valid() ? fmt::format("{}: the per-CPU machine of cpu {}", c.env, options.focus)
                                      : std::string("live")},
        {"recorded", fmt::format("{} with log hash {}", file.verdict, machine::FormatHash(file.log_hash))},
        {"seed", fmt::format("{}", c.seed)},
        {"log hash", machine::FormatHash(hash)}};
    const Execution w = Witnessed(*pair, x);
    HtmlReport report = FailureReport(fmt::format("strata replay {}", path), *pair, x, w, facts,
                                      "strata replay " + path);
    if (x.verdict.ok()) {
      report.ok = true;
      report.module_after.clear();
      report.spec_after.clear();
      report.module_before.clear();
      report.spec_before.clear();
    }
    STRATA_RETURN_IF_ERROR(WriteHtmlReport(replay.report_path, report));
    fmt::print(out, "  report     written to {}\n", replay.report_path);
  }
  STRATA_RETURN_IF_ERROR(WriteCheckTrace(replay.trace_path, fmt::format("strata replay {}", path),
                                         c, x,
                                         fmt::format("the replayed run of layer {}", file.layer),
                                         out));
  if (file.verdict == "nondeterminism") {
    // One run cannot show it: the same schedule again must give another log.
    Execution again = layers::ReplaySchedule(*pair, options, file.choices, path);
    const bool differs = !again.input.ok() || again.machine->log().hash() != hash;
    fmt::print(out, "  replay     {}: the same schedule gave log hash {} then {}\n",
               differs ? "reproduced: nondeterminism" : "DIVERGED: deterministic now",
               machine::FormatHash(hash),
               again.input.ok() ? machine::FormatHash(again.machine->log().hash())
                                : std::string(again.input.message()));
    return 1;
  }
  if (hash != file.log_hash || x.verdict.name() != file.verdict) {
    fmt::print(out, "{}", DivergedLine(file.verdict, file.log_hash, x.verdict.name(), hash));
    return 1;
  }
  fmt::print(out, "  replay     reproduced: {} with log hash {}\n", file.verdict,
             machine::FormatHash(hash));
  return x.verdict.ok() ? 0 : 1;
}

}  // namespace strata::boot
