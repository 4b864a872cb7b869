// The CLH queue lock as a module of strata's lock layer (kernel/lock.h).
//
// Shared: a `locked` word per node (cpus + 1 nodes; the last is the initial
// dummy) and `tail`, the index of the last node in line. Each CPU privately
// remembers which node it owns now and, while it holds the lock, its
// predecessor's node; a release hands its node to whoever comes next and
// takes over the predecessor's (CLH's node recycling).
//
//   acquire  SET_LOCKED 1 on my node; SWAP_TAIL(bound) (the doorway: my
//            place in line); WAIT_PRED: wait until the predecessor's node is
//            unlocked (the linearization point).
//   release  CLEAR_LOCKED on my node (the linearization point); my node is
//            now the predecessor's.
//
// Known-bad `clh-reuse-node`: the release keeps its own node instead of
// taking the predecessor's. A CPU that takes the lock again at once locks
// the node its successor still waits on: under some schedules both wait for
// each other (a deadlock).
#ifndef CLH_LOCK_H_
#define CLH_LOCK_H_

#include "kernel/lock.h"

namespace clh {

// Adds `clh` and the known-bad `clh-reuse-node` to `locks`.
void AddClhLocks(strata::kernel::LockRegistry& locks);

}  // namespace clh

#endif  // CLH_LOCK_H_
