#include "machine/environment.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "machine/check.h"
#include "machine/rng.h"

namespace strata::machine {

void ReplayEvent(Cpu& cpu, const Event& e, std::span<const std::int64_t> pushed) {
  cpu.set_thread(e.thread);
  const Word w{e.object};
  const Block b{e.object};
  switch (e.op) {
    case OpCode::kCall:
    case OpCode::kReturn:
    case OpCode::kGhost:
      cpu.Annotate(e.object, e.kind, e.arg0, e.arg1, e.result, e.op);
      break;
    case OpCode::kFaa:
      cpu.FetchAdd(w, e.arg0, e.kind, e.arg1);
      break;
    case OpCode::kLoad: {
      // As recorded: a wait's event (AwaitValue) carries the value it waited for.
      auto load = [&] { return cpu.machine().value(w); };
      cpu.Step({.object = e.object, .kind = e.kind, .code = OpCode::kLoad, .arg0 = e.arg0,
                .arg1 = e.arg1, .apply = load, .read_only = true});
      break;
    }
    case OpCode::kStore:
      cpu.Store(w, e.arg0, e.kind, e.arg1);
      break;
    case OpCode::kCas:
      cpu.CompareSwap(w, e.arg0, e.arg1, e.kind);
      break;
    case OpCode::kSwap:
      cpu.Swap(w, e.arg0, e.kind, e.arg1);
      break;
    case OpCode::kPull:
      cpu.Pull(b);
      break;
    case OpCode::kPush:
      for (std::size_t k = 0; k < pushed.size(); ++k) cpu.Write(b, k, pushed[k]);
      cpu.Push(b, e.arg1);
      break;
    case OpCode::kAtomic: {
      auto result = [&] { return e.result; };
      cpu.Step({.object = e.object, .kind = e.kind, .arg0 = e.arg0, .arg1 = e.arg1,
                .apply = result});
      break;
    }
  }
  if (e.linearizes != 0) cpu.FlagAsRecorded(e.linearizes);
}

Recording RecordingOf(const Machine& recorded) {
  Recording r;
  r.cpus = recorded.cpus();
  const std::span<const Event> log = recorded.log().events();
  r.events.assign(log.begin(), log.end());
  for (const Event& e : log) {
    if (e.op != OpCode::kPush) continue;
    const std::span<const std::int64_t> words = recorded.pushed(e.seq);
    r.pushed.emplace(e.seq, std::vector<std::int64_t>(words.begin(), words.end()));
  }
  const std::span<const CpuId> s = recorded.schedule();
  r.schedule.assign(s.begin(), s.end());
  r.log_hash = recorded.log().hash();
  return r;
}

std::vector<CpuId> ScheduleOf(std::span<const Event> events) {
  std::vector<CpuId> s;
  for (const Event& e : events) {
    if (!e.marker()) s.push_back(e.cpu);
  }
  return s;
}

RecordedEnvironment::RecordedEnvironment(Recording recording)
    : recording_(std::move(recording)), events_(static_cast<std::size_t>(recording_.cpus)) {
  // Each push's contents found once here, not at every replay.
  for (std::size_t i = 0; i < recording_.events.size(); ++i) {
    const Event& e = recording_.events[i];
    std::span<const std::int64_t> pushed;
    if (e.op == OpCode::kPush) {
      const auto it = recording_.pushed.find(i);
      if (it != recording_.pushed.end()) pushed = it->second;
    }
    events_[e.cpu.index()].push_back({&e, pushed});
  }
}

void RecordedEnvironment::Run(Cpu& cpu) const {
  for (const Replayed& r : events_[cpu.id().index()]) ReplayEvent(cpu, *r.event, r.pushed);
}

MachineOptions PerCpuOptions(MachineOptions multicore, CpuId focus,
                             const EnvironmentContext& context) {
  multicore.focus = focus;
  if (context.replays_recording) multicore.fairness = std::numeric_limits<std::uint64_t>::max() / 4;
  return multicore;
}

EnvironmentContext LiveEnvironment() {
  return {.replays_recording = false, .make = [](CpuId, EnvironmentInput input) {
            return EnvironmentRun{.program = std::move(input.live),
                                  .oracle = std::move(input.oracle)};
          }};
}

EnvironmentContext RecordedEnvironmentContext() {
  return {.replays_recording = true, .make = [](CpuId focus, EnvironmentInput input) {
            STRATA_CHECK(input.recording != nullptr, "a recorded environment without a recording");
            const RecordedEnvironment* env = input.recording;
            EnvironmentRun run;
            run.program = [live = std::move(input.live), env, focus](Cpu& cpu) {
              if (cpu.id() == focus) {
                live(cpu);
              } else {
                env->Run(cpu);
              }
            };
            run.oracle = MakeOracle({.kind = OracleKind::kReplay,
                                     .cpus = env->cpus(),
                                     .replay = env->schedule(),
                                     .replay_source = "the recorded run",
                                     .replay_may_end_early = true});
            return run;
          }};
}

namespace {

// What both check environments' schedules share: the focused CPU, the
// strategy's oracle they shape, and its pick among the environment CPUs.
class EnvironmentSchedule : public Oracle {
 public:
  absl::Status error() const override { return strategy_.error(); }
  absl::Status Finish(std::uint64_t steps) override { return strategy_.Finish(steps); }

 protected:
  EnvironmentSchedule(CpuId focus, Oracle& strategy) : focus_(focus), strategy_(strategy) {}
  bool FocusRunnable(const Decision& d) const {
    return std::binary_search(d.runnable.begin(), d.runnable.end(), focus_);
  }
  // The strategy's pick among the runnable environment CPUs. Precondition:
  // one is runnable. The hot path: no copy unless the focused CPU is
  // runnable too.
  CpuId PickEnvironment(const Decision& d, bool focus_runnable) {
    if (!focus_runnable) return strategy_.Pick(d);
    Decision among = d;
    // The list is sorted: a focus at either end leaves a sub-list (always so
    // for the first and the last cpu); else the others are copied.
    if (d.runnable.front() == focus_) {
      among.runnable = d.runnable.subspan(1);
    } else if (d.runnable.back() == focus_) {
      among.runnable = d.runnable.first(d.runnable.size() - 1);
    } else {
      env_.clear();
      for (CpuId c : d.runnable) {
        if (c != focus_) env_.push_back(c);
      }
      among.runnable = env_;
    }
    return strategy_.Pick(among);
  }

  const CpuId focus_;
  Oracle& strategy_;

 private:
  std::vector<CpuId> env_;
};

class Adversarial final : public EnvironmentSchedule {
 public:
  Adversarial(CpuId focus, bool focus_first, Oracle& strategy)
      : EnvironmentSchedule(focus, strategy), focus_first_(focus_first) {}
  std::string Describe() const override {
    return fmt::format("adversarial ({} first) over {}",
                       focus_first_ ? "the focused cpu" : "the environment", strategy_.Describe());
  }
  CpuId Pick(const Decision& d) override {
    if (d.overdue.valid()) return d.overdue;
    const bool focus_runnable = FocusRunnable(d);
    const bool env_runnable = d.runnable.size() > (focus_runnable ? 1u : 0u);
    if (!env_runnable || (focus_first_ && focus_runnable)) return focus_;
    // The last CPU, runnable and not the focused one, is an environment CPU.
    if (d.last.valid() && d.last != focus_ &&
        std::binary_search(d.runnable.begin(), d.runnable.end(), d.last)) {
      return d.last;
    }
    return PickEnvironment(d, focus_runnable);
  }

 private:
  bool focus_first_;
};

class Bursts final : public EnvironmentSchedule {
 public:
  Bursts(CpuId focus, std::uint64_t seed, Oracle& strategy)
      : EnvironmentSchedule(focus, strategy), rng_(seed) {}
  std::string Describe() const override {
    return fmt::format("random bursts over {}", strategy_.Describe());
  }
  CpuId Pick(const Decision& d) override {
    const bool focus_runnable = FocusRunnable(d);
    const std::size_t env_count = d.runnable.size() - (focus_runnable ? 1 : 0);
    const bool focus_now = d.overdue.valid() ? d.overdue == focus_
                                             : env_count == 0 || (focus_runnable && burst_ == 0);
    if (focus_now) {
      // Mostly about one step per environment cpu, as the multicore machine
      // would give; one time in eight a long burst, up to what F allows.
      if (rng_.Below(8) == 0) {
        const std::uint64_t bound = d.machine != nullptr ? d.machine->fairness_bound() : 1;
        burst_ = rng_.Below(std::clamp<std::uint64_t>(bound, 1, kMaxBurst));
      } else {
        burst_ = rng_.Below(2 * env_count + 1);
      }
      return focus_;
    }
    if (d.overdue.valid()) return d.overdue;
    if (burst_ > 0) --burst_;
    return PickEnvironment(d, focus_runnable);
  }

 private:
  static constexpr std::uint64_t kMaxBurst = 64;
  StreamRng rng_;
  std::uint64_t burst_ = 0;
};

}  // namespace

std::unique_ptr<Oracle> RandomBursts(CpuId focus, std::uint64_t i, Oracle& strategy) {
  return std::make_unique<Bursts>(focus, MixSeed(i ^ 0x6275727374ull), strategy);
}

std::unique_ptr<Oracle> AdversarialSchedule(CpuId focus, std::uint64_t i, Oracle& strategy) {
  return std::make_unique<Adversarial>(focus, i % 2 == 1, strategy);
}

MachineOptions CheckOptions(MachineOptions base, CpuId focus, const CheckEnvironment& env) {
  base.focus = focus;
  base.environment_draws = env.draws;
  return base;
}

EnvironmentContext RandomEnvironment() {
  return {.check = CheckEnvironment{.draws = Draws::kUniform, .schedule = RandomBursts}};
}

EnvironmentContext AdversarialEnvironment() {
  return {.check = CheckEnvironment{.draws = Draws::kEdges, .schedule = AdversarialSchedule}};
}

}  // namespace strata::machine
