// The generic layer calculus: what strata needs to know about an adjacent
// pair of layers (a lower layer plus a module, and the upper layer's spec) to
// check, run after run, that the module refines the spec (DESIGN.md §5).
//
// Primitives are called through a border: the caller's CPU appends a call
// marker before the primitive and a return marker after it (private events,
// Event::marker, not steps), on the object the primitive acts on. The spec
// implements a primitive with one atomic step (its `atomic` event); a module
// with any number of lower steps, exactly one of which is the linearization
// point that the log map turns into the atomic event.
//
// Nothing here is kernel-specific: kernel/ describes its locks and queues as
// LayerPairs, and layers/refinement.h checks any of them.
#ifndef STRATA_LAYERS_LAYER_H_
#define STRATA_LAYERS_LAYER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "machine/event.h"
#include "machine/machine.h"

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

// Appends the call / return markers of `p` on `object` (no switch point).
inline void MarkCall(Cpu& cpu, ObjectId object, const Primitive& p, std::int64_t arg0 = 0,
                     std::int64_t arg1 = 0) {
  cpu.Annotate(object, p.call, arg0, arg1, 0);
}
inline void MarkReturn(Cpu& cpu, ObjectId object, const Primitive& p, std::int64_t result = 0) {
  cpu.Annotate(object, p.ret, 0, 0, result);
}

// Which side of a pair a run uses.
enum class Side {
  kModule,  // the client over module ⊕ lower layer
  kSpec,    // the client over the upper layer's spec
};

// The state a check keeps while it walks the lower log of one run: the lower
// layer's replay (the module's objects), the upper layer's replay (over the
// mapped log), the relation R between them and the liveness bound of calls.
class Abstraction {
 public:
  virtual ~Abstraction() = default;
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
};

// A client set up on one side of a pair on a fresh machine.
struct SideRun {
  Machine::Program program;
  // For the module side: the check's state for this run.
  std::unique_ptr<Abstraction> abstraction;
  // After a run that finished: nullopt, or what is wrong with the final state.
  std::function<std::optional<std::string>()> final_check;
};

// An adjacent pair of layers with its client workload.
class LayerPair {
 public:
  virtual ~LayerPair() = default;
  virtual std::string name() const = 0;   // the upper layer's name: "lock"
  virtual std::string lower() const = 0;  // "ticket module over the machine"
  virtual std::string upper() const = 0;  // "lock spec"
  virtual std::span<const Primitive> primitives() const = 0;
  // Makes the shared objects on `m` and returns the client's program on
  // `side`. `fairness` is the machine's F, for liveness bounds.
  virtual SideRun SetUp(Machine& m, Side side) const = 0;
  // The log map f: is `e` (an event of `call.cpu` inside its call `call` of
  // `p`) the call's linearization point?
  virtual bool IsLinearization(const Primitive& p, const Event& call, const Event& e) const = 0;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_LAYER_H_
