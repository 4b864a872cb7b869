// PCT that fits the run (issue 11 point 3): on a known-bad lock whose bug has
// a known depth, the detection rate of pct with its horizon measured from the
// runs against the bound PCT promises, 1/(n k^(d-1)), and against the fixed
// horizon of 10000 steps that was the default, far beyond the runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "boot/boot.h"
#include "boot/config.h"
#include "kernel/lock.h"
#include "layers/refinement.h"
#include "layers/strategy.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

struct Detection {
  int found = 0;               // executions that failed
  int other = 0;               // of them, with a verdict other than the bug's
  std::uint64_t longest = 0;   // k: the most steps an execution took
  std::string described;       // the strategy's Describe() after the runs
};

// `runs` executions of the pct strategy (depth 2, seed 1) on the lock layer
// over ticket-load-store, 2 cpus taking the lock twice each, run as the
// explorer runs them (Next, the check, Finished, Advance), every failure
// counted instead of ending the exploration. F = 64: the fairness guard
// forces no switch inside these short runs (with F = 16 its forced
// switches alone find the bug), so PCT's change point is what finds it.
Detection Detect(std::uint64_t horizon, int runs) {
  const auto* lock = testing::Builtin().locks.Find("ticket-load-store");
  REQUIRE(lock != nullptr);
  const std::unique_ptr<layers::LayerPair> pair = kernel::MakeLockPair(
      {.impl = "ticket-load-store", .module = lock->make, .iterations = 2, .bound = 2});
  std::unique_ptr<layers::Strategy> pct =
      layers::MakePctStrategy({.cpus = 2, .seed = 1, .pct_depth = 2, .pct_horizon = horizon});
  Detection d;
  for (int i = 0; i < runs; ++i) {
    machine::Oracle& oracle = pct->Next(static_cast<std::uint64_t>(i));
    const layers::Execution x =
        layers::CheckExecution(*pair, pct->MachineFor(machine::MachineOptions{.cpus = 2, .fairness = 64}), oracle);
    const std::uint64_t steps = x.machine->schedule().size();
    pct->Finished(steps);
    d.longest = std::max(d.longest, steps);
    if (!x.verdict.ok()) {
      ++d.found;
      if (x.verdict.kind != machine::Outcome::kImpossibleLowerLog) ++d.other;
    }
    pct->Advance();
  }
  d.described = pct->Describe();
  return d;
}

TEST_CASE("pct with the horizon from the run finds a depth-2 bug as often as PCT promises, and a "
          "10000-step horizon does not") {
  // ticket-load-store takes its ticket with a load, then a store. Its bug,
  // two cpus drawing the same ticket, needs exactly one preemption at one
  // place (d = 2): the cpu that runs first is preempted between the load
  // and the store of one of its tickets, and the other loads the same one.
  // Under PCT's priorities alone the first cpu runs to its end, so a run
  // finds the bug only through its one change point.
  constexpr int kRuns = 2000;
  const Detection measured = Detect(/*horizon=*/0, kRuns);
  const Detection fixed = Detect(/*horizon=*/10000, kRuns);
  CAPTURE(measured.found);
  CAPTURE(fixed.found);
  CAPTURE(measured.longest);
  CHECK(measured.other == 0);
  CHECK(fixed.other == 0);
  CHECK(measured.described ==
        fmt::format("pct (depth 2, horizon from the run: {} steps)", measured.longest));
  CHECK(fixed.described == "pct (depth 2, horizon 10000)");
  // PCT's bound for n = 2 cpus, k = the longest run, d = 2: 1 / (n k).
  const double bound = 1.0 / (2.0 * static_cast<double>(measured.longest));
  const double rate = static_cast<double>(measured.found) / kRuns;
  const double fixed_rate = static_cast<double>(fixed.found) / kRuns;
  CHECK(rate >= bound);
  // The fixed horizon puts the change point past the end of almost every
  // run: far below the bound its own k would promise on these runs.
  CHECK(fixed_rate < bound / 4);
  CHECK(fixed_rate * 10 < rate);
  // The exact counts of this deterministic exploration: runs of 24 steps,
  // two of whose change points (after either of the first cpu's loads)
  // find the bug, 2/24 = 8.3% expected; 149 of 2000 = 7.5% measured (each
  // block of 64 runs measures its own horizon, so its first run has no
  // change point), against PCT's 1/48 = 2.1%; the fixed horizon, 1 of 2000.
  CHECK(measured.longest == 24);
  CHECK(measured.found == 149);
  CHECK(fixed.found == 1);
}

TEST_CASE("boot draws pct's change points over the length of a first run under its priorities") {
  // configs/pct.toml sets no horizon.
  absl::StatusOr<Config> config = LoadConfig(testing::Source("configs/pct.toml"), testing::Builtin());
  REQUIRE(config.ok());
  CHECK(config->pct_horizon == 0);
  Config first = *config;
  first.pct_depth = 1;
  first.pct_horizon = 1;
  absl::StatusOr<BootRun> alone = RunConfig(first, testing::Builtin());
  REQUIRE(alone.ok());
  CHECK(alone->report.steps == 2080);
  absl::StatusOr<std::uint64_t> horizon = MeasuredHorizon(*config, testing::Builtin());
  REQUIRE(horizon.ok());
  CHECK(*horizon == 2080);
  absl::StatusOr<BootRun> run = RunConfig(*config, testing::Builtin());
  REQUIRE(run.ok());
  CHECK(run->report.ok());
  CHECK(run->oracle ==
        "pct (seed 7, depth 3, horizon 2080) (the horizon: the steps of a first run without "
        "change points)");
  // A horizon given is used as it is, and so is one for another oracle.
  Config given = *config;
  given.pct_horizon = 500;
  CHECK(*MeasuredHorizon(given, testing::Builtin()) == 0);
  Config random = *config;
  random.oracle = "random";
  CHECK(*MeasuredHorizon(random, testing::Builtin()) == 0);
  absl::StatusOr<BootRun> fixed = RunConfig(given, testing::Builtin());
  REQUIRE(fixed.ok());
  CHECK(fixed->oracle == "pct (seed 7, depth 3, horizon 500)");
}

}  // namespace
}  // namespace strata::boot
