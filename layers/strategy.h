// Exploration strategies: which executions the explorer runs. Each is one
// small class behind one interface, chosen by name from the catalog's
// strategy registry (random.cc, pct.cc, dfs.cc); the explorer never switches
// on which one it runs.
#ifndef STRATA_LAYERS_STRATEGY_H_
#define STRATA_LAYERS_STRATEGY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "layers/registry.h"
#include "machine/environment.h"
#include "machine/machine.h"
#include "machine/oracle.h"

namespace strata::layers {

// An environment context a per-CPU check may run against, by its catalog
// name (machine/environment.h).
struct NamedEnvironment {
  std::string name;  // "random"
  machine::CheckEnvironment env;
};

// How dfs cuts down the schedules it runs (layers/dfs.cc): none, sleep
// sets, or optimal DPOR (the default; with a preemption bound dfs uses
// sleep sets, as DPOR's race reversals assume every schedule may be run).
enum class Reduction { kNone, kSleep, kDpor };
// "none", "sleep", "dpor".
std::string_view ReductionName(Reduction r);
std::optional<Reduction> ParseReduction(std::string_view name);

// What a strategy is made from (the check's options).
struct StrategyOptions {
  int cpus = 1;
  std::uint64_t seed = 1;
  int pct_depth = 3;
  // pct: the steps over which change points are drawn; 0 = from the
  // measured length of the client's runs (MakePctStrategy).
  std::uint64_t pct_horizon = 0;
  int preemption_bound = -1;  // dfs: most preemptions per schedule; -1 = none
  Reduction reduction = Reduction::kDpor;  // dfs
  // dfs: the cpus are interchangeable (LayerPair::interchangeable): of the
  // schedules that differ only by a renaming of the cpus, one is run (the
  // one whose cpus take their first steps in the order of their ids).
  bool symmetric = false;
  // portfolio: the environment contexts the layer allows per-CPU checks
  // against (none for a layer without a rely, or one CPU).
  std::vector<NamedEnvironment> environments;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // The oracle that runs execution `i` (0, 1, ...). It belongs to the
  // strategy and stays valid until the next call. An oracle may prune its
  // execution: Pick returns none and error() is Cancelled.
  virtual machine::Oracle& Next(std::uint64_t i) = 0;
  // After each execution that Next's oracle ran, pruned or not, before
  // Advance: the shared steps it took (its schedule's length). A strategy
  // that fits its executions to the client's runs measures them here (pct's
  // horizon); by default nothing. A wrapper passes it to the strategy that
  // made the execution.
  virtual void Finished(std::uint64_t steps) { (void)steps; }
  // After each execution, pruned or not. False: every execution has been
  // run (an exhaustive strategy covered its whole space).
  virtual bool Advance() { return true; }
  // True if Advance returning false means the whole space was covered.
  virtual bool exhaustive() const { return false; }
  // Executions and branches the strategy pruned (dfs: by sleep sets, and
  // wakeup branches DPOR found impossible when it followed them).
  virtual std::uint64_t skipped() const { return 0; }
  // For the progress line: an estimate of the fraction of its space an
  // exhaustive strategy has covered (from 0 to 1), or nullopt for none.
  virtual std::optional<double> covered() const { return std::nullopt; }
  // "random (seed 1)", "pct (depth 3, horizon 100)", "dfs (sleep sets)";
  // for pct with a measured horizon "pct (depth 3, horizon from the run: 42
  // steps)", the horizon of the execution Next made last.
  virtual std::string Describe() const = 0;

  // The machine of the execution Next just returned the oracle of, from
  // the check's `base` (whose client_seed is that execution's): by default
  // `base`. An exhaustive strategy keeps one client (base.client_seed is
  // the check's seed then); a per-CPU member sets the focus and the draws.
  virtual machine::MachineOptions MachineFor(const machine::MachineOptions& base) const {
    return base;
  }
  // Who made that execution: a portfolio's member; by default Describe().
  virtual std::string Member() const { return Describe(); }
  // The environment context it ran against ("random"), or "" for none
  // (every CPU live).
  virtual std::string Environment() const { return ""; }
  // True if it runs executions against StrategyOptions::environments
  // itself (the portfolio), so it is not wrapped in one (WithEnvironment).
  virtual bool runs_environments() const { return false; }
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>(const StrategyOptions& options)>;
using StrategyRegistry = Registry<StrategyFactory>;

// random: N runs under one random oracle (its stream goes on from run to run).
std::unique_ptr<Strategy> MakeRandomStrategy(const StrategyOptions& options);
// pct: run i under PCT (depth d, horizon k) seeded seed + i. With
// options.pct_horizon = 0, k is measured: the longest run so far (Finished),
// so that change points fall inside the client's runs; the first run, with
// nothing measured yet, runs the priorities without change points.
std::unique_ptr<Strategy> MakePctStrategy(const StrategyOptions& options);
// dfs: every F-fair schedule, stateless, optionally preemption-bounded, with
// sleep-set reduction (layers/explorer.h).
std::unique_ptr<Strategy> MakeDfsStrategy(const StrategyOptions& options);

// Runs `inner`'s executions as per-CPU checks against `env`: the focused
// CPU is `focus`, or, when none is given, cpu i mod cpus in execution i
// (cpu 0 throughout for an exhaustive `inner`, whose executions share one
// machine). Precondition: `inner` is not exhaustive if env.schedule is set
// (the schedule then makes choices the exhaustive tree does not see).
std::unique_ptr<Strategy> WithEnvironment(std::unique_ptr<Strategy> inner, NamedEnvironment env,
                                          machine::CpuId focus, int cpus);

// portfolio: shares the runs between random, pct at depths 2, 3 and 4, dfs
// bounded to 2 preemptions (until it has covered its space) and a random
// run against each of options.environments, in turn; Member() names who ran
// each execution.
std::unique_ptr<Strategy> MakePortfolioStrategy(const StrategyOptions& options);

// Adds random, pct, dfs and portfolio.
void AddBuiltinStrategies(StrategyRegistry& strategies);
// A registry holding just the built-in strategies (for code without a
// catalog: tests, the bench).
StrategyRegistry BuiltinStrategies();
// The built-in strategy called `name`. Precondition: it exists.
StrategyFactory BuiltinStrategy(const std::string& name);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_STRATEGY_H_
