// Known-bad lock modules, kept on purpose: each breaks the lock layer in one
// way and must be caught with the verdict its registry entry declares.
#ifndef STRATA_KERNEL_BAD_LOCKS_H_
#define STRATA_KERNEL_BAD_LOCKS_H_

#include "kernel/lock.h"

namespace strata::kernel {

// Adds ticket-load-store, ticket-no-bump, ticket-double-bump, ticket-leaky,
// mcs-no-wait-next and mcs-keep-busy.
void AddKnownBadLocks(LockRegistry& locks);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_BAD_LOCKS_H_
