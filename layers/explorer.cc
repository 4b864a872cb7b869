#include "layers/explorer.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include <fmt/format.h>

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
  // After each execution: `done` of at most `runs`; the strategy's
  // estimate of the fraction of its space done is asked only for a line.
  void Tick(std::uint64_t done, std::uint64_t runs, const Strategy& strategy) {
    if (out_ == nullptr || (++calls_ & 63) != 0) return;
    const auto now = Clock::now();
    if (now - last_ < (lines_ ? std::chrono::milliseconds(3000) : std::chrono::milliseconds(500))) {
      return;
    }
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    // Left: of the cap, or of the space when its estimate says sooner.
    double fraction = static_cast<double>(done) / static_cast<double>(std::max<std::uint64_t>(runs, 1));
    std::string space;
    if (const std::optional<double> covered = strategy.covered()) {
      space = fmt::format(", ~{:.3g}% of the space (estimate)", 100 * *covered);
      fraction = std::max(fraction, *covered);
    }
    const std::string left =
        fraction > 0 && fraction < 1 ? fmt::format(", about {} left", Duration(s * (1 - fraction) / fraction))
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
                      const ExploreOptions& explore) {
  // Many machines run in a row: their stack-overflow handler is checked
  // once, here, not once per run.
  machine::OverflowHandlerScope overflow_handler;
  // The caller's pool if it fits (stacks are then reused across calls too),
  // else one for this call.
  std::optional<machine::StackPool> own_stacks;
  if (options.stacks == nullptr || options.stacks->stack_bytes() != options.stack_bytes) {
    options.stacks = &own_stacks.emplace(options.stack_bytes);
  }
  ExploreResult result;
  const auto start = Clock::now();
  Progress progress(explore);
  STRATA_CHECK(explore.strategy != nullptr, "explore without a strategy");
  std::unique_ptr<Strategy> strategy = explore.strategy({.cpus = options.cpus,
                                                         .seed = explore.seed,
                                                         .pct_depth = explore.pct_depth,
                                                         .pct_horizon = explore.pct_horizon,
                                                         .preemption_bound = explore.preemption_bound,
                                                         .reduction = explore.reduction,
                                                         .symmetric = explore.symmetry && pair.interchangeable()});
  const bool exhaustive = strategy->exhaustive();
  result.symmetric = exhaustive && explore.symmetry && pair.interchangeable();

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
  // Pruned runs (cut short by the strategy's oracle) do not count against `runs`.
  for (std::uint64_t i = 0; result.executions + result.left_rely < explore.runs; ++i) {
    if (explore.stop != nullptr && *explore.stop != 0) {
      result.interrupted = true;
      break;
    }
    machine::Oracle& oracle = strategy->Next(i);
    const machine::MachineOptions run = strategy->MachineFor(options_of(i));
    Execution x = CheckExecution(pair, run, oracle,
                                 !explore.check ? Checking::kRun
                                 : explore.witness_all ? Checking::kWitness
                                                       : Checking::kCheck);
    strategy->Finished(x.machine->schedule().size());
    const bool pruned = x.input.code() == absl::StatusCode::kCancelled;
    STRATA_CHECK(x.input.ok() || pruned, "explorer oracle failed: {}", std::string(x.input.message()));
    if (!pruned && run.focus.valid() && x.verdict.kind == machine::Outcome::kInvalidEnvironment) {
      if (result.left_rely++ == 0) {
        result.first_left_rely = x.verdict;
        left_rely.emplace(LeftRely{std::move(x), run, strategy->Member(), strategy->Environment()});
      }
    } else if (!pruned) {
      ++result.executions;
      result.events += x.machine->log().size();
      if (explore.each) explore.each(x);
      if (x.worst_wait > result.worst_wait) {
        result.worst_wait = x.worst_wait;
        result.wait_bound = x.wait_bound;
      }
      if (explore.check && x.verdict.ok() && result.executions == 1) {
        if (std::optional<Verdict> v = CheckDeterminism(pair, run, x)) x.verdict = *v;
      }
      if (explore.check && !x.verdict.ok()) {
        fail(std::move(x), run, strategy->Member(), strategy->Environment());
        break;
      }
      if (explore.keep_last) last.emplace(ScheduleOf(x), run);
    }
    progress.Tick(result.executions + result.left_rely, explore.runs, *strategy);
    if (!strategy->Advance()) {
      result.exhausted = exhaustive;
      break;
    }
  }
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
  result.skipped = strategy->skipped();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace strata::layers
