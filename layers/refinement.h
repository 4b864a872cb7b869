// The refinement check of one execution (DESIGN.md §5, steps 1-5):
//   1. run the client on module ⊕ lower under an oracle, markers in the log;
//   2. map the lower log with f (drop a call's internal events, turn its
//      linearization point into the atomic upper event); the upper replay
//      must accept every prefix;
//   3. back-translate: run the client on the upper spec following the mapped
//      log; every CPU must see the same events and return values;
//   4. at every border crossing the relation R must hold;
//   5. every call returns within its liveness bound.
// Step 6 (the same schedule gives the same log) is the explorer's.
// The first problem by log position wins; a failure of the lower run itself
// (race, deadlock, ...) is reported when the mapped prefix was fine.
#ifndef STRATA_LAYERS_REFINEMENT_H_
#define STRATA_LAYERS_REFINEMENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "layers/layer.h"
#include "machine/buffer_cache.h"
#include "machine/machine.h"
#include "machine/oracle.h"
#include "machine/report.h"

namespace strata::layers {

// How one check ends: kRefines, a check verdict (kImpossibleUpperLog, ...),
// or the failure of the run it checked (kDeadlock, ...): one vocabulary
// with run outcomes (machine/report.h).
struct Verdict {
  machine::Outcome kind = machine::Outcome::kRefines;
  std::string message;                 // one line
  std::optional<std::uint64_t> event;  // position of the first bad event in the lower log
  // The CPUs whose steps are bad (the first bad event's, a call's that
  // returned the wrong value, a race's or a throw's), where the check knows
  // them; none for a failure of the whole run (a deadlock, a starvation).
  std::vector<CpuId> cpus;
  std::string lower_state;             // the replayed states at that point (after the walk:
                                       // at the end of the run, and labelled so)
  std::string upper_state;

  bool ok() const { return kind == machine::Outcome::kRefines; }
  // "refines", "impossible-upper-log", "deadlock", ...
  std::string name() const { return std::string(machine::OutcomeName(kind)); }
  // What shrinking must preserve.
  bool SameKind(const Verdict& o) const { return kind == o.kind; }
};

// A border crossing of a checked execution (a call or return marker of the
// pair's primitives), for the refinement witness: the replayed states just
// after it and the relation R there.
struct Crossing {
  std::uint64_t seq = 0;              // the marker's position in the lower log
  std::string lower_state;            // the module's replayed state
  std::string upper_state;            // the spec's, over the mapped log
  std::optional<std::string> broken;  // R: nullopt if it holds, else what is broken
};

// How much CheckExecution does.
enum class Checking {
  kRun,      // only the module side runs (what checking costs is measured against)
  kCheck,    // the whole check
  kWitness,  // the check, recording every border crossing and every push's contents
};

// One checked execution.
struct Execution {
  std::unique_ptr<Machine> machine;  // the lower run, with its log and schedule
  machine::RunReport report;         // how the lower run ended
  // An error if the oracle's input did not fit (a replayed schedule of
  // another run), or Cancelled if the oracle pruned the run (explorer).
  absl::Status input;
  // f(lower log); object ids are the lower machine's. Rebuilt on every
  // execution, so its buffer comes from the host thread's cache.
  std::vector<Event, machine::BufferAllocator<Event>> mapped;
  std::vector<std::int64_t> image;  // per lower event: index in `mapped`, or -1 if dropped
  // Checking::kWitness: up to the first bad event (for a verdict found
  // after the walk, a return mismatch, up to the end of the run).
  std::vector<Crossing> crossings;
  Verdict verdict;
  // The longest call, in machine steps, and its bound; for a starvation,
  // the call that went over its bound.
  std::uint64_t worst_wait = 0;
  std::uint64_t wait_bound = 0;
};

// The mapped logs whose back-translation (step 3) passed, so that an
// execution with one of them skips its spec run. Sound because the spec
// run is a function of the pair, the machine options (F aside: the spec run
// does not judge fairness), the client seed and the replayed choices, which
// the mapped log gives; and whether it passes, of that run and the mapped
// log. So a log is remembered with its options, its lower log's object
// names and its client seed (unless the pair is not seeded(): then
// executions with different seeds share it), and logs are compared whole,
// not by hash. A failed back-translation is never remembered: a failure
// always comes from a spec run. One memo per host thread and pair; not for
// per-CPU machines (options.focus). Random and pct draw a new client seed
// per execution, so only an unseeded pair's logs repeat there; dfs runs
// one seed. The memo holds at most `max_events` events (later logs are not
// remembered), and turns itself off when under 1 in 8 of its first 1024
// lookups find their log (every mapped log is new in an exhaustive search
// of distinct upper orders). Either changes only the speed.
class SpecRunMemo {
 public:
  explicit SpecRunMemo(std::size_t max_events = std::size_t{1} << 15) : max_events_(max_events) {}

  // True if x's mapped log passed step 3 before, under the same options.
  // Precondition: x's walk passed (steps 2, 4 and 5).
  bool Passed(const LayerPair& pair, const machine::MachineOptions& options, const Execution& x);
  // Remembers x's mapped log, whose back-translation just passed.
  void Add(const LayerPair& pair, const machine::MachineOptions& options, const Execution& x);

  std::uint64_t hits() const { return hits_; }
  std::uint64_t lookups() const { return lookups_; }

 private:
  static std::uint64_t Key(const Execution& x);
  // Whether x was made by the pair, options and objects of the logs held.
  bool SameSetUp(const LayerPair& pair, const machine::MachineOptions& options, const Execution& x) const;

  std::size_t max_events_;
  const LayerPair* pair_ = nullptr;
  machine::MachineOptions options_;
  std::vector<std::string> names_;
  std::vector<Event> events_;  // the remembered logs, one after the other
  struct Span {
    std::size_t first = 0, size = 0;
  };
  absl::flat_hash_map<std::uint64_t, Span> logs_;  // by Key
  std::uint64_t hits_ = 0, lookups_ = 0;
  bool on_ = true;
  // The key Passed computed last, and of which execution, for Add.
  const Execution* keyed_ = nullptr;
  const Event* keyed_events_ = nullptr;
  std::uint64_t key_ = 0;
};

// Runs and checks one execution of `pair` under `oracle`. On a per-CPU
// machine (options.focus), a failure whose bad steps are only environment
// CPUs' (Verdict::cpus) is kInvalidEnvironment, its message naming the cpu
// and the failure; one that names no cpu stays what it is. `checking` says
// how much is done. With a `memo`, a mapped log it holds skips the spec run
// (step 3), and one whose spec run passes is added to it.
Execution CheckExecution(const LayerPair& pair, const machine::MachineOptions& options,
                         machine::Oracle& oracle, Checking checking = Checking::kCheck,
                         SpecRunMemo* memo = nullptr);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_REFINEMENT_H_
