#include "boot/tlink.h"

#include <chrono>

#include <fmt/format.h>

#include "boot/boot.h"
#include "boot/schedule_file.h"
#include "boot/trace.h"
#include "boot/workloads.h"
#include "machine/check.h"
#include "machine/log.h"
#include "sched/stack.h"
#include "sched/tsched.h"

namespace strata::boot {

absl::StatusOr<int> TLink(const Config& c, const Catalog& catalog, const std::string& trace_path,
                          std::FILE* out) {
  const auto* w = catalog.threads.Find(c.workload);
  if (w == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: workload.kind: tlink needs a thread workload ({}), got \"{}\"", c.source,
        catalog.threads.Names(), c.workload));
  }
  const auto* oracle = catalog.oracles.Find(c.oracle);
  STRATA_CHECK(oracle != nullptr, "unvalidated oracle {}", c.oracle);
  sched::TLinkOptions o;
  o.machine = c.machine;
  o.machine.client_seed = c.seed;  // as strata boot: the general workload follows the seed
  o.oracle = oracle->make;
  // As boot does, a horizon of 0 is the length of a first run (the
  // config's boot run, the same threads on the same machine).
  STRATA_ASSIGN_OR_RETURN(const std::uint64_t measured, MeasuredHorizon(c, catalog));
  o.oracle_options = {.seed = c.seed,
              .cpus = c.machine.cpus,
              .pct_depth = c.pct_depth,
              .pct_horizon = measured != 0 ? measured : c.pct_horizon};
  o.pair = sched::SchedPairOptionsFor(c.stack, catalog, c.workload);
  o.pair.iterations = c.iterations;
  o.pair.threads = c.threads;
  STRATA_RETURN_IF_ERROR(CheckWritable(trace_path, "--trace"));
  absl::Status traced = absl::OkStatus();
  if (!trace_path.empty()) {
    o.recorded = [&](const machine::Machine& m) {
      traced = WriteStackTrace(trace_path, c, m,
                               fmt::format("strata tlink {} (seed {}): the recorded run", c.source,
                                           c.seed));
    };
  }
  const auto start = std::chrono::steady_clock::now();
  const sched::TLinkResult r = sched::CheckTLink(o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  STRATA_RETURN_IF_ERROR(traced);

  fmt::print(out, "strata tlink {}\n", c.source);
  fmt::print(out, "  workload   {} x{}, {} threads/cpu on {} cpus\n", c.workload, c.iterations,
             c.threads, c.machine.cpus);
  fmt::print(out, "  scheduler  {}\n", sched::SchedulerLine(c.stack));
  fmt::print(out, "  recorded   {} ({} steps)\n", machine::OutcomeName(r.recorded.outcome),
             r.recorded.steps);
  const auto bound = [](std::int64_t b) { return b > 0 ? fmt::format("{}", b) : std::string("off"); };
  for (const sched::ThreadLink& t : r.threads) {
    fmt::print(out, "  thread {:<3} cpu {:<3} {:6} events ({} YIELD_BACK)  worst wait {} queries (limit {})  "
                    "worst run {} steps (progress {})  projection {}  {}\n",
               t.tid, t.home, t.events, t.yield_backs, t.worst_queries, bound(c.stack.bounds.limit),
               t.worst_progress, bound(c.stack.bounds.progress),
               t.projection_ok ? "equal" : "DIFFERS", t.problem.empty() ? "matches" : "DIFFERS");
    if (!t.problem.empty()) fmt::print(out, "             {}\n", t.problem);
  }
  if (r.recorded.ok()) {
    fmt::print(out, "  log hash   thread-level {}, composed {}\n", machine::FormatHash(r.recorded_hash),
               machine::FormatHash(r.composed_hash));
  }
  fmt::print(out, "  seed {}  {} per-thread runs in {:.3f} s\n", c.seed, r.threads.size(), seconds);
  if (!trace_path.empty()) PrintTraceLine(out, trace_path, "the recorded run");
  if (r.ok()) {
    fmt::print(out, "  verdict    the per-thread machines compose to the thread-level log of the run\n");
    return 0;
  }
  // A run that fails before TLink can compose it is that failure, which
  // `strata boot` shrinks and writes as a schedule.
  const bool run_failed = !r.recorded.ok();
  fmt::print(out, "  verdict    {}: {}\n",
             machine::OutcomeName(run_failed ? r.recorded.outcome : machine::Outcome::kTLinkMismatch), r.problem);
  fmt::print(out, "  reproduce  strata {} {} --seed {} --oracle {} --cpus {} --workload {}{}\n",
             run_failed ? "boot" : "tlink", c.source, c.seed, c.oracle, c.machine.cpus, c.workload,
             run_failed ? " (writes the failure's schedule)" : "");
  return 1;
}

}  // namespace strata::boot
