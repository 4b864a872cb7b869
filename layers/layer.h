// The generic layer calculus: what strata needs to know about an adjacent
// pair of layers (a lower layer plus a module, and the upper layer's spec) to
// check, run after run, that the module refines the spec (DESIGN.md §5).
//
// Primitives are called through a border: the caller's CPU appends a call
// marker before the primitive and a return marker after it (private events
// with op codes kCall / kReturn, not steps), on the object the primitive
// acts on. The spec
// implements a primitive with one atomic step (its `atomic` event); a module
// with any number of lower steps, exactly one of which it declares the
// linearization point (Cpu::Linearize), which the log map turns into the
// atomic event. A module describes itself to the check with a ModuleView.
//
// Nothing here is kernel-specific: kernel/ describes its locks and queues as
// LayerPairs, and layers/refinement.h checks any of them.
#ifndef STRATA_LAYERS_LAYER_H_
#define STRATA_LAYERS_LAYER_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "machine/event.h"
#include "machine/machine.h"
#include "machine/replay.h"

namespace strata::layers {

using machine::Cpu;
using machine::CpuId;
using machine::Event;
using machine::EventKind;
using machine::Machine;
using machine::ObjectId;

// One primitive of a layer interface.
struct Primitive {
  const char* name;  // "acquire"
  EventKind call;    // call marker, arg0/arg1 = the arguments
  EventKind ret;     // return marker, result = the return value
  EventKind atomic;  // the spec's one step; arg0/arg1 = the arguments, result 0
};

// Appends the call / return markers of `p` on `object` (no switch point);
// each records `where`: a primitive's wrapper passes on its caller's
// location (its own `where` parameter, defaulted to the call site), so the
// markers, and a spec's step (Cpu::call_site), name the code that called
// the primitive.
inline void MarkCall(Cpu& cpu, ObjectId object, const Primitive& p, std::int64_t arg0 = 0,
                     std::int64_t arg1 = 0,
                     std::source_location where = std::source_location::current()) {
  cpu.MarkCall(object, p.call, arg0, arg1, where);
}
inline void MarkReturn(Cpu& cpu, ObjectId object, const Primitive& p, std::int64_t result = 0,
                       std::source_location where = std::source_location::current()) {
  cpu.MarkReturn(object, p.ret, result, where);
}

// Which side of a pair a run uses.
enum class Side {
  kModule,  // the client over module ⊕ lower layer
  kSpec,    // the client over the upper layer's spec
};

// The check's observer of one module run, as the refinement walk drives it:
// the lower layer's replay (the module's objects), the upper layer's replay
// (over the mapped log), the relation R between them and the liveness bound
// of calls. Pairs build it from the upper spec's replay and the module's own
// view (SpecAndView below); a pair may also implement it directly.
class Observer {
 public:
  virtual ~Observer() = default;
  // Every event of the lower log, in order. False: the lower log is
  // impossible for the module's own replay function.
  virtual bool ObserveLower(const Event& e) = 0;
  // Every event of the mapped (upper) log, in order, markers included.
  // False: the upper log is impossible (the atomic spec does not allow it).
  virtual bool ObserveUpper(const Event& e) = 0;
  // R at a border crossing: nullopt if it holds, else what is broken.
  virtual std::optional<std::string> Relation() const = 0;
  virtual std::string DescribeLower() const = 0;
  virtual std::string DescribeUpper() const = 0;
  // Liveness: the most steps (of the whole machine) that the call `cpu`
  // returns from now may have taken under an F-fair oracle, or nullopt when
  // the primitive has no bound. Called at the return marker.
  virtual std::optional<std::uint64_t> WaitBound(CpuId cpu, const Primitive& p) const = 0;
  // Why ObserveUpper refused its event, in the layer's terms ("ret spawn
  // returns 6, the spec 0"), or "" when the spec gives no reason.
  virtual std::string UpperRefusal() const { return ""; }
};

// What a module says about itself over one run, for an upper layer whose
// spec state is `State`: its own replay of the lower log (of the objects it
// made, read through its own layout), the relation R between that and the
// spec's state, and its liveness costs. A module makes one per run; the
// generic checker never looks inside a module any other way.
template <class State>
class ModuleView {
 public:
  virtual ~ModuleView() = default;
  // Every event of the lower log, in order (other objects' too: skip them).
  // False: the event is impossible for the module's replay.
  virtual bool Observe(const Event& e) = 0;
  // R, at every border crossing: nullopt if it holds, else what is broken,
  // in the layer's own terms ("the block holds [2, 1], the spec's queue is
  // [1, 2]").
  virtual std::optional<std::string> Relation(const State& spec) const = 0;
  // The module's replayed state, for reports.
  virtual std::string Describe() const = 0;
  // Liveness: the most machine steps the call that `cpu` returns from now
  // may have taken under an F-fair oracle, or nullopt for no bound.
  virtual std::optional<std::uint64_t> WaitBound(CpuId cpu, const Primitive& p) const = 0;
};

// A view's own objects, numbered by the view: which of them an event is on,
// in one lookup (views observe every event of a run).
class ObjectSlots {
 public:
  // Object `id` is the view's `slot`-th. Precondition: slot >= 0.
  void Add(ObjectId id, int slot) {
    if (id.index() >= slots_.size()) slots_.resize(id.index() + 1, -1);
    slots_[id.index()] = slot;
  }
  // The slot of `id`, or -1 if it is none of the view's.
  int Find(ObjectId id) const {
    return id.valid() && id.index() < slots_.size() ? slots_[id.index()] : -1;
  }

 private:
  std::vector<int> slots_;
};

// A replayer whose Step can say why it refuses an event.
template <class R>
concept ExplainingReplayer = machine::Replayer<R> &&
    requires(const R r, typename R::State& s, const Event& e, std::string* why) {
      { r.Step(s, e, why) } -> std::same_as<bool>;
    };

// The Observer of one module run: the upper spec's replay `Spec` over the
// mapped log and the module's view of the lower log. `State` has a formatter.
template <machine::Replayer Spec>
class SpecAndView final : public Observer {
 public:
  using State = typename Spec::State;
  SpecAndView(Spec spec, std::unique_ptr<ModuleView<State>> view)
      : spec_(std::move(spec)), state_(spec_.Init()), view_(std::move(view)) {}

  bool ObserveLower(const Event& e) override { return view_->Observe(e); }
  bool ObserveUpper(const Event& e) override {
    if constexpr (ExplainingReplayer<Spec>) {
      return spec_.Step(state_, e, &why_);
    } else {
      return spec_.Step(state_, e);
    }
  }
  std::optional<std::string> Relation() const override { return view_->Relation(state_); }
  std::string DescribeLower() const override { return view_->Describe(); }
  std::string DescribeUpper() const override {
    return why_.empty() ? fmt::format("{}", state_) : fmt::format("{} ({})", state_, why_);
  }
  std::optional<std::uint64_t> WaitBound(CpuId cpu, const Primitive& p) const override {
    return view_->WaitBound(cpu, p);
  }
  std::string UpperRefusal() const override { return why_; }

 private:
  Spec spec_;
  State state_;
  std::string why_;
  std::unique_ptr<ModuleView<State>> view_;
};

// A client set up on one side of a pair on a fresh machine.
struct SideRun {
  Machine::Program program;
  // For the module side: makes the check's observer for this run. Called
  // before the run, and only when the run is checked (a plain run, the
  // baseline the cost of checking is measured against, builds none).
  std::function<std::unique_ptr<Observer>()> observe;
  // After a run that finished: nullopt, or what is wrong with the final state.
  std::function<std::optional<std::string>()> final_check;
};

struct Execution;  // refinement.h
struct Verdict;

// An adjacent pair of layers with its client workload. The log map f is the
// module's own: the events its code flags with Cpu::Linearize are its calls'
// linearization points (layers/refinement.h).
class LayerPair {
 public:
  virtual ~LayerPair() = default;
  virtual std::string name() const = 0;   // the upper layer's name: "lock"
  virtual std::string lower() const = 0;  // "ticket module over the machine"
  virtual std::string upper() const = 0;  // "lock spec"
  virtual std::span<const Primitive> primitives() const = 0;
  // Makes the shared objects on `m` and returns the client's program on
  // `side`, with the observer on the module side.
  virtual SideRun SetUp(Machine& m, Side side) const = 0;
  // A pair's own check of an execution that passed steps 1-5 (its run
  // finished and refines), for a property of the whole run the generic
  // steps cannot see (the thread pair composes per-thread machines):
  // nullopt, or the verdict. `options` made x's machine. By default nothing.
  virtual std::optional<Verdict> CheckMore(const Execution& x,
                                           const machine::MachineOptions& options) const;
  // True if the cpus are interchangeable: each runs the same client code
  // with the same arguments (no use of its id, no draws of its own) and the
  // module and the spec treat cpus alike, so renaming the cpus of a run
  // gives a run with the same verdict, and the same waits and liveness
  // bounds, renamed. dfs then runs one schedule of each such set
  // (ExploreOptions::symmetry) and checks the waits in it. A view that
  // orders cpus by their calls breaks this: the cpus make their first
  // calls in the order of their ids, whatever the schedule; order them at
  // a shared step (a lock's doorway). By default false.
  virtual bool interchangeable() const { return false; }
  // True if a run depends on MachineOptions::client_seed (a most-general
  // client's draws). A pair whose runs never read it says false: then
  // executions with different seeds share what SpecRunMemo remembers. By
  // default true.
  virtual bool seeded() const { return true; }
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_LAYER_H_
