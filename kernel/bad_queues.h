// Known-bad queue modules, kept on purpose: each breaks the queue layer in
// one way and must be caught with the verdict its registry entry declares.
#ifndef STRATA_KERNEL_BAD_QUEUES_H_
#define STRATA_KERNEL_BAD_QUEUES_H_

#include "kernel/queue.h"

namespace strata::kernel {

// Adds module-no-lock, module-no-pull, module-lifo, module-full-overwrites
// and module-off-by-one.
void AddKnownBadQueues(QueueRegistry& queues);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_BAD_QUEUES_H_
