// A lock-protected ring-buffer queue as a module of strata's queue layer
// (kernel/queue.h), over any lock of the lock layer.
//
// Its block is laid out [head, size, slot 0 .. slot capacity-1]: the oldest
// value is in slot `head`, the next ones follow it around the ring. An
// operation takes the lock (bound 2: the pull and the push), pulls the
// block, works on it privately, pushes it (the linearization point) and
// releases the lock. Its view decodes that layout from every push, so the
// relation R compares the values in ring order with the spec's queue.
//
// Known-bad `ring-overwrite`: an enq into a full ring overwrites the oldest
// value and reports success.
#ifndef RING_QUEUE_H_
#define RING_QUEUE_H_

#include "kernel/queue.h"

namespace ring {

// Adds `ring` and the known-bad `ring-overwrite` to `queues`.
void AddRingQueues(strata::kernel::QueueRegistry& queues);

}  // namespace ring

#endif  // RING_QUEUE_H_
