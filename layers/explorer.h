// The explorer: checks a layer pair over many executions and turns the first
// failure into a minimal schedule that replays it.
//
// The strategy (layers/strategy.h: random, pct, dfs, or a user's own) picks
// the oracle of each execution; for an exhaustive one `runs` is a cap.
// Every strategy runs under the machine's fairness guard, so only F-fair
// schedules are explored. Spin loops do not make dfs infinite: a waiting CPU
// blocks (Cpu::AwaitValue) and adds no steps until the word it watches changes.
//
// The first execution is run twice to check determinism (§5 step 6), and so
// is a failing one before it is reported. An execution on a per-CPU machine
// (DESIGN §2.2) whose first bad event is an environment cpu's is counted
// apart and the exploration goes on looking for a failure of the focused
// cpu; only if none comes is the first of them reported. A failure is shrunk: shorter
// prefixes and fewer context switches are tried, each kept only if the check
// still fails with the same verdict kind.
#ifndef STRATA_LAYERS_EXPLORER_H_
#define STRATA_LAYERS_EXPLORER_H_

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "layers/cluster.h"
#include "layers/layer.h"
#include "layers/refinement.h"
#include "layers/strategy.h"
#include "machine/machine.h"

namespace strata::layers {

struct ExploreOptions {
  StrategyFactory strategy;          // from the catalog (layers/strategy.h)
  std::uint64_t seed = 1;
  std::uint64_t runs = 1000;         // executions; for dfs a cap
  int pct_depth = 3;
  std::uint64_t pct_horizon = 0;     // 0: from the runs (StrategyOptions::pct_horizon)
  int preemption_bound = -1;         // dfs: most preemptions per schedule; -1 = none
  Reduction reduction = Reduction::kDpor;  // dfs (layers/strategy.h)
  // dfs: use the pair's symmetry if it declares one (LayerPair::interchangeable).
  bool symmetry = true;
  bool shrink = true;
  bool check = true;                 // false: plain runs, for measuring the cost of checking
  bool keep_last = false;            // keep the last execution (ExploreResult::last)
  // Where the progress line goes, or null: on a terminal (progress_lines
  // false) one line rewritten in place twice a second, else a line every
  // few seconds. It names `progress_label` (the layer).
  std::FILE* progress = nullptr;
  bool progress_lines = false;
  std::string progress_label;
  // Set (by a signal handler) to end the exploration early: the result then
  // says `interrupted`, and holds what was run so far (no failure is being
  // shrunk when it stops; a failure found is still shrunk and reported).
  const volatile std::sig_atomic_t* stop = nullptr;
  // Every execution checked to the end (not pruned) is passed here, with
  // its border crossings recorded when `witness_all` (Checking::kWitness).
  std::function<void(const Execution&)> each;
  bool witness_all = false;
  // Host threads that make and check executions, the caller's among them.
  // While one is idle, the others' strategies split off parts of their
  // executions for it (Strategy::Split: random and pct ranges of runs, dfs
  // the subtrees of branches still to explore); a strategy that cannot
  // split runs on the caller's thread alone. Every execution is taken in
  // the order one thread would make it, so the result (verdict, counts,
  // the executions run, the shrunk schedule) does not depend on the number
  // of threads, and `each` is called on the calling thread, in that order.
  // 1: no other thread.
  int jobs = 1;
  // Under mpirun: the processes that share the exploration (layers/
  // cluster.h, layers/shard.h), or null for this one alone. Each makes
  // executions on `jobs` threads of its own; parts of the exploration go
  // to a rank that is idle as they go to an idle thread, and only the
  // leader (rank 0) takes executions, so its result is the one of a single
  // process. Every rank must call Explore with the same pair and options,
  // in the same order; a follower's result is empty (ExploreResult::follower).
  Cluster* cluster = nullptr;
};

struct ExploreResult {
  std::uint64_t executions = 0;  // executions checked to the end
  std::uint64_t skipped = 0;     // dfs: executions and branches pruned by sleep sets, and
                                 // (dpor) wakeup branches that proved impossible; as executions,
                                 // the same for any number of threads and ranks (Counted::skipped)
  std::uint64_t events = 0;      // lower-log events over all executions
  // The log hashes of the executions checked, folded in the order they were
  // taken: like the executions, the same for any number of threads and ranks.
  std::uint64_t logs_hash = 0;
  bool exhausted = false;        // dfs: every schedule was covered (within `bound`)
  // What the strategy limited its space to (Strategy::bound), "" for none:
  // `exhausted` then says only that every schedule within it was covered.
  std::string bound;
  // dfs under a reduction: steps where the fairness guard ran another cpu
  // than the reduction needed (Strategy::guard_cuts); `exhausted` then
  // says only that the space was covered as far as the guard let it
  // reorder. Counted when `exhausted`, else 0; the same for any number of
  // threads and ranks.
  std::uint64_t guard_cuts = 0;
  bool interrupted = false;      // ExploreOptions::stop ended it before its runs were done
  bool symmetric = false;        // dfs ran one schedule per renaming of the cpus
  // The strategy ran one schedule per order of dependent steps
  // (Strategy::reduced): waits were checked against their bounds on those.
  bool reduced = false;
  int threads = 1;               // host threads that made and checked executions (jobs)
  int ranks = 1;                 // processes, each with `threads` threads (ExploreOptions::cluster)
  // On a follower rank: it made parts of the leader's exploration, and this
  // result holds nothing else; `dismissed`: the leader ended the command
  // instead of beginning this exploration (Cluster::dismissed).
  bool follower = false;
  bool dismissed = false;
  // On several threads or ranks: executions made on any of them (those taken, and
  // those of parts abandoned, or that ran past a failure or the cap),
  // parts taken back, and parts abandoned or refused because the dfs tree
  // grew under their branch after they were split off.
  std::uint64_t made = 0;
  std::uint64_t parts_joined = 0;
  std::uint64_t parts_refused = 0;
  std::uint64_t worst_wait = 0;  // the longest call seen, in steps
  std::uint64_t wait_bound = 0;  // and its bound
  double seconds = 0;
  // Per-CPU executions (a strategy's MachineFor set a focus) whose first
  // bad event is an environment cpu's (kInvalidEnvironment): not the
  // focused cpu's failures; they use up runs but are not counted as
  // executions, and the exploration goes on. The first one's verdict. When
  // no run of the focused cpu fails, the first of them is the failure.
  std::uint64_t left_rely = 0;
  std::optional<Verdict> first_left_rely;
  std::optional<Execution> failure;   // the shrunk failing execution
  std::string found_by;               // the strategy member that ran it (Strategy::Member)
  std::string environment;            // the environment it ran against, "" for none
  std::uint64_t failure_original_steps = 0;  // steps to the failure before shrinking
  std::uint64_t shrink_attempts = 0;
  // With ExploreOptions::keep_last and no failure: the last execution
  // checked to the end (a copy that owns its stacks), for a trace of a
  // passing check.
  std::optional<Execution> last;
};

// Explores `pair` on machines built from `options`.
ExploreResult Explore(const LayerPair& pair, machine::MachineOptions options,
                      const ExploreOptions& explore);

// Re-runs and checks one recorded schedule (strata replay). `source` names it
// in errors; Execution::input says if the schedule does not fit.
Execution ReplaySchedule(const LayerPair& pair, const machine::MachineOptions& options,
                         const std::vector<CpuId>& choices, const std::string& source,
                         Checking checking = Checking::kCheck);

// The steps of a failing execution up to and including its first bad event
// (the whole schedule for failures at the end of the run).
std::vector<CpuId> ToFailure(const Execution& x);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_EXPLORER_H_
