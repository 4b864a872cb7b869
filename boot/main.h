// The `strata` command line as a function, so a user's project can build
// its own checker binary: every strata command over a catalog that holds
// strata's entries plus its own.
//
//   int main(int argc, char** argv) {
//     strata::boot::Catalog catalog = strata::boot::BuiltinCatalog();
//     catalog.locks.Add({"clh", "CLH queue lock", false, "", MakeClhLock});
//     return strata::boot::Main(argc, argv, catalog);
//   }
//
// Exit status: 0 success, 1 the simulated system or a check failed (a
// report and a schedule file were written), 2 bad usage or bad input (one
// line naming the file, the key and what was expected).
#ifndef STRATA_BOOT_MAIN_H_
#define STRATA_BOOT_MAIN_H_

#include "boot/catalog.h"

namespace strata::boot {

// Parses the command line and runs one command over `catalog`; returns the
// exit status.
int Main(int argc, char** argv, const Catalog& catalog);

}  // namespace strata::boot

#endif  // STRATA_BOOT_MAIN_H_
