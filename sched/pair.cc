// The sched layer pair: a scheduler module over the lock layer and shared
// blocks, against the scheduler's atomic spec (csched.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "kernel/lock.h"
#include "machine/check.h"
#include "sched/csched.h"
#include "sched/workloads.h"

namespace strata::sched {
namespace {

// The check's state over one module run. Lower: which scheduler blocks each
// CPU has pulled (from the log). Upper: the spec's replay of the mapped log.
// R at every border crossing: the crossing CPU has pushed back every block
// it pulled (a primitive leaves the shared scheduler state consistent and
// published), and no pending count is negative.
class SchedAbstraction final : public layers::Abstraction {
 public:
  SchedAbstraction(SchedReplay replay, int cpus)
      : replay_(std::move(replay)), upper_(replay_.Init()), pulled_(static_cast<std::size_t>(cpus), 0) {}

  bool ObserveLower(const Event& e) override {
    last_cpu_ = e.cpu;
    if (e.kind == machine::kinds::kPull) ++pulled_[e.cpu.index()];
    if (e.kind == machine::kinds::kPush) --pulled_[e.cpu.index()];
    if (e.kind == kinds::kPendingCount && e.result + e.arg0 < 0) negative_ = true;
    return true;
  }

  bool ObserveUpper(const Event& e) override { return replay_.Step(upper_, e, &why_); }

  std::optional<std::string> Relation() const override {
    if (negative_) return std::string("a pending count went negative");
    if (last_cpu_.valid() && pulled_[last_cpu_.index()] != 0) {
      return fmt::format("cpu {} crosses the border holding {} pulled block(s)", last_cpu_,
                         pulled_[last_cpu_.index()]);
    }
    return std::nullopt;
  }

  std::string DescribeLower() const override {
    std::string out;
    for (std::size_t c = 0; c < pulled_.size(); ++c) {
      if (pulled_[c] != 0) out += fmt::format("{}cpu {} holds {} block(s)", out.empty() ? "" : ", ", c, pulled_[c]);
    }
    return out.empty() ? std::string("no blocks pulled") : out;
  }
  std::string DescribeUpper() const override {
    return why_.empty() ? fmt::format("{}", upper_) : fmt::format("{} ({})", upper_, why_);
  }

  std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
    return std::nullopt;  // thread-level liveness is TSched's (limit, progress)
  }

 private:
  SchedReplay replay_;
  SchedState upper_;
  std::string why_;
  std::vector<int> pulled_;
  CpuId last_cpu_;
  bool negative_ = false;
};

class SchedPair final : public layers::LayerPair {
 public:
  explicit SchedPair(SchedPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "sched"; }
  std::string lower() const override {
    return fmt::format("{} over the lock layer ({})", o_.sched.impl, o_.sched.lock);
  }
  std::string upper() const override { return "sched spec"; }
  std::span<const layers::Primitive> primitives() const override { return kSchedPrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    SchedOptions so = o_.sched;
    if (side == layers::Side::kSpec) so.impl = "spec";
    so.stack_bytes = m.options().stack_bytes;
    // 0: room for the client's threads (at most threads + 2 per CPU).
    if (so.max_threads == 0) so.max_threads = std::max(256, m.cpus() * (o_.threads + 2));
    std::shared_ptr<CSched> sched = MakeSched(m, so);
    const ThreadWorkload* w = FindThreadWorkload(o_.client);
    STRATA_CHECK(w != nullptr, "unknown sched client {}", o_.client);
    ClientRun client = w->make(*sched, {.iterations = o_.iterations, .threads = o_.threads});
    layers::SideRun run;
    if (side == layers::Side::kModule) {
      run.abstraction = std::make_unique<SchedAbstraction>(sched->Replay(), m.cpus());
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

  bool IsLinearization(const layers::Primitive& p, const Event&, const Event& e) const override {
    if (p.call == kLockPrim.call) return kernel::IsAcquireLinearization(e);
    if (p.call == kUnlockPrim.call) return kernel::IsReleaseLinearization(e);
    if (e.marker || e.arg1 != kLinearizes) return false;
    // A load of the pending count is the point only when it saw 0 (a yield
    // with nothing pending); else the drain's decrement that follows is.
    return e.kind == machine::kinds::kPush ||
           (e.kind == kinds::kPendingCount && (e.arg0 != 0 || e.result == 0));
  }

 private:
  SchedPairOptions o_;
};

}  // namespace

std::unique_ptr<layers::LayerPair> MakeSchedPair(const SchedPairOptions& o) {
  return std::make_unique<SchedPair>(o);
}

}  // namespace strata::sched
