#include "machine/replay.h"

namespace strata::machine {

bool WordReplay::Step(State& value, const Event& e) const {
  // By machine operation, so a layer's named steps (INC_TICKET is a
  // fetch-and-add) replay like the plain ones.
  switch (e.op) {
    case OpCode::kFaa:
      if (e.result != value) return false;
      value += e.arg0;
      return true;
    case OpCode::kCas:
      if (e.result != value) return false;
      if (value == e.arg0) value = e.arg1;
      return true;
    case OpCode::kSwap:
      if (e.result != value) return false;
      value = e.arg0;
      return true;
    case OpCode::kLoad:
      return e.result == value;
    case OpCode::kStore:
      value = e.arg0;
      return true;
    default:
      return e.marker();  // annotations change nothing; other steps are not a word's
  }
}

bool BlockReplay::Step(State& s, const Event& e) const {
  if (e.op == OpCode::kPull) {
    if (s.owner.valid()) return false;
    s.owner = e.cpu;
    return e.result == s.version;
  }
  if (e.op == OpCode::kPush) {
    if (s.owner != e.cpu) return false;
    s.owner = CpuId();
    ++s.version;
    return e.result == s.version;
  }
  return e.marker();
}

}  // namespace strata::machine
