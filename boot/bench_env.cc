#include "boot/bench_env.h"

#include <chrono>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "boot/boot.h"
#include "machine/check.h"
#include "machine/environment.h"

namespace strata::boot {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

std::string EnvBench(const Catalog& catalog, bool quick, bool json, std::FILE* out) {
  // The counter workload on 8 cpus under a random oracle: a multicore run,
  // then cpu 0 as the per-CPU machine against the others' recorded events.
  Config c;
  c.source = "bench";
  c.workload = "counter";
  c.machine.cpus = 8;
  c.oracle = "random";
  c.iterations = quick ? 100 : 5000;
  const int tries = quick ? 1 : 3;
  double multicore = std::numeric_limits<double>::max();
  double per_cpu = std::numeric_limits<double>::max();
  std::size_t events = 0;
  for (int t = 0; t < tries; ++t) {
    absl::StatusOr<BootRun> run =
        RunConfig(c, catalog, nullptr, "", [](machine::Machine& m) { m.KeepPushedContents(); });
    STRATA_CHECK(run.ok() && run->report.ok(), "the bench's multicore run failed");
    multicore = std::min(multicore, run->wall_seconds);
    events = run->machine->log().size();
    const machine::RecordedEnvironment env(*run->machine);
    const machine::EnvironmentContext recorded = machine::RecordedEnvironmentContext();
    SetUpRun s = SetUp(c, catalog,
                       machine::PerCpuOptions(run->machine->options(), machine::CpuId(0), recorded));
    machine::EnvironmentRun er = recorded.make(machine::CpuId(0),
                                               {.live = s.workload.program, .recording = &env});
    const auto start = Clock::now();
    absl::StatusOr<machine::RunReport> r = s.machine->Run(er.program, *er.oracle);
    per_cpu = std::min(per_cpu, Seconds(start));
    STRATA_CHECK(r.ok() && r->ok() && s.machine->log().hash() == run->machine->log().hash(),
                 "the bench's per-CPU run does not give the multicore log");
  }
  const double ratio = per_cpu / multicore;
  constexpr double kGoal = 1.0;
  if (json) {
    return fmt::format(
        "\"per_cpu\":{{\"workload\":\"counter, 8 cpus, random\",\"environment\":\"recorded\","
        "\"events\":{},\"multicore_events_per_s\":{:.0f},\"per_cpu_events_per_s\":{:.0f},"
        "\"cost_ratio\":{:.3f},\"goal_cost_ratio\":{},\"goal_met\":{}}}",
        events, events / multicore, events / per_cpu, ratio, kGoal, ratio <= kGoal);
  }
  fmt::print(out, "per-CPU machine (counter on 8 cpus, random oracle; cpu 0 against the recorded environment)\n");
  fmt::print(out, "  multicore run            {:8.2f} M events/s ({} events, best of {})\n",
             events / multicore / 1e6, events, tries);
  fmt::print(out, "  per-CPU run              {:8.2f} M events/s (the same events)\n",
             events / per_cpu / 1e6);
  fmt::print(out, "  per-CPU time / multicore time {:.3f} (goal <= {:.0f}): {}\n", ratio, kGoal,
             ratio <= kGoal ? "met" : "NOT met");
  fmt::print(out, "  (the random and adversarial environments are not built yet)\n");
  return "";
}

}  // namespace strata::boot
