// Known-bad scheduler modules, kept on purpose: each breaks the scheduler
// layer in one way and must be caught with the verdict (or, for module-lifo,
// the boot outcome under thread bounds) its registry entry declares.
#ifndef STRATA_SCHED_BAD_SCHEDS_H_
#define STRATA_SCHED_BAD_SCHEDS_H_

#include "sched/csched.h"

namespace strata::sched {

// Adds module-yield-drops, module-wrong-cpu, module-reuse-tid,
// module-lose-sleeper and module-lifo.
void AddKnownBadScheds(SchedRegistry& scheds);

}  // namespace strata::sched

#endif  // STRATA_SCHED_BAD_SCHEDS_H_
