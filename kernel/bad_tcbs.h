// Known-bad TCB-pool modules, kept on purpose: each breaks the TCB-pool
// layer in one way and must be caught with the verdict its registry entry
// declares.
#ifndef STRATA_KERNEL_BAD_TCBS_H_
#define STRATA_KERNEL_BAD_TCBS_H_

#include "kernel/tcb_pool.h"

namespace strata::kernel {

// Adds tcb-no-lock, tcb-forget-used, tcb-stale-fields, tcb-highest-free and
// tcb-write-free.
void AddKnownBadTcbPools(TcbRegistry& pools);

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_BAD_TCBS_H_
