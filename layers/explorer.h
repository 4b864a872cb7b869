// The explorer: checks a layer pair over many executions and turns the first
// failure into a minimal schedule that replays it.
//
// Strategies:
//   random  N runs under one random oracle seeded `seed` (its stream goes on
//           from run to run);
//   pct     N runs, run i under PCT (depth d) seeded seed+i;
//   dfs     every schedule (stateless: each execution re-runs from the start
//           along a prefix), optionally preemption-bounded, with sleep-set
//           reduction: after exploring CPU p at a node, p sleeps in the
//           sibling subtrees until a step dependent on p's pending step runs,
//           so two schedules that differ only in the order of independent
//           steps are explored once. Steps are dependent when they touch the
//           same object and are not both reads. N caps the executions.
// Every strategy runs under the machine's fairness guard, so only F-fair
// schedules are explored. Spin loops do not make dfs infinite: a waiting CPU
// blocks (Cpu::AwaitValue) and adds no steps until the word it watches changes.
//
// The first execution is run twice to check determinism (§5 step 6), and so
// is a failing one before it is reported. A failure is shrunk: shorter
// prefixes and fewer context switches are tried, each kept only if the check
// still fails with the same verdict kind.
#ifndef STRATA_LAYERS_EXPLORER_H_
#define STRATA_LAYERS_EXPLORER_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "layers/layer.h"
#include "layers/refinement.h"
#include "machine/machine.h"

namespace strata::layers {

enum class Strategy { kRandom, kPct, kDfs };
std::string_view StrategyName(Strategy s);
std::optional<Strategy> ParseStrategy(std::string_view name);

struct ExploreOptions {
  Strategy strategy = Strategy::kRandom;
  std::uint64_t seed = 1;
  std::uint64_t runs = 1000;         // executions; for dfs a cap
  int pct_depth = 3;
  std::uint64_t pct_horizon = 100;
  int preemption_bound = -1;         // dfs: most preemptions per schedule; -1 = none
  bool reduction = true;             // dfs: sleep sets
  bool shrink = true;
  bool check = true;                 // false: plain runs, for measuring the cost of checking
  std::FILE* progress = nullptr;     // where a progress line goes (a terminal), or null
};

struct ExploreResult {
  std::uint64_t executions = 0;  // executions checked to the end
  std::uint64_t skipped = 0;     // dfs: executions and branches pruned by sleep sets
  std::uint64_t events = 0;      // lower-log events over all executions
  bool exhausted = false;        // dfs: every schedule was covered
  std::uint64_t worst_wait = 0;  // the longest call seen, in steps
  std::uint64_t wait_bound = 0;  // and its bound
  double seconds = 0;
  std::optional<Execution> failure;   // the shrunk failing execution
  std::uint64_t failure_original_steps = 0;  // steps to the failure before shrinking
  std::uint64_t shrink_attempts = 0;
};

// Explores `pair` on machines built from `options`.
ExploreResult Explore(const LayerPair& pair, machine::MachineOptions options,
                      const ExploreOptions& explore);

// Re-runs and checks one recorded schedule (strata replay). `source` names it
// in errors; Execution::input says if the schedule does not fit.
Execution ReplaySchedule(const LayerPair& pair, const machine::MachineOptions& options,
                         const std::vector<CpuId>& choices, const std::string& source);

// Context switches in a schedule (what shrinking minimises after length).
std::uint64_t Switches(std::span<const CpuId> schedule);
// The steps of a failing execution up to and including its first bad event
// (the whole schedule for failures at the end of the run).
std::vector<CpuId> ToFailure(const Execution& x);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_EXPLORER_H_
