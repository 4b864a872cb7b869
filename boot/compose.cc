#include "boot/compose.h"

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "boot/boot.h"
#include "boot/schedule_file.h"
#include "boot/trace.h"
#include "machine/check.h"
#include "machine/environment.h"
#include "machine/log.h"
#include "machine/stack_pool.h"

namespace strata::boot {
namespace {

using machine::CpuId;
using machine::Event;

// The per-CPU machine of `focus` against the recording's other CPUs. Its
// log's first difference from the recording, or "".
std::string RunPerCpu(const Config& config, const Catalog& catalog, const machine::Machine& recorded,
                      bool recorded_ok, const machine::RecordedEnvironment& env, CpuId focus,
                      machine::StackPool& stacks, std::vector<Event>& log) {
  const machine::EnvironmentContext recorded_env = machine::RecordedEnvironmentContext();
  machine::MachineOptions options = machine::PerCpuOptions(recorded.options(), focus, recorded_env);
  options.stacks = &stacks;  // one machine per CPU: reuse the stacks
  SetUpRun s = SetUp(config, catalog, options);
  machine::EnvironmentRun run =
      recorded_env.make(focus, {.live = s.workload.program, .recording = &env});
  absl::StatusOr<machine::RunReport> report = s.machine->Run(run.program, *run.oracle);
  const std::span<const Event> got = s.machine->log().events();
  const std::span<const Event> want = recorded.log().events();
  log.assign(got.begin(), got.end());
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const bool same = i == want.size() && got.size() == want.size();
  // A recording that finished must finish again; one that failed ends
  // where it did, however the per-CPU run ends there.
  const bool finished = report.ok() && report->ok();
  if (same && (finished || !recorded_ok)) return "";
  if (same) {
    return report.ok() ? fmt::format("its per-CPU machine gives the multicore log but ends in {}: {}",
                                     machine::OutcomeName(report->outcome), report->message)
                       : fmt::format("its per-CPU machine gives the multicore log but does not "
                                     "finish: {}",
                                     std::string(report.status().message()));
  }
  std::string problem =
      i < got.size() && i < want.size()
          ? fmt::format("its per-CPU machine departs from the multicore log at t={}: `{}` instead of `{}`",
                        i, s.machine->log().RenderText(got[i]), recorded.log().RenderText(want[i]))
          : fmt::format("its per-CPU machine's log has {} events, the multicore log {}", got.size(),
                        want.size());
  if (!report.ok()) {
    problem += fmt::format(" ({})", std::string(report.status().message()));
  } else if (!report->ok()) {
    problem += fmt::format(" ({}: {})", machine::OutcomeName(report->outcome), report->message);
  }
  return problem;
}

}  // namespace

absl::StatusOr<Composition> ComposeConfig(
    const Config& config, const Catalog& catalog,
    const std::function<void(const machine::Machine&)>& on_recorded) {
  if (config.focus >= 0 || config.env != "live") {
    return absl::InvalidArgumentError(fmt::format(
        "{}: env: strata compose runs every cpu as a per-CPU machine against the multicore run "
        "itself: expected env.kind \"live\" and no env.focus, got \"{}\" and {}",
        config.source, config.env, config.focus));
  }
  STRATA_ASSIGN_OR_RETURN(
      BootRun run,
      RunConfig(config, catalog, nullptr, "", [](machine::Machine& m) { m.KeepPushedContents(); }));
  const machine::Machine& recorded = *run.machine;
  if (on_recorded) on_recorded(recorded);
  Composition c;
  c.recorded = run.report;
  c.recorded_hash = recorded.log().hash();
  c.events = recorded.log().size();
  const machine::RecordedEnvironment env(machine::RecordingOf(recorded));
  const std::span<const Event> want = recorded.log().events();

  // Each position from the per-CPU machine of the CPU that owns it.
  machine::StackPool stacks(recorded.options().stack_bytes);
  machine::Log composed;
  std::vector<Event> events(want.size());
  std::vector<bool> filled(want.size(), false);
  for (int k = 0; k < recorded.cpus(); ++k) {
    const CpuId focus(static_cast<CpuId::Rep>(k));
    CpuComposition& cpu = c.cpus.emplace_back(CpuComposition{.cpu = focus});
    std::vector<Event> log;
    cpu.problem = RunPerCpu(config, catalog, recorded, run.report.ok(), env, focus, stacks, log);
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].cpu != focus) continue;
      ++cpu.events;
      if (i < log.size()) {
        events[i] = log[i];
        filled[i] = true;
      }
    }
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (filled[i] && events[i] == want[i]) continue;
    c.problem = fmt::format("the composed log differs from the multicore log at t={} (cpu {}): "
                            "the multicore run has `{}`, cpu {}'s per-CPU machine has {}",
                            i, want[i].cpu, recorded.log().RenderText(want[i]), want[i].cpu,
                            filled[i] ? fmt::format("`{}`", recorded.log().RenderText(events[i]))
                                      : std::string("nothing"));
    break;
  }
  if (c.problem.empty()) {
    for (const Event& e : events) composed.Append(e);
    c.composed_hash = composed.hash();
    // Equal logs have equal hashes (Log::hash): a difference is strata's bug.
    STRATA_CHECK(c.composed_hash == c.recorded_hash, "equal logs with different hashes");
  }
  return c;
}

absl::StatusOr<int> Compose(const Config& config, const Catalog& catalog,
                            const std::string& trace_path, std::FILE* out) {
  STRATA_RETURN_IF_ERROR(CheckWritable(trace_path, "--trace"));
  const auto start = std::chrono::steady_clock::now();
  absl::Status traced = absl::OkStatus();
  auto trace = [&](const machine::Machine& m) {
    traced = WriteStackTrace(trace_path, config, m,
                             fmt::format("strata compose {} (seed {}): the multicore run",
                                         config.source, config.seed));
  };
  STRATA_ASSIGN_OR_RETURN(
      Composition c,
      ComposeConfig(config, catalog,
                    trace_path.empty() ? std::function<void(const machine::Machine&)>() : trace));
  STRATA_RETURN_IF_ERROR(traced);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(out, "strata compose {}\n", config.source);
  fmt::print(out, "  machine    {} cpus; workload {} x{}\n", config.machine.cpus, config.workload,
             config.iterations);
  fmt::print(out, "  multicore  {} ({} events in {} steps){}\n",
             machine::OutcomeName(c.recorded.outcome), c.events, c.recorded.steps,
             c.recorded.ok() ? "" : fmt::format(": {}", c.recorded.message));
  fmt::print(out, "  per cpu    Boot[cid, recorded]: the cpu live, the others' recorded events\n");
  for (const CpuComposition& cpu : c.cpus) {
    fmt::print(out, "    cpu {:<4} {:7} events  {}\n", cpu.cpu, cpu.events,
               cpu.problem.empty() ? "matches" : "DIFFERS");
    if (!cpu.problem.empty()) fmt::print(out, "             {}\n", cpu.problem);
  }
  fmt::print(out, "  log hash   multicore {}, composed {}\n", machine::FormatHash(c.recorded_hash),
             c.problem.empty() ? machine::FormatHash(c.composed_hash)
                               : std::string("(none: the composition is not the multicore log)"));
  fmt::print(out, "  seed {}  {} per-cpu runs in {:.3f} s\n", config.seed, c.cpus.size(), seconds);
  if (!trace_path.empty()) PrintTraceLine(out, trace_path, "the multicore run");
  if (!c.compositional()) {
    std::string why = c.problem;
    for (const CpuComposition& cpu : c.cpus) {
      if (why.empty() && !cpu.problem.empty()) why = fmt::format("cpu {}: {}", cpu.cpu, cpu.problem);
    }
    fmt::print(out, "  verdict    {}: {}\n",
               machine::OutcomeName(machine::Outcome::kNotCompositional), why);
    return 1;
  }
  fmt::print(out, "  verdict    compositional: the per-CPU machines compose to the multicore log\n");
  return c.recorded.ok() ? 0 : 1;
}

}  // namespace strata::boot
