// The ranks of an MPI job as a layers::Cluster: how `mpirun -n P strata
// check ...` (or `srun`) shares each exploration between P processes. Byte
// messages go over MPI_COMM_WORLD with one tag, sent without waiting
// (MPI_Isend) and received by polling (MPI_Iprobe); MPI itself stays out of
// every other header, so a project that links strata::boot needs no MPI
// include path. A process no MPI launcher started never calls MPI_Init (a
// singleton init is slow and spawns a daemon): JoinMpiCluster tells the two
// apart from the environment the launchers set.
#ifndef STRATA_BOOT_MPI_CLUSTER_H_
#define STRATA_BOOT_MPI_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/cluster.h"

namespace strata::boot {

// Whether an MPI launcher started this process: one of the variables that
// Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMIx launcher such as `srun
// --mpi=pmix` (PMIX_RANK) or a PMI-1/2 one such as MPICH's Hydra or `srun
// --mpi=pmi2` (PMI_RANK, PMI_SIZE) puts in every rank's environment is set.
bool StartedByMpiLauncher();

// This process's rank as its launcher's environment gives it
// (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK), or 0 when none is set: for
// the one message that must be printed once before a cluster exists (a
// JoinMpiCluster error).
int LauncherRank();

// The one cluster of this process (MPI can be initialized once per process).
// Thread safety: MPI is initialized at MPI_THREAD_SERIALIZED, so every call
// (the constructor included, and the destructor) must be made by one thread
// at a time, with a happens-before edge between the calls of different
// threads (layers/cluster.h promises exactly that); there is no locking
// inside.
class MpiCluster final : public layers::Cluster {
 public:
  // Ends the job's MPI part on this rank: completes this rank's sends
  // while receiving (and dropping) whatever the others still send it,
  // agrees with every rank on how many messages each sent to each, drops
  // every message not received yet, then calls MPI_Finalize. Every rank
  // must destroy its cluster (it is collective), after the last Send of
  // any rank that is meant to be received (layers::EndShardedRun first).
  // Messages are never lost silently before that: only the destructor drops
  // them.
  ~MpiCluster() override;
  MpiCluster(const MpiCluster&) = delete;
  MpiCluster& operator=(const MpiCluster&) = delete;

  // The rank in MPI_COMM_WORLD and its size.
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  // The ranks on this host, this one included (those that MPI can join by
  // shared memory: MPI_COMM_TYPE_SHARED), counted when the cluster was made.
  int ranks_on_host() const override { return ranks_on_host_; }

  // Starts sending `bytes` to rank `to` (0 <= to < size(), to != rank(),
  // at most INT_MAX bytes: a STRATA_CHECK) and returns at once; the
  // message is kept until MPI says the send completed. Messages from one
  // rank to another arrive in the order sent (MPI's non-overtaking rule:
  // one communicator, one tag). Also completes earlier sends that are done.
  void Send(int to, std::string bytes) override;

  // The next message that has arrived, as (its sender, its bytes), or
  // nullopt; never waits. Also completes earlier sends that are done, and
  // drives MPI's progress, so a rank waiting for a message must keep
  // calling it.
  std::optional<std::pair<int, std::string>> Poll() override;

  // Sends started and not known to be complete yet (for tests).
  std::size_t pending_sends() const;

 private:
  friend absl::StatusOr<std::unique_ptr<MpiCluster>> JoinMpiCluster(int* argc, char*** argv);
  MpiCluster(int rank, int size, int ranks_on_host);
  // Forgets the sends MPI has completed.
  void ReapSends();

  struct Sends;  // the in-flight buffers and their MPI_Requests (MPI-free header)
  int rank_;
  int size_;
  int ranks_on_host_;
  std::unique_ptr<Sends> sends_;
  // Messages sent to and received from each rank, for the destructor's count.
  std::vector<std::int64_t> sent_;
  std::vector<std::int64_t> received_;
};

// Joins the MPI job this process was started in. Returns nullptr without
// touching MPI when no MPI launcher started it (StartedByMpiLauncher), else
// a cluster of every rank of MPI_COMM_WORLD after MPI_Init_thread(argc,
// argv, MPI_THREAD_SERIALIZED); a size-1 cluster under `mpirun -n 1`.
// Errors: an MPI library that provides a thread level below
// MPI_THREAD_SERIALIZED (MPI is finalized again first). Call it at most
// once per process; MPI aborts the job itself if it cannot start.
absl::StatusOr<std::unique_ptr<MpiCluster>> JoinMpiCluster(int* argc, char*** argv);

}  // namespace strata::boot

#endif  // STRATA_BOOT_MPI_CLUSTER_H_
