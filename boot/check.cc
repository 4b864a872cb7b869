#include "boot/check.h"

#include <unistd.h>

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sched/stack.h"
#include "sched/workloads.h"
#include "layers/explorer.h"
#include "machine/check.h"
#include "machine/log.h"

namespace strata::boot {
namespace {

using layers::Execution;

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

void PrintVerdict(std::FILE* out, const Execution& x) {
  const layers::Verdict& v = x.verdict;
  const machine::Log& log = x.machine->log();
  fmt::print(out, "  verdict    {}: {}\n", v.name(), v.message);
  if (v.event && *v.event < log.size()) {
    fmt::print(out, "  first bad  {}\n", log.RenderText(log[*v.event]));
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
  fmt::print(out, "strata check {}\n", c.source);
  fmt::print(out, "  machine    {} cpus, fairness bound {}\n", c.machine.cpus,
             c.machine.fairness != 0 ? c.machine.fairness : 8 * static_cast<std::uint64_t>(c.machine.cpus));
  const layers::StrategyOptions so{.cpus = c.machine.cpus,
                                   .seed = c.seed,
                                   .pct_depth = c.pct_depth,
                                   .pct_horizon = c.pct_horizon,
                                   .preemption_bound = c.preemption_bound,
                                   .reduction = c.reduction};
  const bool exhaustive = strategy->make(so)->exhaustive();
  fmt::print(out, "  strategy   {}, {} {}; seed {}\n", strategy->make(so)->Describe(), c.runs,
             exhaustive ? "executions at most" : "runs", c.seed);

  const layers::ExploreOptions explore{.strategy = strategy->make,
                                       .seed = c.seed,
                                       .runs = c.runs,
                                       .pct_depth = c.pct_depth,
                                       .pct_horizon = c.pct_horizon,
                                       .preemption_bound = c.preemption_bound,
                                       .reduction = c.reduction,
                                       .shrink = c.shrink,
                                       .progress = progress ? stderr : nullptr};
  for (const std::string& layer : LayersToCheck(c)) {
    if (Implementation(c, layer) == "spec") {
      fmt::print(out, "  {:<10} runs as its spec: nothing to check\n", layer);
      continue;
    }
    std::unique_ptr<layers::LayerPair> pair = sched::MakePair(layer, c.stack, catalog);
    STRATA_CHECK(pair != nullptr, "unvalidated layer {}", layer);
    layers::ExploreResult r = layers::Explore(*pair, c.machine, explore);
    fmt::print(out, "  {:<10} {} refines {}?\n", layer, pair->lower(), pair->upper());
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
    if (!r.failure) {
      fmt::print(out, "             verdict: refines\n");
      continue;
    }
    const Execution& x = *r.failure;
    fmt::print(out, "  FAILED     layer {}: {}\n", layer, x.verdict.name());
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
    ScheduleFile file{.config = recorded,
                      .layer = layer,
                      .verdict = x.verdict.name(),
                      .log_hash = x.machine->log().hash(),
                      .choices = {x.machine->schedule().begin(), x.machine->schedule().end()}};
    STRATA_RETURN_IF_ERROR(WriteScheduleFile(path, file));
    fmt::print(out, "  schedule   written to {}\n  replay     strata replay {}\n", path, path);
    return 1;
  }
  fmt::print(out, "  result     every checked layer refines its spec\n");
  return 0;
}

absl::StatusOr<int> ReplayCheck(const ScheduleFile& file, const std::string& path,
                                const Catalog& catalog, std::FILE* out) {
  const Config& c = file.config;
  std::unique_ptr<layers::LayerPair> pair = sched::MakePair(file.layer, c.stack, catalog);
  STRATA_CHECK(pair != nullptr, "unvalidated layer {}", file.layer);
  Execution x = layers::ReplaySchedule(*pair, c.machine, file.choices, path);
  if (!x.input.ok()) return x.input;
  fmt::print(out, "strata replay {}\n", path);
  fmt::print(out, "  layer      {}: {} refines {}?\n", file.layer, pair->lower(), pair->upper());
  fmt::print(out, "  machine    {} cpus, {} steps from the schedule\n", c.machine.cpus,
             file.choices.size());
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
    fmt::print(out, "    {}{}{}\n", line, mapped, bad ? "   <== first bad event" : "");
  }
  if (x.verdict.ok()) {
    fmt::print(out, "  verdict    refines\n");
  } else {
    PrintVerdict(out, x);
  }
  const std::uint64_t hash = log.hash();
  fmt::print(out, "  seed {}  log hash {}\n", c.seed, machine::FormatHash(hash));
  if (file.verdict == "nondeterminism") {
    // One run cannot show it: the same schedule again must give another log.
    Execution again = layers::ReplaySchedule(*pair, c.machine, file.choices, path);
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
