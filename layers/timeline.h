// What a layer tells a timeline about itself: which of its markers open and
// close a slice, which of its events hand something over from one agent to
// another (an arrow in the timeline) and which counters its events move. The
// trace writer (boot/trace.h) draws any log from these declarations alone and
// never asks which layer or module made an event, so a user's own layer or
// module is drawn exactly as strata's are. A declaration is plain data: event
// kinds (the layer's own constants, layers::Primitive's markers) and small
// rules over an event's object, agent and result.
//
// An agent is who appends an event: a thread (Event::thread valid) or, for
// the code a CPU runs outside any thread, the CPU itself.
//
//   layers::Timeline t;
//   t.layer = "lock";
//   t.primitives = kLockPrimitives;  // slices: acquire, release
//   // the lock passes from a release's return to the next acquire's return
//   // on the same lock by another agent
//   t.hand_overs.push_back({.name = "lock hand-over",
//                           .from = {kRetRelease},
//                           .to = {kRetAcquire},
//                           .target = HandOver::Target::kSameObject});
//   t.counters.push_back({.name = "holder",
//                         .kind = Counter::Kind::kHolder,
//                         .up = {kRetAcquire},
//                         .down = {kRetRelease}});
#ifndef STRATA_LAYERS_TIMELINE_H_
#define STRATA_LAYERS_TIMELINE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "machine/event.h"

namespace strata::layers {

// The events of one kind (on any object), optionally without those whose
// result is `unless_result` (a deq that found the queue empty, -1). An
// empty kind (EventKind{}) matches every event.
struct EventMatch {
  machine::EventKind kind;
  std::optional<std::int64_t> unless_result;

  bool Matches(const machine::Event& e) const {
    if (!kind.name().empty() && !(e.kind == kind)) return false;
    return !unless_result || e.result != *unless_result;
  }
};

// An arrow from an event matching `from` to the first later event matching
// `to` that `target` names. An event may start several arrows and end
// several.
struct HandOver {
  enum class Target {
    // The first later event matching `to` on the same object; drawn only
    // when another agent appended it (a lock re-taken by its releaser hands
    // nothing over). "release -> acquire".
    kSameObject,
    // The first later event matching `to` appended by the thread whose id
    // is `from`'s result (a negative result names none). "wakeup -> the
    // woken thread's return from sleep".
    kResultThread,
  };
  std::string name;  // the arrow's name in the timeline: "lock hand-over"
  EventMatch from;
  EventMatch to;
  Target target = Target::kSameObject;
};

// A counter per object: a track "OBJECT NAME" (e.g. "buffer.lock holder")
// whose value the object's events matching `up` and `down` move.
struct Counter {
  enum class Kind {
    // How many: +1 per `up` event, -1 per `down` event, from 0.
    kLevel,
    // Who holds it: an `up` event makes its agent the holder, a `down` event
    // makes it none. The track has two values, the holder's "cpu" and
    // "thread" (-1 for none; a thread holder's cpu is the one it ran on).
    kHolder,
  };
  std::string name;  // "length", "holder"
  Kind kind = Kind::kLevel;
  EventMatch up;
  EventMatch down;
};

// One layer's declaration.
struct Timeline {
  std::string layer;  // "lock": the category of its slices and arrows
  // A call marker of one of these opens a slice named after the primitive
  // and its object ("acquire buffer.lock", args: the call's arguments); the
  // matching return marker by the same agent closes it (adding the return
  // value). The array has static storage (a layer's constexpr primitives).
  std::span<const Primitive> primitives;
  std::vector<HandOver> hand_overs;
  std::vector<Counter> counters;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_TIMELINE_H_
