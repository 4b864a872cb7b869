// The `strata` binary: the command line over the built-in catalog.
#include "boot/catalog.h"
#include "boot/main.h"

int main(int argc, char** argv) {
  return strata::boot::Main(argc, argv, strata::boot::BuiltinCatalog());
}
