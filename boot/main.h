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
//
// Under an MPI launcher (`mpirun -n P`, `srun`; boot/mpi_cluster.h) Main
// joins the job first: with P >= 2, rank 0 runs the command as one process
// would and the other ranks print nothing and write no file; they share
// the explorations of `check` and do nothing for any other command. Every
// rank returns rank 0's exit status (layers::EndShardedRun), then
// finalizes MPI. A process no launcher started never touches MPI.
#ifndef STRATA_BOOT_MAIN_H_
#define STRATA_BOOT_MAIN_H_

#include "boot/catalog.h"

namespace strata::boot {

// Parses the command line and runs one command over `catalog`; returns the
// exit status. Under an MPI launcher it may be called once per process
// (MPI is initialized and finalized inside).
int Main(int argc, char** argv, const Catalog& catalog);

}  // namespace strata::boot

#endif  // STRATA_BOOT_MAIN_H_
