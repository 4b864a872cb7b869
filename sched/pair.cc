#include "sched/pair.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "layers/refinement.h"
#include "machine/check.h"

namespace strata::sched {
namespace {

class SchedPair final : public layers::LayerPair {
 public:
  explicit SchedPair(SchedPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "sched"; }
  std::string lower() const override {
    // The spec runs on nothing below it.
    if (o_.sched.impl == "spec") return "the scheduler spec";
    return fmt::format("{} over the lock ({}), queue ({}) and tcb ({}) layers", o_.sched.impl,
                       o_.sched.lock, o_.sched.queue, o_.sched.tcb);
  }
  std::string upper() const override { return "sched spec"; }
  std::span<const layers::Primitive> primitives() const override { return kSchedPrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const bool module = side == layers::Side::kModule;
    SchedOptions so = o_.sched;
    so.stack_bytes = m.options().stack_bytes;
    // 0: room for the client's threads (PoolCapacity).
    so.max_threads = PoolCapacity(so.max_threads, m.cpus(), o_.threads);
    std::shared_ptr<CSched> sched = module ? o_.module(m, so, o_.lower) : MakeSpecSched(m, so);
    STRATA_CHECK(o_.client.start != nullptr, "sched pair without a client");
    ClientRun client = o_.client.start(*sched, {.iterations = o_.iterations, .threads = o_.threads});
    layers::SideRun run;
    if (module && (o_.bounds.limit > 0 || o_.bounds.progress > 0)) {
      m.AddGlobalMonitor(MakeThreadFairnessMonitor(sched->object(), m.cpus(), o_.bounds));
    }
    if (module) {
      run.observe = [raw = sched.get(), &m]() -> std::unique_ptr<layers::Observer> {
        return std::make_unique<layers::SpecAndView<SchedReplay>>(raw->Replay(), raw->NewView(m));
      };
    }
    run.final_check = [checks = client.checks]() -> std::optional<std::string> {
      for (const Check& c : checks()) {
        if (!c.ok()) return fmt::format("{} = {} at the end, expected {}", c.what, c.actual, c.expected);
      }
      return std::nullopt;
    };
    run.program = CSched::Boot(std::move(sched), std::move(client.init));
    return run;
  }

 private:
  SchedPairOptions o_;
};

LinkOptions LinkOptionsOf(const SchedPairOptions& o, const machine::MachineOptions& m) {
  return LinkOptions{.machine = m,
                     .sched = o.sched,
                     .workload = o.client,
                     .params = {.iterations = o.iterations, .threads = o.threads},
                     .bounds = o.bounds};
}

// The steps of a mapped log, in order: what the spec-level image replays.
std::vector<CpuId> MappedChoices(const layers::Execution& x) {
  std::vector<CpuId> choices;
  for (const Event& u : x.mapped) {
    if (!u.marker()) choices.push_back(u.cpu);
  }
  return choices;
}

// TLink of one checked execution of the sched pair.
TLinkResult LinkExecution(const layers::Execution& x, const SchedPairOptions& o,
                          const machine::MachineOptions& m) {
  const LinkOptions lo = LinkOptionsOf(o, m);
  const SpecRecording recording = RecordSpecRun(lo, MappedChoices(x));
  if (!recording.report.ok() || !recording.report->ok()) {
    TLinkResult r;
    r.recorded = x.report;
    r.problem = fmt::format(
        "the scheduler spec cannot replay the run's mapped log: {}",
        recording.report.ok() ? fmt::format("{}: {}", machine::OutcomeName(recording.report->outcome),
                                            recording.report->message)
                              : std::string(recording.report.status().message()));
    return r;
  }
  TLinkResult r = LinkThreads(recording, lo);
  r.recorded = x.report;
  return r;
}

// The first thing wrong with a TLink result, in one line.
std::string FirstProblem(const TLinkResult& r) {
  for (const ThreadLink& t : r.threads) {
    if (!t.problem.empty()) return fmt::format("thread {} of cpu {}: {}", t.tid, t.home, t.problem);
  }
  return r.problem.empty() ? "a thread's projection differs" : r.problem;
}

class ThreadPair final : public layers::LayerPair {
 public:
  explicit ThreadPair(SchedPairOptions o) : o_(o), sched_(std::move(o)) {}
  std::string name() const override { return "thread"; }
  std::string lower() const override {
    return fmt::format("the scheduler ({}) with all its threads", sched_.lower());
  }
  std::string upper() const override { return "one TSched[t, e_t] per thread, composed"; }
  std::span<const layers::Primitive> primitives() const override { return kSchedPrimitives; }
  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    return sched_.SetUp(m, side);
  }
  std::optional<layers::Verdict> CheckMore(const layers::Execution& x,
                                           const machine::MachineOptions& m) const override {
    const TLinkResult r = LinkExecution(x, o_, m);
    if (r.ok()) return std::nullopt;
    return layers::Verdict{.kind = machine::Outcome::kTLinkMismatch, .message = FirstProblem(r)};
  }

 private:
  SchedPairOptions o_;
  SchedPair sched_;
};

}  // namespace

std::unique_ptr<layers::LayerPair> MakeSchedPair(const SchedPairOptions& o) {
  return std::make_unique<SchedPair>(o);
}

std::unique_ptr<layers::LayerPair> MakeThreadPair(const SchedPairOptions& o) {
  return std::make_unique<ThreadPair>(o);
}

TLinkResult CheckTLink(const TLinkOptions& o) {
  STRATA_CHECK(o.oracle != nullptr, "tlink without an oracle");
  const SchedPair pair(o.pair);
  std::unique_ptr<machine::Oracle> oracle = o.oracle(o.oracle_options);
  const layers::Execution x = layers::CheckExecution(pair, o.machine, *oracle);
  STRATA_CHECK(x.input.ok(), "the recorded run's oracle failed: {}", std::string(x.input.message()));
  if (o.recorded) o.recorded(*x.machine);
  if (x.verdict.ok()) return LinkExecution(x, o.pair, o.machine);
  TLinkResult r;
  r.recorded = x.report;
  r.problem = x.report.ok()
                  ? fmt::format("the scheduler does not refine its spec on the recorded run ({}: "
                                "{}); see strata check --layer sched",
                                x.verdict.name(), x.verdict.message)
                  : fmt::format("the recorded run ended in {}: {}",
                                machine::OutcomeName(x.report.outcome), x.report.message);
  return r;
}

}  // namespace strata::sched
