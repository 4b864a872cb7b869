#include "sched/stack.h"

#include "sched/csched.h"

namespace strata::sched {

std::vector<kernel::LayerInfo> Stack(const StackOptions& o) {
  std::vector<kernel::LayerInfo> layers = kernel::Stack(o);
  layers.push_back({"sched",
                    o.sched,
                    {"spawn(entry) -> tid", "yield()", "sleep(cv)", "wakeup(cv) -> tid|-1",
                     "lock(l)", "unlock(l)", "exit", "idle() -> tid"},
                    "the lock layer (" + o.lock + ") and shared blocks"});
  return layers;
}

std::string LayerNames() { return kernel::LayerNames() + ", sched"; }

std::unique_ptr<layers::LayerPair> MakePair(std::string_view layer, const StackOptions& o) {
  if (layer == "sched") {
    SchedPairOptions p;
    p.sched.impl = o.sched;
    p.sched.lock = o.lock;
    p.sched.max_threads = o.max_threads;  // 0: sized by the pair for its client
    p.client = o.client;
    p.iterations = o.iterations;
    p.threads = o.threads;
    return MakeSchedPair(p);
  }
  return kernel::MakePair(layer, o);
}

}  // namespace strata::sched
