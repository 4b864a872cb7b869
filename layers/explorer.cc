#include "layers/explorer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "layers/crew.h"
#include "layers/shard.h"
#include "layers/tally.h"
#include "layers/wire.h"
#include "machine/check.h"
#include "machine/rng.h"
#include "machine/shrink.h"
#include "machine/stack_pool.h"

namespace strata::layers {
namespace {

using Clock = std::chrono::steady_clock;
using machine::Decision;
using machine::Oracle;

std::vector<CpuId> ScheduleOf(const Execution& x) {
  return {x.machine->schedule().begin(), x.machine->schedule().end()};
}

// §5 step 6: the same schedule must give the same log.
std::optional<Verdict> CheckDeterminism(const LayerPair& pair,
                                        const machine::MachineOptions& options,
                                        const Execution& x) {
  Execution again = ReplaySchedule(pair, options, ScheduleOf(x), "the first run's schedule");
  const std::uint64_t first = x.machine->log().hash();
  if (!again.input.ok() || again.machine->log().hash() != first) {
    return Verdict{.kind = machine::Outcome::kNondeterminism,
                   .message = again.input.ok()
                                  ? fmt::format("the same schedule gave log hash {} then {}",
                                                machine::FormatHash(first),
                                                machine::FormatHash(again.machine->log().hash()))
                                  : fmt::format("the same schedule could not be replayed: {}",
                                                std::string(again.input.message()))};
  }
  return std::nullopt;
}

// Shrinks a failing execution (machine/shrink.h); returns the smallest one found.
Execution Shrink(const LayerPair& pair, const machine::MachineOptions& options, Execution best,
                 std::uint64_t* attempts) {
  const Verdict target = best.verdict;
  auto rerun = [&](std::vector<CpuId> guide) -> std::optional<Execution> {
    machine::GuidedOracle oracle(std::move(guide));
    Execution x = CheckExecution(pair, options, oracle);
    if (!x.input.ok() || !x.verdict.SameKind(target)) return std::nullopt;
    return x;
  };
  return machine::Shrink(std::move(best), rerun, ToFailure, machine::ShrinkOptions{}, attempts);
}

// The options of an execution's machine as a rank sends them (its stacks
// are the receiver's own).
void PutRun(WireWriter& out, const machine::MachineOptions& o) {
  out.I(o.cpus).U(o.stack_bytes).U(o.max_steps).U(o.fairness).U(o.client_seed).I(o.focus.value());
  out.U(static_cast<std::uint64_t>(o.environment_draws));
}
machine::MachineOptions GetRun(WireReader& in, machine::MachineOptions o) {
  o.cpus = static_cast<int>(in.I());
  o.stack_bytes = static_cast<std::size_t>(in.U());
  o.max_steps = in.U();
  o.fairness = in.U();
  o.client_seed = in.U();
  o.focus = CpuId(static_cast<CpuId::Rep>(in.I()));
  o.environment_draws = static_cast<machine::Draws>(in.U());
  STRATA_CHECK(in.ok() && o.cpus >= 1 && o.cpus <= machine::kMaxCpus && o.stack_bytes >= 16 * 1024 &&
                   o.environment_draws <= machine::Draws::kEdges &&
                   (!o.focus.valid() || o.focus.value() < o.cpus),
               "a malformed machine from another rank ({} cpus, {} bytes of stack)", o.cpus, o.stack_bytes);
  return o;
}

// "3m 20s", "42s".
std::string Duration(double seconds) {
  const auto s = static_cast<std::uint64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m {}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

class Progress {
 public:
  explicit Progress(const ExploreOptions& o)
      : out_(o.progress), lines_(o.progress_lines), label_(o.progress_label),
        start_(Clock::now()), last_(start_) {}
  // After each execution: `done` made of at most `runs`, of which the root
  // has taken `taken`; the strategy's estimate of the fraction of its space
  // done (as of its last execution) is asked only for a line.
  void Tick(std::uint64_t done, std::uint64_t taken, std::uint64_t runs, const Strategy& strategy) {
    if (out_ == nullptr || (++calls_ & 63) != 0) return;
    const auto now = Clock::now();
    if (now - last_ < (lines_ ? std::chrono::milliseconds(3000) : std::chrono::milliseconds(500))) {
      return;
    }
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    // Left: of the cap, or of the space when its estimate says sooner.
    double fraction = static_cast<double>(done) / static_cast<double>(std::max<std::uint64_t>(runs, 1));
    const char* to = "to the cap";
    std::string space;
    if (std::optional<double> covered = strategy.covered()) {
      // The estimate implies taken / covered executions in all; the other
      // threads made more than the root took, inside that space.
      if (*covered > 0 && taken > 0) *covered *= static_cast<double>(done) / static_cast<double>(taken);
      if (*covered >= 1) {
        space = ", more than the space estimate implies";
      } else {
        space = fmt::format(", ~{:.3g}% of the space (estimate)", 100 * *covered);
        if (*covered > fraction) {
          fraction = *covered;
          to = "to the end of the space";
        }
      }
    }
    const std::string left =
        fraction > 0 && fraction < 1
            ? fmt::format(", about {} left ({})", Duration(s * (1 - fraction) / fraction), to)
            : std::string();
    const std::string line =
        fmt::format("  {}{} of at most {} executions{}  {:.0f}/s  {} elapsed{}", label_.empty() ? "" : label_ + ": ",
                    done, runs, space, static_cast<double>(done) / s, Duration(s), left);
    if (lines_) {
      fmt::print(out_, "{}\n", line);
    } else {
      fmt::print(out_, "\r{:<{}}", line, width_);
      width_ = std::max(width_, line.size());
      shown_ = true;
    }
    std::fflush(out_);
  }
  ~Progress() {
    if (shown_) {
      fmt::print(out_, "\r{:{}}\r", "", width_);
      std::fflush(out_);
    }
  }

 private:
  std::FILE* out_;
  bool lines_;
  std::string label_;
  Clock::time_point start_, last_;
  std::uint64_t calls_ = 0;
  std::size_t width_ = 0;
  bool shown_ = false;
};

}  // namespace

std::vector<CpuId> ToFailure(const Execution& x) {
  std::vector<CpuId> s = ScheduleOf(x);
  if (!x.verdict.event) return s;
  std::size_t steps = 0;
  const machine::Log& log = x.machine->log();
  for (std::size_t i = 0; i <= *x.verdict.event && i < log.size(); ++i) steps += !log[i].marker();
  s.resize(std::min(s.size(), steps));
  return s;
}

Execution ReplaySchedule(const LayerPair& pair, const machine::MachineOptions& options,
                         const std::vector<CpuId>& choices, const std::string& source,
                         Checking checking) {
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kReplay,
                                     .cpus = options.cpus,
                                     .replay = choices,
                                     .replay_source = source});
  return CheckExecution(pair, options, *oracle, checking);
}

ExploreResult Explore(const LayerPair& pair, machine::MachineOptions options,
                      const ExploreOptions& explore_options) {
  // A cluster of one is this process alone.
  Cluster* const cluster =
      explore_options.cluster != nullptr && explore_options.cluster->size() > 1 ? explore_options.cluster : nullptr;
  const bool follower = cluster != nullptr && !cluster->leader();
  ExploreOptions explore = explore_options;
  if (follower) {
    // The leader's progress line is the one; the leader decides when the
    // exploration stops (mpirun sends every rank its signals).
    explore.progress = nullptr;
    explore.stop = nullptr;
  }
  STRATA_CHECK(explore.strategy != nullptr, "explore without a strategy");
  const StrategyOptions strategy_options{.cpus = options.cpus,
                                         .seed = explore.seed,
                                         .pct_depth = explore.pct_depth,
                                         .runs = explore.runs,
                                         .pct_horizon = explore.pct_horizon,
                                         .preemption_bound = explore.preemption_bound,
                                         .reduction = explore.reduction,
                                         .symmetric = explore.symmetry && pair.interchangeable()};
  if (cluster != nullptr) {
    // What every rank must explore alike: a rank whose command or files
    // differ would make other executions, or keep others.
    const std::string what = fmt::format(
        "{} refines {}; {}; seed {}, runs {}, {} cpus, fairness {}, {} steps, stacks {}; check {}, "
        "witnesses {}, each {}, last {}",
        pair.lower(), pair.upper(), explore.strategy(strategy_options)->Describe(),
        explore.seed, explore.runs, options.cpus, options.fairness, options.max_steps, options.stack_bytes,
        explore.check, explore.witness_all, explore.each != nullptr, explore.keep_last);
    if (!Begin(*cluster, what)) return ExploreResult{.follower = true, .dismissed = true};
  }
  // Many machines run in a row: their stack-overflow handler is checked
  // once, here, not once per run.
  machine::OverflowHandlerScope overflow_handler;
  // The caller's pool if it fits (stacks are then reused across calls too),
  // else one for this call.
  std::optional<machine::StackPool> own_stacks;
  if (options.stacks == nullptr || options.stacks->stack_bytes() != options.stack_bytes) {
    options.stacks = &own_stacks.emplace(options.stack_bytes);
  }
  // Each host thread takes stacks from a pool of its own (a pool shared by
  // busy threads would be a contended lock several times per execution);
  // thread 0, the caller's, from the one above. They outlive every machine
  // made here, kept ones included.
  std::deque<machine::StackPool> helper_pools;
  std::vector<machine::StackPool*> pools{options.stacks};
  for (int t = 1; t < explore.jobs; ++t) pools.push_back(&helper_pools.emplace_back(options.stack_bytes));
  // And its own memo of spec runs that passed, where logs can repeat: one
  // client seed for every execution, or a pair whose runs never read it.
  std::deque<SpecRunMemo> memos(static_cast<std::size_t>(std::max(explore.jobs, 1)));
  ExploreResult result;
  Tally tally;  // of the executions taken; into result at the end
  const auto start = Clock::now();
  Progress progress(explore);
  std::unique_ptr<Strategy> strategy = explore.strategy(strategy_options);
  const bool exhaustive = strategy->exhaustive();
  result.symmetric = exhaustive && explore.symmetry && pair.interchangeable();
  result.bound = strategy->bound();
  result.reduced = strategy->reduced();

  // Each execution's client seed (MachineOptions::client_seed): an
  // exhaustive strategy explores the schedules of one client, the others
  // draw a new client for every execution.
  auto options_of = [&](std::uint64_t i) {
    machine::MachineOptions run = options;
    run.client_seed = exhaustive ? explore.seed : machine::MixSeed(explore.seed ^ machine::MixSeed(i));
    return run;
  };
  machine::MachineOptions failing = options;
  // A failure, checked for determinism and shrunk, becomes the result's.
  auto fail = [&](Execution x, const machine::MachineOptions& run, std::string member,
                  std::string environment) {
    result.failure_original_steps = ToFailure(x).size();
    if (x.verdict.kind != machine::Outcome::kNondeterminism) {
      if (std::optional<Verdict> v = CheckDeterminism(pair, run, x)) x.verdict = *v;
    }
    if (explore.shrink && x.verdict.kind != machine::Outcome::kNondeterminism) {
      x = Shrink(pair, run, std::move(x), &result.shrink_attempts);
    }
    result.failure = std::move(x);
    result.found_by = std::move(member);
    result.environment = std::move(environment);
    failing = run;
  };
  // The first run the environment failed first, reported if no run of the
  // focused cpu fails.
  struct LeftRely {
    Execution x;
    machine::MachineOptions run;
    std::string member, environment;
  };
  std::optional<LeftRely> left_rely;
  // The last execution checked to the end, as a schedule and its machine.
  std::optional<std::pair<std::vector<CpuId>, machine::MachineOptions>> last;
  const Checking checking = !explore.check       ? Checking::kRun
                            : explore.witness_all ? Checking::kWitness
                                                  : Checking::kCheck;

  // Sharded: makes the parts other ranks give this one from their bytes
  // (Strategy::Unpack), on the post office's thread; never runs itself.
  const std::unique_ptr<Strategy> unpacker =
      cluster != nullptr ? explore.strategy(strategy_options) : nullptr;

  // An execution as the explorer takes it: all of it where someone looks
  // at it (a failure, a part's first left-rely run and first run that
  // counts, every run for `each`); of the others only what the result
  // counts, the rest freed by the thread that made it (memory freed on
  // another thread costs a lock of the allocator's).
  struct Kept {
    Execution x;
    std::string member, environment;
  };
  // A kept execution that travels to another rank: what makes it again
  // there (its schedule on its machine), made by `rank`, whose log hash the
  // run made again must have.
  struct Recipe {
    std::vector<CpuId> schedule;
    std::uint64_t hash = 0;
    std::string member, environment;
    int rank = 0;
  };
  // What an execution keeps beyond its counts, where it is kept or
  // keep_last needs it.
  struct Whole {
    machine::MachineOptions run;   // its stacks: the caller's pool
    std::unique_ptr<Kept> kept;
    std::optional<Recipe> recipe;  // in place of `kept`, in a part that travels
    std::vector<CpuId> schedule;   // keep_last
  };
  // Most executions of a part are plain: only counted (no whole, not
  // pruned, not left, no failure). A part keeps runs of them as blocks
  // (CountedBlock): its executions wait until the root reaches it. Few
  // blocks also mean few frees on another thread than the one that made
  // them (the thread that takes a part frees its list), each a lock of the
  // allocator's.
  struct Made {
    std::unique_ptr<Whole> whole;
    std::unique_ptr<CountedBlock> plain;  // in place of this entry: a block of plain executions
    std::uint64_t events = 0, worst_wait = 0, wait_bound = 0, log_hash = 0;
    std::uint64_t skipped = 0;  // Counted::skipped, in the part that holds it
    bool pruned = false;  // cut short by the strategy's oracle
    bool left = false;    // a per-CPU run whose first bad event is the environment's
    bool fails = false;   // the check failed: the exploration ends here
  };
  // A part of the exploration: the executions one strategy makes, on one
  // thread at a time (Strategy::Split). The root part is the strategy
  // itself; the others are split off a part's strategy when a host thread
  // is idle, queued on the crew, and taken back (their executions, in the
  // order of the strategy they came from) when that strategy reaches them.
  struct Part {
    std::unique_ptr<Strategy> strategy;
    std::uint64_t first = 0;   // Next's index of its first execution
    Part* owner = nullptr;     // null for the root
    std::deque<Made> made;     // its executions and its joined parts', in order
    std::uint64_t counted = 0; // of them, not pruned (the cap counts these)
    // `counted`, published every 64 for the parts split off this one
    // (before_part): its executions so far all come before theirs.
    alignas(64) std::atomic<std::uint64_t> published{0};
    bool complete = false;     // it made all its executions
    bool failed = false;       // it ended at a failure
    bool interrupted = false;  // it ended at ExploreOptions::stop
    bool kept_first = false, kept_left = false;
    // Nobody will take it: stop. Read before every execution, by threads
    // other than the one that writes the fields around it: a line of its own.
    alignas(64) std::atomic<bool> dead{false};
    // Sharded: the rank it was given to, and what it made there (Done);
    // or, for a part given to this rank, by whom and their number for it.
    int elsewhere = -1;
    std::string outcome;
    int from = -1;
    std::uint64_t their_id = 0;
    // Given to this rank: executions before it, as far as its giver knew.
    std::uint64_t known_before = 0;
    // Given to this rank, or split off a part that was: its executions
    // will travel, so it keeps recipes, not machines (Made::recipe).
    bool travels = false;
  };
  auto counted = [](const Made& m) {
    return Counted{.events = m.events, .log_hash = m.log_hash, .worst_wait = m.worst_wait,
                   .wait_bound = m.wait_bound, .skipped = m.skipped};
  };
  // Sets what the part's strategy had skipped once past its last execution
  // (Counted::skipped): after the execution, after the Advance that
  // follows it, and after each part joined there.
  auto mark_skipped = [](std::deque<Made>& made, std::uint64_t skipped) {
    if (made.empty()) return;
    if (made.back().plain != nullptr) {
      made.back().plain->SetLastSkipped(skipped);
    } else {
      made.back().skipped = skipped;
    }
  };
  // Adds execution m to a part's list, into its last block if m is plain.
  auto append = [&](std::deque<Made>& made, Made&& m) {
    if (m.whole != nullptr || m.pruned || m.left || m.fails || !CountedBlock::Fits(counted(m))) {
      made.push_back(std::move(m));
      return;
    }
    if (made.empty() || made.back().plain == nullptr || made.back().plain->full()) {
      made.emplace_back().plain = std::make_unique<CountedBlock>();
    }
    made.back().plain->Add(counted(m));
  };
  Part root{.strategy = std::move(strategy)};
  std::mutex parts_mu;
  std::deque<Part> parts;  // by number; guarded by parts_mu (entries stay put)
  auto part_of = [&](std::uint64_t id) -> Part& {
    const std::lock_guard<std::mutex> lock(parts_mu);
    return parts[id];
  };
  auto dead = [](const Part& p) {
    for (const Part* q = &p; q != nullptr; q = q->owner) {
      if (q->dead.load(std::memory_order_relaxed)) return true;
    }
    return false;
  };
  auto stopped = [&] { return explore.stop != nullptr && *explore.stop != 0; };
  std::unique_ptr<Shard> shard;
  std::unique_ptr<Crew> crew;
  // Nobody will take part `id` back: it stops, here or where it runs.
  auto kill = [&](std::uint64_t id) {
    Part& q = part_of(id);
    q.dead.store(true, std::memory_order_relaxed);
    if (q.elsewhere >= 0) shard->Stop(q.elsewhere, id);
  };
  // Ends every part (the exploration ends, or `p` is stopped: of the
  // parts, those split off p): a thread waiting for a part given to
  // another rank wakes, sees its own part dead and stops too.
  bool ending = false;  // guarded by parts_mu: parts given to this rank from now on are dead
  auto below = [](const Part& q, const Part* p) {
    for (const Part* a = q.owner; a != nullptr; a = a->owner) {
      if (a == p) return true;
    }
    return false;
  };
  auto stop_parts = [&](const Part* p) {
    const std::lock_guard<std::mutex> lock(parts_mu);
    if (p == nullptr) ending = true;
    for (std::uint64_t id = 0; id < parts.size(); ++id) {
      Part& q = parts[id];
      if (p != nullptr && !below(q, p)) continue;
      if (p == nullptr) q.dead.store(true, std::memory_order_relaxed);
      if (q.elsewhere >= 0) crew->Finish(id);
    }
  };
  const std::thread::id main_thread = std::this_thread::get_id();
  std::atomic<std::uint64_t> made_anywhere{0}, parts_joined{0}, parts_refused{0};
  // For the progress line: executions that count made on this process's
  // threads, taken or not yet (each lane adds them 64 at a time). While the
  // root waits for a part, what it has taken stands still. Parts past the
  // cap and parts that are not taken back count too: at most the cap.
  std::atomic<std::uint64_t> counted_anywhere{0};
  // What the root has taken, published every 64 executions: a part's
  // executions all come after those in the order, so once the part has
  // made the cap minus these, no more of its executions can be taken.
  // (A dfs part otherwise went on to the whole cap: MCS 5 x 2 capped at
  // 300,000 took as long on 2 threads as on one.)
  alignas(64) std::atomic<std::uint64_t> root_taken{0};
  // Executions that count and come before every execution of part p in
  // the root's order, as far as is known here: what each part p was split
  // off (its owner, its owner's owner ...) has made so far, which was all
  // before the branch it gave away; plus what comes before the top of that
  // chain: what the root has taken (on a follower, the leader's root, as it
  // last said: a part that runs anywhere comes after it) or, for a part
  // given to this rank, what its giver knew, whichever is more (both count
  // executions before that part; the giver's bound holds forever, the
  // root's grows). A part stops once these and its own reach the cap.
  // (With only the root's, the parts split off a part went on to the whole
  // cap each: ticket 7 x 2 capped at 50,000 made all 135,135 executions on
  // 2 threads and took longer than on one; and a follower's parts did:
  // MCS 5 x 2 capped at 2,000,000 made 3,265,982 on mpirun -n 2.)
  auto before_part = [&](const Part& p) {
    const Part* top = &p;
    std::uint64_t before = 0;
    for (const Part* a = p.owner; a != nullptr && a != &root; a = a->owner) {
      before += a->published.load(std::memory_order_relaxed);
      top = a;
    }
    const std::uint64_t taken =
        follower ? shard->LeaderTaken() : root_taken.load(std::memory_order_relaxed);
    return before + std::max(taken, top->known_before);
  };
  // Made anywhere: on this process's threads, and on the other ranks as
  // they last said (a leader's progress line shows the whole cluster's).
  auto shown = [&](std::uint64_t taken) {
    const std::uint64_t elsewhere = shard != nullptr ? shard->FollowersCounted() : 0;
    return std::min(explore.runs,
                    std::max(taken, counted_anywhere.load(std::memory_order_relaxed) + elsewhere));
  };

  // Makes a recipe's execution again, on the root's thread.
  auto make_again = [&](Made& m) {
    Recipe& r = *m.whole->recipe;
    machine::MachineOptions on_thread = m.whole->run;
    on_thread.stacks = pools[0];
    Execution x = ReplaySchedule(pair, on_thread, r.schedule, fmt::format("a run of rank {}", r.rank), checking);
    if (!x.input.ok() || x.machine->log().hash() != r.hash) {
      // The ranks run the same binary on the same input: a run that
      // differs is a module that is not deterministic.
      x.verdict = Verdict{.kind = machine::Outcome::kNondeterminism,
                          .message = fmt::format("the same schedule gave log hash {} on rank {}, then {}",
                                                 machine::FormatHash(r.hash), r.rank,
                                                 machine::FormatHash(x.machine->log().hash()))};
      m.fails = !m.pruned && !m.left;
    }
    m.whole->kept = std::make_unique<Kept>(Kept{std::move(x), std::move(r.member), std::move(r.environment)});
    m.whole->recipe.reset();
  };
  // What the root has taken: executions, and per-CPU runs that left the rely.
  auto taken = [&] { return tally.executions + result.left_rely; };
  // Takes an execution of the root's order; false: it failed, stop.
  auto take = [&](Made& m) {
    if (m.whole != nullptr && m.whole->recipe) make_again(m);
    // Kept where it is looked at (Made::whole).
    auto kept = [&m]() -> Kept& {
      STRATA_CHECK(m.whole != nullptr && m.whole->kept != nullptr, "an execution looked at was not kept");
      return *m.whole->kept;
    };
    if (m.left) {
      if (result.left_rely++ == 0) {
        result.first_left_rely = kept().x.verdict;
        left_rely.emplace(
            LeftRely{std::move(kept().x), m.whole->run, std::move(kept().member), std::move(kept().environment)});
      }
    } else if (!m.pruned) {
      tally.Take(counted(m));
      if ((tally.executions & 63) == 0) root_taken.store(tally.executions, std::memory_order_relaxed);
      if (explore.each) explore.each(kept().x);
      if (explore.check && !m.fails && tally.executions == 1) {
        if (std::optional<Verdict> v = CheckDeterminism(pair, m.whole->run, kept().x)) {
          kept().x.verdict = *v;
          m.fails = true;
        }
      }
      if (m.fails) {
        fail(std::move(kept().x), m.whole->run, std::move(kept().member), std::move(kept().environment));
        return false;
      }
      if (explore.keep_last) last.emplace(std::move(m.whole->schedule), m.whole->run);
    }
    progress.Tick(shown(taken()), taken(), explore.runs, *root.strategy);
    return true;
  };
  // Where the root ends inside a part it takes (the cap, or a failure):
  // what an exploration on one thread would have skipped there.
  std::optional<std::uint64_t> part_skipped;
  // Takes a block's executions as take would, up to the cap; false: the cap
  // was reached.
  auto take_plain = [&](const CountedBlock& b, std::uint64_t offset) {
    return b.ForEach([&](const Counted& c) {
      if (taken() >= explore.runs) return false;
      tally.Take(c);
      if ((tally.executions & 63) == 0) root_taken.store(tally.executions, std::memory_order_relaxed);
      part_skipped = offset + c.skipped;
      progress.Tick(shown(taken()), taken(), explore.runs, *root.strategy);
      return true;
    });
  };

  // What a part given to this rank made, for its giver (Done); and back,
  // on the giver's thread that takes it.
  auto pack_made = [&](const Part& p) {
    WireWriter out;
    out.B(p.complete).B(p.failed).B(p.interrupted).U(p.counted).S(p.strategy->PackOutcome());
    // Blocks of plain executions go one by one, as the others (unpack_made
    // blocks them again); a wait that is not a rise goes as 0, which the
    // root's take treats alike.
    std::uint64_t n = 0;
    for (const Made& m : p.made) n += m.plain != nullptr ? m.plain->size() : 1;
    out.U(n);
    for (const Made& m : p.made) {
      if (m.plain != nullptr) {
        m.plain->ForEach([&out](const Counted& c) {
          out.B(false).B(false).B(false).U(c.events).U(c.worst_wait).U(c.wait_bound).U(c.log_hash).U(c.skipped);
          out.B(false);
          return true;
        });
        continue;
      }
      out.B(m.pruned).B(m.left).B(m.fails).U(m.events).U(m.worst_wait).U(m.wait_bound).U(m.log_hash);
      out.U(m.skipped).B(m.whole != nullptr);
      if (m.whole == nullptr) continue;
      const Whole& w = *m.whole;
      STRATA_CHECK(w.kept == nullptr, "a part that travels kept a machine");
      PutRun(out, w.run);
      PutCpus(out, w.schedule);
      out.B(w.recipe.has_value());
      if (w.recipe) {
        PutCpus(out, w.recipe->schedule);
        out.U(w.recipe->hash).S(w.recipe->member).S(w.recipe->environment).I(w.recipe->rank);
      }
    }
    return out.Take();
  };
  auto unpack_made = [&](Part& q) {
    WireReader in(q.outcome);
    q.complete = in.B();
    q.failed = in.B();
    q.interrupted = in.B();
    q.counted = in.U();
    STRATA_CHECK(q.strategy->UnpackOutcome(in.S()), "rank {} sent a part's outcome this strategy cannot read",
                 q.elsewhere);
    const std::size_t n = in.Count();
    for (std::size_t k = 0; k < n && in.ok(); ++k) {
      Made m;
      m.pruned = in.B();
      m.left = in.B();
      m.fails = in.B();
      m.events = in.U();
      m.worst_wait = in.U();
      m.wait_bound = in.U();
      m.log_hash = in.U();
      m.skipped = in.U();
      if (in.B()) {
        Whole& w = *(m.whole = std::make_unique<Whole>());
        w.run = GetRun(in, options);
        w.schedule = GetCpus(in);
        if (in.B()) {
          Recipe& r = w.recipe.emplace();
          r.schedule = GetCpus(in);
          r.hash = in.U();
          r.member = in.S();
          r.environment = in.S();
          r.rank = static_cast<int>(in.I());
        }
      }
      append(q.made, std::move(m));
    }
    STRATA_CHECK(in.done(), "a malformed result from rank {}", q.elsewhere);
    q.outcome.clear();
    q.outcome.shrink_to_fit();
  };

  std::function<void(Part&, int)> lane;
  // Makes a part's executions in its strategy's order, taking back the
  // parts split off it as it reaches them; ends at its last execution, its
  // first failure, the cap, a stop, or when it is dead.
  lane = [&](Part& p, int thread) {
    const bool is_root = &p == &root;
    Strategy& s = *p.strategy;
    std::uint64_t i = p.first;
    std::vector<std::uint64_t> given;  // split off p and not taken back
    constexpr std::uint64_t kNone = ~std::uint64_t{0};
    std::uint64_t spare = kNone;  // a part number Split did not use
    // Counted here and added once (an atomic add per execution on a line
    // every thread writes cost 2% on 2 threads).
    std::uint64_t made_here = 0;
    std::uint64_t counted_here = 0, counted_told = 0;  // for counted_anywhere
    bool packs = true;            // its parts can go to another rank (Strategy::Pack)
    // Adds one execution to p; false: p ends here.
    auto add = [&](Made& m) {
      const bool counts = !m.pruned;
      if (is_root) {
        if (!take(m)) return false;
      } else {
        p.failed = m.fails;
        m.skipped = s.skipped();
        append(p.made, std::move(m));
        p.counted += counts;
        if ((p.counted & 63) == 0) p.published.store(p.counted, std::memory_order_relaxed);
        if (p.failed) return false;
      }
      return true;
    };
    auto forget = [&](std::uint64_t id) {
      const auto it = std::find(given.begin(), given.end(), id);
      STRATA_CHECK(it != given.end(), "strategy named part {}, which it was not given", id);
      given.erase(it);
    };
    // Stops the parts p's strategy will never take back.
    auto drop_abandoned = [&] {
      for (std::uint64_t id : s.Abandoned()) {
        forget(id);
        kill(id);
        parts_refused.fetch_add(1, std::memory_order_relaxed);
      }
    };
    // Takes back part q, ended; false: p ends with it.
    auto splice = [&](Part& q) {
      if (q.interrupted) p.interrupted = true;
      // q's skipped counts are its own strategy's; p's has not joined it yet.
      const std::uint64_t offset = s.skipped();
      if (is_root) {
        // The cap holds here too: the executions past it are not taken.
        for (std::size_t k = 0; k < q.made.size(); ++k) {
          if (q.made[k].plain != nullptr) {
            if (!take_plain(*q.made[k].plain, offset)) return false;
            continue;
          }
          if (taken() >= explore.runs) return false;
          part_skipped = offset + q.made[k].skipped;
          if (!take(q.made[k])) return false;
        }
        if (q.complete) part_skipped.reset();  // joined next: the root's strategy counts it
      } else {
        p.counted += q.counted;
        p.published.store(p.counted, std::memory_order_relaxed);
        for (Made& m : q.made) {
          if (m.plain != nullptr) {
            m.plain->OffsetSkipped(offset);
          } else {
            m.skipped += offset;
          }
        }
        std::move(q.made.begin(), q.made.end(), std::back_inserter(p.made));
        if (q.failed) p.failed = true;
      }
      q.made.clear();
      q.made.shrink_to_fit();
      return q.complete;
    };
    for (;;) {
      // As one thread: the cap first, then the stop flag.
      if (dead(p) ||
          (is_root ? taken() : p.counted + before_part(p)) >= explore.runs) {
        break;
      }
      if (stopped()) {
        p.interrupted = true;
        break;
      }
      Made m;
      machine::Oracle& oracle = s.Next(i);
      const machine::MachineOptions run = s.MachineFor(options_of(i));
      ++i;
      machine::MachineOptions on_thread = run;
      on_thread.stacks = pools[static_cast<std::size_t>(thread)];
      SpecRunMemo* memo = exhaustive || !pair.seeded() ? &memos[static_cast<std::size_t>(thread)] : nullptr;
      Execution x = CheckExecution(pair, on_thread, oracle, checking, memo);
      s.Finished(x.machine->schedule().size());
      ++made_here;
      m.events = x.machine->log().size();
      m.log_hash = x.machine->log().hash();
      m.worst_wait = x.worst_wait;
      m.wait_bound = x.wait_bound;
      m.pruned = x.input.code() == absl::StatusCode::kCancelled;
      if (!m.pruned && ++counted_here - counted_told == 64) {
        counted_anywhere.fetch_add(64, std::memory_order_relaxed);
        counted_told = counted_here;
      }
      STRATA_CHECK(x.input.ok() || m.pruned, "explorer oracle failed: {}", std::string(x.input.message()));
      m.left = !m.pruned && run.focus.valid() && x.verdict.kind == machine::Outcome::kInvalidEnvironment;
      m.fails = !m.pruned && !m.left && explore.check && !x.verdict.ok();
      bool keep = explore.each != nullptr || m.fails;
      if (m.left && !std::exchange(p.kept_left, true)) keep = true;
      if (!m.pruned && !m.left && !std::exchange(p.kept_first, true)) keep = true;
      const bool last_one = explore.keep_last && !m.pruned && !m.left;
      if (keep || last_one) {
        Whole& w = *(m.whole = std::make_unique<Whole>());
        w.run = run;
        if (last_one) w.schedule = ScheduleOf(x);
        if (keep && p.travels) {
          w.recipe = Recipe{.schedule = ScheduleOf(x), .hash = x.machine->log().hash(), .member = s.Member(),
                            .environment = s.Environment(), .rank = cluster->rank()};
        } else if (keep) {
          w.kept = std::make_unique<Kept>(Kept{std::move(x), s.Member(), s.Environment()});
        }
      }
      if (!add(m)) break;
      drop_abandoned();
      if (!is_root && std::this_thread::get_id() == main_thread) {
        progress.Tick(shown(taken()), taken(), explore.runs, *root.strategy);
      }
      bool more = s.Advance();
      if (!is_root) mark_skipped(p.made, s.skipped());
      bool ended = false;
      while (more) {
        const std::optional<std::uint64_t> id = s.Joining();
        if (!id) break;
        forget(*id);
        Part& q = part_of(*id);
        if (!s.Fits(*q.strategy)) {
          kill(*id);
          parts_refused.fetch_add(1, std::memory_order_relaxed);
          s.Reclaim();
          break;
        }
        if (is_root && taken() >= explore.runs) {
          // The cap was reached just before the part: it is not taken.
          kill(*id);
          ended = true;
          break;
        }
        crew->Await(*id, thread);
        if (dead(p)) {
          // Stopped while it waited (stop_parts): what q made goes nowhere.
          kill(*id);
          ended = true;
          break;
        }
        if (q.elsewhere >= 0) unpack_made(q);
        if (!splice(q)) {
          ended = true;
          break;
        }
        parts_joined.fetch_add(1, std::memory_order_relaxed);
        more = s.Join(*q.strategy);
        if (!is_root) mark_skipped(p.made, s.skipped());
        drop_abandoned();
      }
      if (ended) break;
      if (!more) {
        p.complete = true;
        break;
      }
      // A part for an idle thread of this rank, else for an idle rank.
      const bool here = crew != nullptr && crew->Hungry();
      if (here || (packs && shard != nullptr && shard->Hungry() >= 0)) {
        if (spare == kNone) {
          const std::lock_guard<std::mutex> lock(parts_mu);
          spare = parts.size();
          parts.emplace_back();
        }
        std::uint64_t first = 0;
        if (std::unique_ptr<Strategy> split = s.Split(spare, &first)) {
          const int to = here ? -1 : shard->Hungry();
          std::optional<std::string> bytes;
          if (to >= 0) bytes = split->Pack();
          if (to >= 0 && !bytes) packs = false;  // its parts stay on this rank
          // Waiting for it first, so that stop_parts, which may Finish it
          // once it reads it is elsewhere, finds it in the crew.
          if (bytes) crew->AddElsewhere(spare);
          {
            // stop_parts reads owner and elsewhere (on the post office).
            const std::lock_guard<std::mutex> lock(parts_mu);
            Part& q = parts[spare];
            q.strategy = std::move(split);
            q.first = first;
            q.owner = &p;
            q.travels = p.travels;
            if (bytes) q.elsewhere = to;
          }
          given.push_back(spare);
          if (bytes) {
            // All that p made so far comes before the part.
            shard->Give(to, spare, first, before_part(p) + p.counted, std::move(*bytes));
            spare = kNone;
          } else {
            crew->Add(std::exchange(spare, kNone));
          }
        }
      }
    }
    made_anywhere.fetch_add(made_here, std::memory_order_relaxed);
    counted_anywhere.fetch_add(counted_here - counted_told, std::memory_order_relaxed);
    // What p split off and did not take back is nobody's now.
    for (std::uint64_t id : given) kill(id);
  };

  result.threads = std::max(explore.jobs, 1);
  result.ranks = cluster != nullptr ? cluster->size() : 1;
  if (result.threads > 1 || cluster != nullptr) {
    crew = std::make_unique<Crew>(
        result.threads,
        [&](std::uint64_t id, int thread) {
          Part& p = part_of(id);
          lane(p, thread);
          // A part given to this rank goes back to its giver, which waits for it.
          if (p.from >= 0) shard->Done(p.from, p.their_id, pack_made(p));
        },
        [] { return std::make_shared<machine::OverflowHandlerScope>(); });
  }
  if (cluster != nullptr) {
    // Parts given to this rank, by (giver, their number): ours.
    auto received = std::make_shared<std::map<std::pair<int, std::uint64_t>, std::uint64_t>>();
    if (follower) {
      // Part 0 stands for the exploration: the caller's thread waits for
      // it (running the parts given to this rank) until the leader ends it.
      parts.emplace_back();
      crew->AddElsewhere(0);
    }
    shard = std::make_unique<Shard>(
        *cluster,
        Shard::Handlers{
            .part =
                [&, received](int from, std::uint64_t id, std::uint64_t first, std::uint64_t before,
                              std::string bytes) {
                  std::unique_ptr<Strategy> s = unpacker->Unpack(bytes);
                  STRATA_CHECK(s != nullptr, "rank {} gave a part this strategy cannot read", from);
                  std::uint64_t mine;
                  {
                    const std::lock_guard<std::mutex> lock(parts_mu);
                    mine = parts.size();
                    Part& p = parts.emplace_back();
                    p.strategy = std::move(s);
                    p.first = first;
                    p.known_before = before;
                    p.from = from;
                    p.their_id = id;
                    p.travels = true;
                    // After the end it is not run: Join may already have
                    // stopped the crew, and its giver has stopped too.
                    if (ending) p.dead.store(true, std::memory_order_relaxed);
                  }
                  (*received)[{from, id}] = mine;
                  crew->Add(mine);
                },
            .stop =
                [&, received](int from, std::uint64_t id) {
                  const auto it = received->find({from, id});
                  if (it == received->end()) return;
                  Part& p = part_of(it->second);
                  p.dead.store(true, std::memory_order_relaxed);
                  stop_parts(&p);
                },
            .done =
                [&](std::uint64_t id, std::string bytes) {
                  {
                    const std::lock_guard<std::mutex> lock(parts_mu);
                    STRATA_CHECK(id < parts.size() && parts[id].elsewhere >= 0,
                                 "a result for part {}, which this rank did not give away", id);
                    parts[id].outcome = std::move(bytes);
                  }
                  crew->Finish(id);
                },
            .end =
                [&] {
                  stop_parts(nullptr);
                  crew->Finish(0);
                },
            // A rank asks for a part when a thread of its has nothing to do.
            // (Not sooner: a part given in reserve would be run by a thread
            // that waits for another part, inside that wait, and hold up
            // the parts that wait for the awaited one.)
            .idle = [&] { return crew->Hungry(); },
            .counted = [&] { return counted_anywhere.load(std::memory_order_relaxed); },
            .taken = [&] { return root_taken.load(std::memory_order_relaxed); }});
  }
  if (follower) {
    crew->Await(0, 0);
  } else {
    lane(root, 0);
  }
  // Every part still running is dead now (the root's lane marked them; a
  // part given to this rank is stopped here); the crew waits for them to
  // stop. (Not crew.reset(): that nulls the pointer the stopping parts
  // still read before the helpers are joined.)
  if (shard != nullptr) stop_parts(nullptr);
  if (crew != nullptr) crew->Join();
  if (follower) {
    shard->Ended(made_anywhere.load());
    shard.reset();
    return ExploreResult{.follower = true};
  }
  if (shard != nullptr) {
    made_anywhere += shard->End();
    shard.reset();
  }
  if (root.complete) result.exhausted = exhaustive;
  if (!result.failure && root.interrupted) result.interrupted = true;
  result.executions = tally.executions;
  result.events = tally.events;
  result.logs_hash = tally.logs_hash;
  result.worst_wait = tally.worst_wait;
  result.wait_bound = tally.wait_bound;
  result.skipped = part_skipped.value_or(root.strategy->skipped());
  // Counted in full only when the whole tree was taken.
  result.guard_cuts = result.exhausted ? root.strategy->guard_cuts() : 0;
  result.made = made_anywhere.load();
  result.parts_joined = parts_joined.load();
  result.parts_refused = parts_refused.load();
  if (!result.failure && left_rely) {
    fail(std::move(left_rely->x), left_rely->run, std::move(left_rely->member),
         std::move(left_rely->environment));
  }
  if (result.failure) {
    // The failing run's stacks belong to a pool that may not outlive the
    // result (this call's, or the caller's); keep a copy of it
    // that owns its own (the run is deterministic, so it is the same run).
    machine::MachineOptions own = failing;
    own.stacks = nullptr;
    Verdict verdict = result.failure->verdict;
    Execution copy = ReplaySchedule(pair, own, ScheduleOf(*result.failure), "the failing run");
    if (verdict.kind == machine::Outcome::kNondeterminism || !copy.input.ok()) {
      copy.verdict = verdict;
    }
    result.failure = std::move(copy);
  }
  if (!result.failure && last) {
    // As for a failure: the run's stacks may not outlive this call.
    machine::MachineOptions own = last->second;
    own.stacks = nullptr;
    result.last = ReplaySchedule(pair, own, last->first, "the last run");
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace strata::layers
