// Replay functions: an object's abstract state as a pure function of the log.
//
// A replayer is a fold: `Init()` is the state of an empty log, and
// `Step(state, event)` advances it by one event of its object, returning false
// when the event is impossible in that state (an invariant broke). Replaying a
// whole log and monitoring a run event by event are the same fold, so one
// replayer serves both (`Replay` below and `ReplayMonitor`).
#ifndef STRATA_MACHINE_REPLAY_H_
#define STRATA_MACHINE_REPLAY_H_

#include <concepts>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "machine/event.h"
#include "machine/log.h"
#include "machine/report.h"

namespace strata::machine {

template <class R>
concept Replayer = requires(const R r, typename R::State& s, const Event& e) {
  { r.Init() } -> std::same_as<typename R::State>;
  { r.Step(s, e) } -> std::same_as<bool>;
};

// The state of `object` after every event of `log` on it, or nullopt if some
// event was impossible.
template <Replayer R>
std::optional<typename R::State> Replay(const R& r, std::span<const Event> log, ObjectId object) {
  typename R::State s = r.Init();
  for (const Event& e : log) {
    if (e.object == object && !r.Step(s, e)) return std::nullopt;
  }
  return s;
}

// Watches one object's events during a run. Observe returns false on an
// impossible event; Describe renders the state for reports.
class Monitor {
 public:
  virtual ~Monitor() = default;
  virtual bool Observe(const Event& e) = 0;
  virtual std::string Describe() const = 0;
  // How a run that this monitor stops ends (a broken invariant by default).
  virtual Outcome outcome() const { return Outcome::kImpossibleLog; }
};

// A Monitor from a Replayer whose State has a fmt formatter.
template <Replayer R>
class ReplayMonitor final : public Monitor {
 public:
  explicit ReplayMonitor(R r = R()) : r_(std::move(r)), state_(r_.Init()) {}
  bool Observe(const Event& e) override { return r_.Step(state_, e); }
  std::string Describe() const override { return fmt::format("{}", state_); }
  const typename R::State& state() const { return state_; }

 private:
  R r_;
  typename R::State state_;
};

// A shared word's value.
struct WordReplay {
  using State = std::int64_t;
  std::int64_t initial = 0;
  State Init() const { return initial; }
  bool Step(State& value, const Event& e) const;
};

// A shared block's ownership and version (each push makes a new version).
struct BlockState {
  CpuId owner;
  std::int64_t version = 0;
  friend bool operator==(const BlockState&, const BlockState&) = default;
};
struct BlockReplay {
  using State = BlockState;
  State Init() const { return {}; }
  // A pull of an owned block or a push by a non-owner is impossible.
  bool Step(State& s, const Event& e) const;
};

}  // namespace strata::machine

template <>
struct fmt::formatter<strata::machine::BlockState> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const strata::machine::BlockState& s, Ctx& ctx) const {
    return fmt::format_to(ctx.out(), "owner={} version={}", s.owner, s.version);
  }
};

#endif  // STRATA_MACHINE_REPLAY_H_
