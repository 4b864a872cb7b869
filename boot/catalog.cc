#include "boot/catalog.h"

#include <fmt/format.h>

namespace strata::boot {
namespace {

OracleFactory OracleOf(machine::OracleKind kind) {
  return [kind](const machine::OracleOptions& o) {
    machine::OracleOptions with = o;
    with.kind = kind;
    return machine::MakeOracle(with);
  };
}

}  // namespace

Catalog BuiltinCatalog() {
  Catalog c;
  sched::AddBuiltinSched(c);
  AddBuiltinWorkloads(c.workloads);
  c.oracles.Add({"round-robin", "each runnable CPU in turn", false, "",
                 OracleOf(machine::OracleKind::kRoundRobin)});
  c.oracles.Add({"random", "a seeded random runnable CPU at each step", false, "",
                 OracleOf(machine::OracleKind::kRandom)});
  c.oracles.Add({"pct", "PCT: random priorities with d - 1 change points (pct_depth, pct_horizon)",
                 false, "", OracleOf(machine::OracleKind::kPct)});
  layers::AddBuiltinStrategies(c.strategies);
  c.environments.Add({"live", "the other CPUs run their own code under the oracle (the multicore "
                      "machine)", false, "", machine::LiveEnvironment()});
  c.environments.Add({"recorded", "the other CPUs replay their events of the config's multicore "
                      "run, at their recorded positions", false, "",
                      machine::RecordedEnvironmentContext()});
  c.environments.Add({"random", "check only: the other CPUs make seeded random moves within the "
                      "layer's rely (its check client through the module), in random bursts "
                      "between the focused CPU's steps", false, "", machine::RandomEnvironment()});
  c.environments.Add({"adversarial", "check only: the rely's moves chosen to hurt: values at the "
                      "edges, the environment or the focused CPU first in turn, what the others "
                      "hold held as long as F allows",
                      false, "", machine::AdversarialEnvironment()});
  return c;
}

std::optional<Workload> FindWorkload(const Catalog& catalog, std::string_view name) {
  if (const auto* w = catalog.workloads.Find(name)) {
    return Workload{.name = w->name,
                    .summary = w->summary,
                    .min_cpus = w->make.min_cpus,
                    .threaded = false,
                    .make = [start = w->make.start](machine::Machine& m, const WorkloadParams& p) {
                      return start(m, p.iterations);
                    }};
  }
  if (const auto* w = catalog.threads.Find(name)) {
    return Workload{.name = w->name,
                    .summary = w->summary,
                    .min_cpus = w->make.min_cpus,
                    .threaded = true,
                    .most_threads = w->make.most_threads,
                    .make = [program = w->make, &catalog](machine::Machine& m,
                                                          const WorkloadParams& p) {
                      return RunThreaded(program, catalog, m, p);
                    }};
  }
  return std::nullopt;
}

std::string WorkloadNames(const Catalog& catalog) {
  return catalog.workloads.Names() + ", " + catalog.threads.Names();
}

}  // namespace strata::boot
