// Known-bad scheduler modules, kept on purpose: each breaks the scheduler
// layer in one way and must be caught by `strata check --layer sched` with
// the verdict its registry entry declares. (module-lifo also starves
// threads in `strata boot` under thread bounds: configs/bad/starved-thread.toml.)
#ifndef STRATA_SCHED_BAD_SCHEDS_H_
#define STRATA_SCHED_BAD_SCHEDS_H_

#include "sched/csched.h"

namespace strata::sched {

// Adds module-yield-drops, module-wrong-cpu, module-lose-sleeper,
// module-leak-tcb and module-lifo.
void AddKnownBadScheds(SchedRegistry& scheds);

}  // namespace strata::sched

#endif  // STRATA_SCHED_BAD_SCHEDS_H_
