#include "machine/replay.h"

namespace strata::machine {

bool WordReplay::Step(State& value, const Event& e) const {
  if (e.kind == kinds::kFaa) {
    if (e.result != value) return false;
    value += e.arg0;
  } else if (e.kind == kinds::kCas) {
    if (e.result != value) return false;
    if (value == e.arg0) value = e.arg1;
  } else if (e.kind == kinds::kSwap) {
    if (e.result != value) return false;
    value = e.arg0;
  } else if (e.kind == kinds::kLoad) {
    if (e.result != value) return false;
  } else if (e.kind == kinds::kStore) {
    value = e.arg0;
  } else {
    return false;
  }
  return true;
}

bool BlockReplay::Step(State& s, const Event& e) const {
  if (e.kind == kinds::kPull) {
    if (s.owner.valid()) return false;
    s.owner = e.cpu;
    return e.result == s.version;
  }
  if (e.kind == kinds::kPush) {
    if (s.owner != e.cpu) return false;
    s.owner = CpuId();
    ++s.version;
    return e.result == s.version;
  }
  return false;
}

}  // namespace strata::machine
