#include "layers/refinement.h"

#include <algorithm>
#include <array>
#include <limits>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::layers {
namespace {

using machine::Outcome;

// An event as two runs with different object numbering can compare it.
struct Seen {
  CpuId cpu;
  machine::ThreadId thread;
  std::string_view object;
  EventKind kind;
  std::int64_t arg0, arg1, result;
  machine::OpCode op;
  friend bool operator==(const Seen&, const Seen&) = default;
  bool marker() const { return op >= machine::OpCode::kCall; }
};

Seen SeenOf(const Event& e, const machine::Log& names) {
  return {e.cpu,  e.thread, e.object.valid() ? names.object_name(e.object) : "",
          e.kind, e.arg0,   e.arg1,
          e.result, e.op};
}

std::string Render(const Seen& s) {
  return fmt::format("cpu={} {}{} {} ({}, {}) -> {}", s.cpu, s.marker() ? "| " : "", s.kind,
                     s.object, s.arg0, s.arg1, s.result);
}

const Primitive* FindCall(std::span<const Primitive> prims, EventKind k) {
  for (const Primitive& p : prims) {
    if (p.call == k) return &p;
  }
  return nullptr;
}
const Primitive* FindReturn(std::span<const Primitive> prims, EventKind k) {
  for (const Primitive& p : prims) {
    if (p.ret == k) return &p;
  }
  return nullptr;
}

// A call in progress on one agent.
struct OpenCall {
  const Primitive* prim = nullptr;
  std::size_t call = 0;        // position of the call marker in the lower log
  std::uint64_t call_step = 0; // machine steps taken before it
  bool linearized = false;
  int depth = 0;               // calls of lower layers open inside it
};

class Walk {
 public:
  Walk(const LayerPair& pair, Execution& x, bool witness)
      : pair_(pair), x_(x), log_(x.machine->log()), witness_(witness) {}

  // Steps 2, 4 and 5 over the lower log; returns the first failure.
  std::optional<Verdict> Run(Observer& abs) {
    open_.assign(static_cast<std::size_t>(x_.machine->cpus()), OpenCall{});
    x_.image.assign(log_.size(), -1);
    std::uint64_t steps = 0;
    for (std::size_t i = 0; i < log_.size(); ++i) {
      const Event& e = log_[i];
      if (!abs.ObserveLower(e)) {
        return Fail(Outcome::kImpossibleLowerLog, i, abs,
                    fmt::format("the module's replay rejects `{}`", log_.RenderText(e)));
      }
      if (!e.marker()) ++steps;
      OpenCall& open = Open(e);
      // Inside a call, a marker of a call on another object (a lock module
      // built from another lock) or of any call of another layer nests.
      const bool nested = open.prim != nullptr &&
                          (open.depth > 0 || e.object != log_[open.call].object);
      const Primitive* called = e.op == machine::OpCode::kCall && !nested
                                    ? FindCall(pair_.primitives(), e.kind)
                                    : nullptr;
      const Primitive* returned = e.op == machine::OpCode::kReturn && !nested
                                      ? FindReturn(pair_.primitives(), e.kind)
                                      : nullptr;
      if (called != nullptr) {
        if (open.prim != nullptr) {
          return Fail(Outcome::kRefinementViolation, i, abs,
                      fmt::format("cpu {} calls `{}` inside its call of `{}`", e.cpu,
                                  e.kind, open.prim->name));
        }
        open = {called, i, steps, false, 0};
        if (auto v = Emit(e, i, abs)) return v;
        if (auto v = CheckRelation(i, abs)) return v;
      } else if (returned != nullptr) {
        const Primitive* p = returned;
        if (open.prim != p) {
          return Fail(Outcome::kRefinementViolation, i, abs,
                      fmt::format("cpu {} returns from `{}` it never called", e.cpu, p->name));
        }
        if (open.depth != 0) {
          return Fail(Outcome::kRefinementViolation, i, abs,
                      fmt::format("cpu {} returns from `{}` inside a call of the layer below",
                                  e.cpu, p->name));
        }
        if (!open.linearized) {
          return Fail(Outcome::kRefinementViolation, i, abs,
                      fmt::format("cpu {}'s `{}` (called at t={}) returned without its "
                                  "linearization point",
                                  e.cpu, p->name, open.call));
        }
        const std::uint64_t waited = steps - open.call_step;
        open = OpenCall{};
        if (auto v = Emit(e, i, abs)) return v;
        if (auto v = CheckRelation(i, abs)) return v;
        if (std::optional<std::uint64_t> bound = abs.WaitBound(e.cpu, *p)) {
          if (waited > x_.worst_wait || (waited == x_.worst_wait && *bound < x_.wait_bound)) {
            x_.worst_wait = waited;
            x_.wait_bound = *bound;
          }
          if (waited > *bound) {
            // The execution's worst wait is the call that starved, even if
            // an earlier call waited longer within a larger bound.
            x_.worst_wait = waited;
            x_.wait_bound = *bound;
            return Fail(Outcome::kStarvation, i, abs,
                        fmt::format("cpu {}'s `{}` took {} steps, more than its bound of {}",
                                    e.cpu, p->name, waited, *bound));
          }
        }
      } else if (open.prim != nullptr) {
        // Inside a call: its events are internal, except the one the module
        // flagged as the call's linearization point; a flag inside a call of
        // the layer below belongs to that call.
        if (e.op == machine::OpCode::kCall) {
          ++open.depth;
        } else if (e.op == machine::OpCode::kReturn) {
          if (open.depth == 0) {
            return Fail(Outcome::kRefinementViolation, i, abs,
                        fmt::format("cpu {} returns from `{}` inside its call of `{}` without "
                                    "having called it",
                                    e.cpu, e.kind, open.prim->name));
          }
          --open.depth;
        } else if (e.linearizes > open.depth) {
          // Flagged for the `linearizes` innermost open calls: this one is
          // among them (a flag inside the layer below belongs to it unless
          // this call's module adopted it, Cpu::AdoptLinearization).
          if (open.linearized) {
            return Fail(Outcome::kRefinementViolation, i, abs,
                        fmt::format("cpu {}'s `{}` has a second linearization point `{}`",
                                    e.cpu, open.prim->name, log_.RenderText(e)));
          }
          open.linearized = true;
          const Event& call = log_[open.call];
          Event u = e;
          u.object = call.object;
          u.kind = open.prim->atomic;
          u.arg0 = call.arg0;
          u.arg1 = call.arg1;
          u.result = 0;
          u.op = machine::OpCode::kAtomic;
          u.linearizes = 0;
          if (auto v = Emit(u, i, abs)) return v;
        }
      } else {
        if (auto v = Emit(e, i, abs)) return v;
      }
    }
    return std::nullopt;
  }

 private:
  // Calls are open per agent: the running thread when the event has one
  // (a thread's call may span switches to other threads of its CPU), else
  // the CPU.
  OpenCall& Open(const Event& e) {
    std::size_t i = e.cpu.index();
    if (e.thread.valid()) i = static_cast<std::size_t>(x_.machine->cpus()) + e.thread.index();
    if (i >= open_.size()) open_.resize(i + 1);
    return open_[i];
  }

  std::optional<Verdict> Emit(Event u, std::size_t i, Observer& abs) {
    u.seq = x_.mapped.size();
    x_.image[i] = static_cast<std::int64_t>(x_.mapped.size());
    x_.mapped.push_back(u);
    if (!abs.ObserveUpper(u)) {
      const std::string why = abs.UpperRefusal();
      return Fail(Outcome::kImpossibleUpperLog, i, abs,
                  fmt::format("the spec does not allow `{}` (from lower event t={}){}",
                              Render(SeenOf(u, log_)), i, why.empty() ? "" : ": " + why));
    }
    return std::nullopt;
  }

  std::optional<Verdict> CheckRelation(std::size_t i, Observer& abs) {
    std::optional<std::string> broken = abs.Relation();
    if (witness_) {
      x_.crossings.push_back(
          {.seq = i, .lower_state = abs.DescribeLower(), .upper_state = abs.DescribeUpper(), .broken = broken});
    }
    if (broken) {
      return Fail(Outcome::kRelationBroken, i, abs,
                  fmt::format("at `{}`: {}", log_.RenderText(log_[i]), *broken));
    }
    return std::nullopt;
  }

  Verdict Fail(Outcome kind, std::size_t i, const Observer& abs, std::string message) {
    return Verdict{.kind = kind,
                   .message = std::move(message),
                   .event = i,
                   .cpus = {log_[i].cpu},
                   .lower_state = abs.DescribeLower(),
                   .upper_state = abs.DescribeUpper()};
  }

  const LayerPair& pair_;
  Execution& x_;
  const machine::Log& log_;
  bool witness_;
  std::vector<OpenCall> open_;
};

// What step 3 compares of two events but their objects (which two runs
// number apart: they are compared by name), cheapest first.
bool SameButObject(const Event& a, const Event& b) {
  return a.cpu == b.cpu && a.thread == b.thread && a.op == b.op && a.arg0 == b.arg0 && a.arg1 == b.arg1 &&
         a.result == b.result && a.kind == b.kind;
}

// Step 3: the client on the spec, following the mapped log.
std::optional<Verdict> BackTranslate(const LayerPair& pair, const machine::MachineOptions& options,
                                     const Execution& x) {
  std::vector<CpuId> choices;
  choices.reserve(x.mapped.size());
  for (const Event& u : x.mapped) {
    if (!u.marker()) choices.push_back(u.cpu);
  }
  // The mapped schedule drops the module's internal steps, and a CPU that
  // waited blocked in the module (its turn in a ticket line) may be enabled
  // all along in the spec: fairness was the module run's to keep, so the
  // spec run does not judge it again.
  machine::MachineOptions spec_options = options;
  spec_options.fairness = std::numeric_limits<std::uint64_t>::max() / 4;
  Machine spec(spec_options);
  SideRun side = pair.SetUp(spec, Side::kSpec);
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kReplay,
                                     .cpus = spec.cpus(),
                                     .replay = std::move(choices),
                                     .replay_source = "the mapped log"});
  absl::StatusOr<machine::RunReport> report = spec.Run(side.program, *oracle);
  auto violation = [&](std::string message) {
    return Verdict{.kind = Outcome::kRefinementViolation, .message = std::move(message)};
  };
  auto by = [](CpuId::Rep cpu, Verdict v) {
    v.cpus = {CpuId(cpu)};
    return v;
  };
  const machine::Log& lower_names = x.machine->log();
  const machine::Log& spec_log = spec.log();

  // Per CPU, the spec must produce the same events, markers and return
  // values included, as far as the mapped log goes. The first difference of
  // the lowest CPU is reported. This runs once per checked execution, so it
  // compares in place (one allocation, no per-CPU copies of the events).
  const auto cpus = static_cast<std::size_t>(spec.cpus());
  const std::span<const Event> spec_events = spec_log.events();
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  // [first, first + cpus]: where each CPU's spec events start in `order`;
  // [next, next + cpus): how many of its mapped events were compared;
  // [bad, bad + cpus): the position in x.mapped of its first difference.
  // [same_as, same_as + lower objects): a spec object found to have the
  // lower object's name (+1; 0 if none yet), so names are compared once.
  const std::size_t lower_objects = lower_names.object_count();
  std::vector<std::size_t> scratch(3 * cpus + 1 + lower_objects + spec_events.size());
  std::size_t* const first = scratch.data();
  std::size_t* const next = first + cpus + 1;
  std::size_t* const bad = next + cpus;
  std::size_t* const same_as = bad + cpus;
  std::size_t* const order = same_as + lower_objects;
  for (const Event& e : spec_events) ++first[e.cpu.index() + 1];
  for (std::size_t c = 0; c < cpus; ++c) first[c + 1] += first[c];
  for (std::size_t i = 0; i < spec_events.size(); ++i) {
    order[first[spec_events[i].cpu.index()] + next[spec_events[i].cpu.index()]++] = i;
  }
  std::fill(next, next + cpus, 0);
  std::fill(bad, bad + cpus, kNone);
  // Field by field, cheapest first: the same as SeenOf(want) == SeenOf(got).
  auto same_object = [&](machine::ObjectId want, machine::ObjectId got) {
    if (want.valid() && got.valid() && same_as[want.index()] == got.index() + 1) return true;
    const bool same = (want.valid() ? lower_names.object_name(want) : std::string_view()) ==
                      (got.valid() ? spec_log.object_name(got) : std::string_view());
    if (same && want.valid() && got.valid()) same_as[want.index()] = got.index() + 1;
    return same;
  };
  auto same = [&](const Event& want, const Event& got) {
    return SameButObject(want, got) && same_object(want.object, got.object);
  };
  for (std::size_t i = 0; i < x.mapped.size(); ++i) {
    const std::size_t c = x.mapped[i].cpu.index();
    if (bad[c] != kNone) continue;
    const std::size_t k = next[c]++;
    if (first[c] + k < first[c + 1] && same(x.mapped[i], spec_events[order[first[c] + k]])) {
      continue;
    }
    bad[c] = i;
  }
  for (std::size_t c = 0; c < cpus; ++c) {
    if (bad[c] == kNone) continue;
    const std::size_t k = next[c] - 1;  // the difference is at this CPU's k-th event
    const Seen want = SeenOf(x.mapped[bad[c]], lower_names);
    const bool has_got = first[c] + k < first[c + 1];
    const Seen got = has_got ? SeenOf(spec_events[order[first[c] + k]], spec_log) : Seen{};
    // The lower event the differing mapped one came from: the first bad event.
    std::optional<std::uint64_t> lower;
    for (std::size_t i = 0; i < x.image.size() && !lower; ++i) {
      if (x.image[i] >= 0 && static_cast<std::size_t>(x.image[i]) == bad[c]) lower = i;
    }
    if (has_got && got.marker() && want.marker() && got.kind == want.kind &&
        got.object == want.object && FindReturn(pair.primitives(), got.kind)) {
      return by(static_cast<CpuId::Rep>(c),
                Verdict{.kind = Outcome::kReturnMismatch,
                        .message = fmt::format("cpu {}'s `{}` on `{}` returned {}, the spec returns {}",
                                               c, FindReturn(pair.primitives(), got.kind)->name,
                                               got.object, want.result, got.result),
                        .event = lower});
    }
    if (!report.ok()) {
      return violation(fmt::format("the spec cannot follow the mapped log: {}",
                                   std::string(report.status().message())));
    }
    Verdict v = violation(fmt::format("cpu {}'s event {} differs: module `{}`, spec `{}`", c, k,
                                      Render(want), has_got ? Render(got) : std::string("nothing")));
    v.event = lower;
    return by(static_cast<CpuId::Rep>(c), std::move(v));
  }
  if (!report.ok()) {
    return violation(
        fmt::format("the spec cannot follow the mapped log: {}", std::string(report.status().message())));
  }
  if (!report->ok()) {
    return violation(fmt::format("the spec run ends in {}: {}", machine::OutcomeName(report->outcome), report->message));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Verdict> LayerPair::CheckMore(const Execution&,
                                            const machine::MachineOptions&) const {
  return std::nullopt;
}

namespace {

// A per-CPU machine's failure that only environment CPUs are in is the
// environment's (DESIGN §2.2).
void Attribute(const machine::MachineOptions& options, Verdict& v) {
  if (!options.focus.valid() || v.ok() || v.cpus.empty() ||
      v.kind == Outcome::kInvalidEnvironment) {
    return;
  }
  if (std::find(v.cpus.begin(), v.cpus.end(), options.focus) != v.cpus.end()) return;
  v.message = fmt::format(
      "the first bad step is environment cpu {}'s, not focused cpu {}'s (the environment runs the "
      "module too): {}: {}",
      v.cpus.front(), options.focus, machine::OutcomeName(v.kind), v.message);
  v.kind = Outcome::kInvalidEnvironment;
}

// Steps 1-5 and the pair's own check, before attribution.
Execution Check(const LayerPair& pair, const machine::MachineOptions& options,
                machine::Oracle& oracle, Checking checking, SpecRunMemo* memo) {
  const bool check = checking != Checking::kRun;
  Execution x;
  x.machine = std::make_unique<Machine>(options);
  if (checking == Checking::kWitness) x.machine->KeepPushedContents();
  SideRun side = pair.SetUp(*x.machine, Side::kModule);
  std::unique_ptr<Observer> observer;
  if (check) {
    STRATA_CHECK(side.observe != nullptr, "pair {} gave no observer", pair.name());
    observer = side.observe();
  }
  absl::StatusOr<machine::RunReport> report = x.machine->Run(side.program, oracle);
  if (!report.ok()) {
    x.input = report.status();
    return x;
  }
  x.report = *report;
  // The client's end-of-run check comes last: it sees the end of the run,
  // the other checks name an earlier event.
  auto final_check = [&] {
    if (x.report.ok() && side.final_check) {
      if (std::optional<std::string> wrong = side.final_check()) {
        x.report.outcome = Outcome::kWrongResult;
        x.report.message = *wrong;
      }
    }
  };
  if (!check) {
    final_check();
    return x;
  }

  // Every lower event maps to at most one upper event: one allocation.
  x.mapped.reserve(x.machine->log().size());
  Walk walk(pair, x, checking == Checking::kWitness);
  if (std::optional<Verdict> v = walk.Run(*observer)) {
    x.verdict = std::move(*v);
    return x;
  }
  if (!x.report.ok()) {
    // The cpus of a failed step (a race, a throw, a refused event) are its
    // culprits; those a deadlock or a starvation names are its victims.
    const bool culprits = x.report.outcome == Outcome::kDataRace ||
                          x.report.outcome == Outcome::kException ||
                          x.report.outcome == Outcome::kStackOverflow ||
                          x.report.outcome == Outcome::kImpossibleLog ||
                          x.report.outcome == Outcome::kInvariantBroken;
    x.verdict = Verdict{.kind = x.report.outcome,
                        .message = x.report.message,
                        .cpus = culprits ? x.report.cpus : std::vector<CpuId>{},
                        .lower_state = observer->DescribeLower(),
                        .upper_state = observer->DescribeUpper()};
    return x;
  }
  if (memo == nullptr || !memo->Passed(pair, options, x)) {
    if (std::optional<Verdict> v = BackTranslate(pair, options, x)) {
      // Found after the walk, which went on past the event it names.
      x.verdict = std::move(*v);
      x.verdict.lower_state = "(at the end of the run) " + observer->DescribeLower();
      x.verdict.upper_state = "(at the end of the run) " + observer->DescribeUpper();
      return x;
    }
    if (memo != nullptr) memo->Add(pair, options, x);
  }
  final_check();
  if (!x.report.ok()) {
    x.verdict = Verdict{.kind = x.report.outcome,
                        .message = x.report.message,
                        .lower_state = observer->DescribeLower(),
                        .upper_state = observer->DescribeUpper()};
    return x;
  }
  if (std::optional<Verdict> v = pair.CheckMore(x, options)) x.verdict = std::move(*v);
  return x;
}

}  // namespace

bool SpecRunMemo::SameSetUp(const LayerPair& pair, const machine::MachineOptions& options,
                            const Execution& x) const {
  const machine::Log& log = x.machine->log();
  if (pair_ != &pair || options_.cpus != options.cpus || options_.stack_bytes != options.stack_bytes ||
      options_.max_steps != options.max_steps || options_.environment_draws != options.environment_draws ||
      (pair.seeded() && options_.client_seed != options.client_seed) || names_.size() != log.object_count()) {
    return false;
  }
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != log.object_name(machine::ObjectId(static_cast<machine::ObjectId::Rep>(i)))) return false;
  }
  return true;
}

std::uint64_t SpecRunMemo::Key(const Execution& x) {
  // One multiply in the chain per event; an event's fields are mixed by
  // independent multiplies (this runs once per checked execution).
  std::uint64_t h = x.mapped.size();
  for (const Event& e : x.mapped) {
    const std::uint64_t ids = static_cast<std::uint64_t>(e.cpu.value()) << 48 ^
                              static_cast<std::uint64_t>(e.thread.value()) << 32 ^
                              static_cast<std::uint64_t>(e.object.value()) << 8 ^ static_cast<std::uint64_t>(e.op);
    const std::uint64_t v = ids + e.kind.hash() * 0xc2b2ae3d27d4eb4full +
                            static_cast<std::uint64_t>(e.arg0) * 0x165667b19e3779f9ull +
                            static_cast<std::uint64_t>(e.arg1) * 0x27d4eb2f165667c5ull +
                            static_cast<std::uint64_t>(e.result) * 0x94d049bb133111ebull;
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
  }
  return machine::MixSeed(h);
}

bool SpecRunMemo::Passed(const LayerPair& pair, const machine::MachineOptions& options, const Execution& x) {
  if (!on_ || options.focus.valid()) return false;
  // Few executions find their log (an exhaustive search of distinct upper
  // orders): looking costs more than it saves.
  constexpr std::uint64_t kTrial = 1024;
  if (++lookups_ == kTrial && hits_ * 8 < lookups_) {
    on_ = false;
    events_ = {};
    logs_ = {};
    return false;
  }
  keyed_ = &x;
  keyed_events_ = x.mapped.data();
  key_ = Key(x);
  const auto it = logs_.find(key_);
  if (it == logs_.end() || it->second.size != x.mapped.size() || !SameSetUp(pair, options, x)) return false;
  for (std::size_t i = 0; i < x.mapped.size(); ++i) {
    // Objects by id: the memo's logs have x's object names (SameSetUp).
    const Event& held = events_[it->second.first + i];
    if (!SameButObject(held, x.mapped[i]) || held.object != x.mapped[i].object) return false;
  }
  ++hits_;
  return true;
}

void SpecRunMemo::Add(const LayerPair& pair, const machine::MachineOptions& options, const Execution& x) {
  if (!on_ || options.focus.valid() || x.mapped.size() > max_events_) return;
  if (!SameSetUp(pair, options, x)) {
    // Another pair, options or objects: the logs held were of those.
    pair_ = &pair;
    options_ = options;
    names_.clear();
    const machine::Log& log = x.machine->log();
    for (std::size_t i = 0; i < log.object_count(); ++i) {
      names_.emplace_back(log.object_name(machine::ObjectId(static_cast<machine::ObjectId::Rep>(i))));
    }
    events_.clear();
    logs_.clear();
  }
  if (events_.size() + x.mapped.size() > max_events_) return;  // full
  // A different log under the same key (a collision) stays unremembered.
  const std::uint64_t key = keyed_ == &x && keyed_events_ == x.mapped.data() ? key_ : Key(x);
  keyed_ = nullptr;
  if (!logs_.try_emplace(key, Span{events_.size(), x.mapped.size()}).second) return;
  events_.insert(events_.end(), x.mapped.begin(), x.mapped.end());
}

Execution CheckExecution(const LayerPair& pair, const machine::MachineOptions& options,
                         machine::Oracle& oracle, Checking checking, SpecRunMemo* memo) {
  Execution x = Check(pair, options, oracle, checking, memo);
  Attribute(options, x.verdict);
  return x;
}

}  // namespace strata::layers
