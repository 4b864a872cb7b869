// clh-check: strata with the CLH lock in its catalog. It has every strata
// command (boot, check, layers, replay, tlink, bench); `clh` and
// `clh-reuse-node` are choices of `stack.lock` and `--lock` everywhere,
// under the queue and the scheduler too.
#include "boot/catalog.h"
#include "boot/main.h"
#include "clh_lock.h"

int main(int argc, char** argv) {
  strata::boot::Catalog catalog = strata::boot::BuiltinCatalog();
  clh::AddClhLocks(catalog.locks);
  return strata::boot::Main(argc, argv, catalog);
}
