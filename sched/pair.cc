#include "sched/pair.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::sched {
namespace {

class SchedPair final : public layers::LayerPair {
 public:
  explicit SchedPair(SchedPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "sched"; }
  std::string lower() const override {
    return fmt::format("{} over the lock ({}), queue ({}) and tcb ({}) layers", o_.sched.impl,
                       o_.sched.lock, o_.sched.queue, o_.sched.tcb);
  }
  std::string upper() const override { return "sched spec"; }
  std::span<const layers::Primitive> primitives() const override { return kSchedPrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const bool module = side == layers::Side::kModule;
    SchedOptions so = o_.sched;
    so.stack_bytes = m.options().stack_bytes;
    // 0: room for the client's threads (at most 2 (threads + 1) per CPU:
    // the general client's, each with one child).
    if (so.max_threads == 0) so.max_threads = std::max(256, m.cpus() * 2 * (o_.threads + 2));
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

}  // namespace

std::unique_ptr<layers::LayerPair> MakeSchedPair(const SchedPairOptions& o) {
  return std::make_unique<SchedPair>(o);
}

}  // namespace strata::sched
