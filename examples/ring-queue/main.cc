// ring-check: strata with the ring-buffer queue in its catalog. It has every
// strata command; `ring` and `ring-overwrite` are choices of `stack.queue`
// and `--queue`, over any lock of the catalog.
#include "boot/catalog.h"
#include "boot/main.h"
#include "ring_queue.h"

int main(int argc, char** argv) {
  strata::boot::Catalog catalog = strata::boot::BuiltinCatalog();
  ring::AddRingQueues(catalog.queues);
  return strata::boot::Main(argc, argv, catalog);
}
