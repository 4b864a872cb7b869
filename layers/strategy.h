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
  // random and pct: how many executions to make (the explorer's cap).
  std::uint64_t runs = UINT64_MAX;
  // pct: the steps over which change points are drawn; 0 = from the
  // measured length of the client's runs (MakePctStrategy).
  std::uint64_t pct_horizon = 0;
  int preemption_bound = -1;  // dfs: most preemptions per schedule; -1 = none
  Reduction reduction = Reduction::kDpor;  // dfs
  // dfs: the cpus are interchangeable (LayerPair::interchangeable): of the
  // schedules that differ only by a renaming of the cpus, one is run (the
  // one whose cpus start, each with its first step on an object not its
  // own (Machine::NewWord's `mine`), in the order of their ids).
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
  // What an exhaustive strategy limits its space to, beyond the F-fair
  // schedules of the client ("at most 2 preemptions": the schedules with
  // no more than that), or "" for no limit. Covering a bounded space is no
  // proof of refinement.
  virtual std::string bound() const { return ""; }
  // True if it runs one schedule of each class of schedules that differ
  // only in the order of independent steps (a partial-order reduction).
  // What the order of independent steps changes is then seen in one
  // schedule per class only: a call's wait counts every step, of every
  // cpu, between its call and its return.
  virtual bool reduced() const { return false; }
  // Executions and branches the strategy pruned (dfs: by sleep sets, and
  // wakeup branches DPOR found impossible when it followed them).
  virtual std::uint64_t skipped() const { return 0; }
  // An exhaustive strategy that reduces its space (reduced) assumes that
  // any enabled cpu may run at a step; where the fairness guard ran the cpu
  // it owed a turn instead, the orders of steps the reduction would have
  // tried there, and those its sleep sets stand for, may be missed. How
  // often that happened (dfs: a race reversal or a wakeup branch that
  // needed another cpu at a step the guard chose; under sleep sets, a
  // step the guard chose where another cpu could have run). Nonzero: its
  // space is covered only as far as the guard let it reorder.
  virtual std::uint64_t guard_cuts() const { return 0; }
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

  // Parallel exploration (ExploreOptions::jobs; layers/explorer.cc). The
  // explorer takes every execution in this strategy's own order, whatever
  // thread made it, so the result does not depend on the number of threads.
  //
  // Between executions, when a host thread is idle, the explorer asks for a
  // part: Split returns a strategy that makes some of the executions this
  // one has not made yet, exactly as this one would and in its order
  // (numbered from *first: its Next gets *first, *first + 1, ...), and
  // marks them given away as part `id`; nullptr if none is worth giving
  // (the default: a strategy that cannot split runs on one thread).
  virtual std::unique_ptr<Strategy> Split(std::uint64_t id, std::uint64_t* first) {
    (void)id;
    (void)first;
    return nullptr;
  }
  // After Advance (or Join) returned true: the part whose executions come
  // next, if they were given away. The explorer then calls Fits, and Join
  // or Reclaim, before anything else.
  virtual std::optional<std::uint64_t> Joining() const { return std::nullopt; }
  // True if `part` (the one Joining names) still makes exactly the
  // executions that come next. A dfs tree may have grown under the branch it
  // gave away since the split; then not. Reads only what the part was made
  // with: the part may be running on another thread meanwhile.
  virtual bool Fits(const Strategy& part) const {
    (void)part;
    return false;
  }
  // The part Joining names made all its executions (Advance returned false
  // on it) and the explorer took them: this strategy goes on after them.
  // Returns what Advance would. Precondition: Fits(part).
  virtual bool Join(Strategy& part) {
    (void)part;
    return false;
  }
  // The part Joining names is not taken (it does not fit): this strategy
  // makes those executions itself, from its next one.
  virtual void Reclaim() {}
  // Parts given away that can no longer fit (a dfs branch grew since it was
  // given), each named once, so the explorer stops them early; Joining
  // never names them. By default none.
  virtual std::vector<std::uint64_t> Abandoned() { return {}; }

  // Sharded exploration (ExploreOptions::cluster, layers/shard.h): parts
  // travel between processes that run the same check. Pack: a part Split
  // returned, as bytes from which Unpack, called on a strategy made from
  // the same options in another process, makes the same part; nullopt if
  // the part cannot leave this process (the default: it runs on this
  // process's threads only).
  virtual std::optional<std::string> Pack() const { return std::nullopt; }
  // The part `bytes` holds (Pack), or null if they are not one.
  virtual std::unique_ptr<Strategy> Unpack(std::string_view bytes) const {
    (void)bytes;
    return nullptr;
  }
  // After a part ran to its end in another process: what its owner's Join
  // reads of it, as bytes (PackOutcome, on the part that ran), taken into
  // the copy of the part the owner holds (UnpackOutcome; false if they are
  // malformed). By default nothing.
  virtual std::string PackOutcome() const { return {}; }
  virtual bool UnpackOutcome(std::string_view bytes) { return bytes.empty(); }
};

// A strategy whose executions depend only on their index, made in blocks of
// kBlock (random, pct): any block can be made from its number alone, so a
// part is a range of whole blocks. It makes executions [0, runs); Split
// gives away the upper half of what is left.
class BlockStrategy : public Strategy {
 public:
  static constexpr std::uint64_t kBlock = 64;
  explicit BlockStrategy(std::uint64_t runs) : end_(runs) {}
  bool Advance() override;
  std::unique_ptr<Strategy> Split(std::uint64_t id, std::uint64_t* first) override;
  std::optional<std::uint64_t> Joining() const override;
  bool Fits(const Strategy& part) const override;
  bool Join(Strategy& part) override;
  void Reclaim() override;
  // A part is its range.
  std::optional<std::string> Pack() const override;
  std::unique_ptr<Strategy> Unpack(std::string_view bytes) const override;

 protected:
  // Called by Next(i): checks that i is the execution this strategy makes
  // next; true if it begins a block.
  bool Begin(std::uint64_t i);
  // A fresh strategy like this one (the same options), for a part.
  virtual std::unique_ptr<BlockStrategy> Copy() const = 0;

 private:
  std::uint64_t next_ = 0;  // the execution Next makes next
  std::uint64_t end_;       // this strategy makes [next_, end_) itself
  // Parts given away, each right after the one below it, the last given
  // (the lowest, starting at end_) last: a part's range is [its previous
  // end, end).
  struct Given {
    std::uint64_t id, end;
  };
  std::vector<Given> given_;
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>(const StrategyOptions& options)>;
using StrategyRegistry = Registry<StrategyFactory>;

// random: options.runs runs under random oracles, one per block of 64 runs
// (BlockStrategy), seeded from the seed and the block (its stream goes on
// from run to run within the block).
std::unique_ptr<Strategy> MakeRandomStrategy(const StrategyOptions& options);
// pct: run i under PCT (depth d, horizon k) seeded seed + i. With
// options.pct_horizon = 0, k is measured: the longest run so far in its
// block of 64 runs (Finished; BlockStrategy), so that change points fall
// inside the client's runs; the block's first run, with nothing measured
// yet, runs the priorities without change points.
std::unique_ptr<Strategy> MakePctStrategy(const StrategyOptions& options);
// dfs: every F-fair schedule, stateless, optionally preemption-bounded, with
// a reduction (Reduction). Splits off the subtrees of its pending branches.
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
