#include "boot/check.h"

#include <unistd.h>

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "boot/trace.h"
#include "sched/stack.h"
#include "sched/workloads.h"
#include "layers/explorer.h"
#include "machine/check.h"
#include "machine/log.h"

namespace strata::boot {
namespace {

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

std::string DefaultSchedulePath(const Config& c, const std::string& layer,
                                const layers::Verdict& v) {
  return fmt::format("strata-check-{}-{}-seed{}.schedule", layer, v.name(), c.seed);
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

// The timeline of one execution of a check, if asked for; `what` says which.
absl::Status WriteCheckTrace(const std::string& path, const std::string& title, const Config& c,
                             const Execution& x, const std::string& what, std::FILE* out) {
  if (path.empty()) return absl::OkStatus();
  const std::vector<layers::Timeline> timelines = StackTimelines(c);
  STRATA_RETURN_IF_ERROR(WriteTrace(path, x.machine->log(), timelines,
                                    {.title = fmt::format("{}: {}", title, what),
                                     .cpus = x.machine->cpus()}));
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
                               const CheckOptions& options, std::FILE* out) {
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
  const bool progress = options.progress && ::isatty(STDERR_FILENO);
  const layers::StrategyOptions so{.cpus = c.machine.cpus,
                                   .seed = c.seed,
                                   .pct_depth = c.pct_depth,
                                   .pct_horizon = c.pct_horizon,
                                   .preemption_bound = c.preemption_bound,
                                   .reduction = c.reduction};
  const bool exhaustive = strategy->make(so)->exhaustive();
  STRATA_ASSIGN_OR_RETURN(const std::optional<layers::NamedEnvironment> env,
                          CheckEnvironmentOf(c, catalog, exhaustive));
  STRATA_RETURN_IF_ERROR(CheckWritable(options.trace_path, "--trace"));
  fmt::print(out, "strata check {}\n", c.source);
  fmt::print(out, "  machine    {} cpus, fairness bound {}\n", c.machine.cpus,
             c.machine.fairness != 0 ? c.machine.fairness : 8 * static_cast<std::uint64_t>(c.machine.cpus));
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
  fmt::print(out, "  strategy   {}, {} {}; seed {}\n", strategy->make(header)->Describe(), c.runs,
             exhaustive ? "executions at most" : "runs", c.seed);
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
                                 .reduction = c.reduction,
                                 .shrink = c.shrink,
                                 .keep_last = !options.trace_path.empty(),
                                 .progress = progress ? stderr : nullptr};
  const std::string title = fmt::format("strata check {} (seed {})", c.source, c.seed);
  // With no failure, the trace is of the last layer's last execution.
  std::optional<Execution> last;
  std::string last_layer;
  const std::vector<kernel::LayerInfo> stack = sched::Stack(c.stack);
  int uncovered = 0;  // layers checked without covering their whole space
  for (const std::string& layer : LayersToCheck(c)) {
    if (Implementation(c, layer) == "spec") {
      fmt::print(out, "  {:<10} runs as its spec: nothing to check\n", layer);
      continue;
    }
    const kernel::LayerInfo* info = FindLayer(stack, layer);
    STRATA_CHECK(info != nullptr, "unvalidated layer {}", layer);
    if (env && info->rely.empty()) {
      fmt::print(out, "  {:<10} declares no rely: no per-CPU check\n", layer);
      continue;
    }
    std::unique_ptr<layers::LayerPair> pair = sched::MakePair(layer, c.stack, catalog);
    STRATA_CHECK(pair != nullptr, "unvalidated layer {}", layer);
    explore.strategy = strategy_for(*info);
    layers::ExploreResult r = layers::Explore(*pair, c.machine, explore);
    fmt::print(out, "  {:<10} {} refines {}?\n", layer, pair->lower(), pair->upper());
    if (env) {
      fmt::print(out, "             rely       (declared) {}\n             guarantee  (declared) {}\n",
                 info->rely, info->guarantee);
    }
    std::string space;
    if (exhaustive) {
      space = fmt::format(", {} skipped by reduction, {}", r.skipped,
                          r.exhausted ? "space exhausted" : "space NOT exhausted");
    }
    fmt::print(out, "             {} executions{}, {} events, {:.3f} s ({:.0f} executions/s)\n",
               r.executions, space, r.events, r.seconds,
               r.seconds > 0 ? static_cast<double>(r.executions) / r.seconds : 0.0);
    if (r.wait_bound > 0) {
      fmt::print(out, "             worst wait {} steps (bound {})\n", r.worst_wait, r.wait_bound);
    }
    if (r.left_rely > 0) {
      fmt::print(out,
                 "             {} more runs failed at an environment cpu's step first (not "
                 "counted as executions; the first: {})\n",
                 r.left_rely, r.first_left_rely->message);
    }
    if (!r.failure && r.executions == 0) {
      fmt::print(out, "  FAILED     layer {}: no execution was checked to the end\n", layer);
      return 1;
    }
    if (!r.failure) {
      // Honest about coverage: "refines" only for a space explored whole.
      const std::string whose =
          env ? fmt::format("; the focused cpu's calls, against the {} environment", env->name)
              : std::string();
      if (r.exhausted) {
        fmt::print(out, "             verdict: refines (exhaustive: every F-fair schedule of the client{})\n",
                   whose);
      } else {
        fmt::print(out, "             verdict: no violation in {} executions ({}{})\n", r.executions,
                   exhaustive ? fmt::format("NOT exhaustive: stopped at its cap of {} executions", c.runs)
                              : std::string("not exhaustive"),
                   whose);
        ++uncovered;
      }
      if (r.last) {
        last = std::move(r.last);
        last_layer = layer;
      }
      continue;
    }
    const Execution& x = *r.failure;
    fmt::print(out, "  FAILED     layer {}: {}\n", layer, x.verdict.name());
    if (r.found_by != explore.strategy(so)->Describe()) {
      fmt::print(out, "  found by   {}\n", r.found_by);
    }
    PrintVerdict(out, x);
    const std::vector<machine::CpuId> to_failure = layers::ToFailure(x);
    fmt::print(out, "  shrunk     {} steps to the failure with {} context switches (was {} steps; {} tries)\n",
               to_failure.size(), layers::Switches(to_failure), r.failure_original_steps,
               r.shrink_attempts);
    fmt::print(out, "  seed {}  log hash {}\n", c.seed, machine::FormatHash(x.machine->log().hash()));
    const std::string path = options.schedule_path.empty()
                                 ? DefaultSchedulePath(c, layer, x.verdict)
                                 : options.schedule_path;
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
    STRATA_RETURN_IF_ERROR(WriteScheduleFile(path, file));
    fmt::print(out, "  schedule   written to {}\n  replay     strata replay {}\n", path, path);
    STRATA_RETURN_IF_ERROR(WriteCheckTrace(
        options.trace_path, title, c, x,
        fmt::format("the failing execution of layer {}, shrunk", layer), out));
    return 1;
  }
  if (uncovered == 0) {
    fmt::print(out, "  result     every checked layer refines its spec (exhaustively)\n");
  } else {
    fmt::print(out, "  result     no violation in any checked layer ({} not explored exhaustively)\n",
               uncovered == 1 ? std::string("1 layer") : fmt::format("{} layers", uncovered));
  }
  if (last) {
    STRATA_RETURN_IF_ERROR(WriteCheckTrace(
        options.trace_path, title, c, *last,
        fmt::format("no failure: the last execution of layer {}", last_layer), out));
  }
  return 0;
}

absl::StatusOr<int> ReplayCheck(const ScheduleFile& file, const std::string& path,
                                const Catalog& catalog, const CheckOptions& check,
                                std::FILE* out) {
  const Config& c = file.config;
  STRATA_RETURN_IF_ERROR(CheckWritable(check.trace_path, "--trace"));
  std::unique_ptr<layers::LayerPair> pair = sched::MakePair(file.layer, c.stack, catalog);
  STRATA_CHECK(pair != nullptr, "unvalidated layer {}", file.layer);
  const machine::MachineOptions options = CheckMachineOf(c, catalog);
  Execution x = layers::ReplaySchedule(*pair, options, file.choices, path);
  if (!x.input.ok()) return x.input;
  fmt::print(out, "strata replay {}\n", path);
  fmt::print(out, "  layer      {}: {} refines {}?\n", file.layer, pair->lower(), pair->upper());
  fmt::print(out, "  machine    {} cpus, {} steps from the schedule\n", c.machine.cpus,
             file.choices.size());
  if (options.focus.valid()) {
    fmt::print(out, "  env        {}: the per-CPU machine of cpu {}\n", c.env, options.focus);
  }
  const machine::Log& log = x.machine->log();
  fmt::print(out, "  the run, step by step (lower log; => what the log map makes of it)\n");
  for (std::size_t i = 0; i < log.size(); ++i) {
    std::string line = log.RenderText(log[i]);
    std::string mapped;
    if (i < x.image.size() && x.image[i] >= 0) {
      const machine::Event& u = x.mapped[static_cast<std::size_t>(x.image[i])];
      if (u.kind != log[i].kind) mapped = fmt::format("  => {} {}", u.kind, log.object_name(u.object));
    } else if (i < x.image.size() && !log[i].marker() && (!x.verdict.event || i <= *x.verdict.event)) {
      mapped = "  (internal)";
    }
    const bool bad = x.verdict.event && *x.verdict.event == i;
    const std::string at = machine::FormatWhere(log.where(i));
    fmt::print(out, "    {}{}{}{}\n", line, mapped, at.empty() ? "" : "  @ " + at,
               bad ? "   <== first bad event" : "");
  }
  if (x.verdict.ok()) {
    fmt::print(out, "  verdict    refines\n");
  } else {
    PrintVerdict(out, x);
  }
  const std::uint64_t hash = log.hash();
  fmt::print(out, "  seed {}  log hash {}\n", c.seed, machine::FormatHash(hash));
  STRATA_RETURN_IF_ERROR(WriteCheckTrace(check.trace_path, fmt::format("strata replay {}", path),
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
    fmt::print(out,
               "  replay     DIVERGED: recorded {} with log hash {}, replay gave {} with {} "
               "(nondeterminism)\n",
               file.verdict, machine::FormatHash(file.log_hash), x.verdict.name(),
               machine::FormatHash(hash));
    return 1;
  }
  fmt::print(out, "  replay     reproduced: {} with log hash {}\n", file.verdict,
             machine::FormatHash(hash));
  return x.verdict.ok() ? 0 : 1;
}

}  // namespace strata::boot
