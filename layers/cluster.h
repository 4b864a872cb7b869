// The processes of a sharded exploration (strata check under mpirun): a
// transport of byte messages between ranks, so that layers/ knows nothing of
// MPI (boot/mpi_cluster.cc implements it over MPI; tests over threads).
//
// Rank 0, the leader, runs the command as one process would and takes every
// execution; the others (followers) run the same command silently and make
// the parts of each exploration that the ranks give each other
// (ExploreOptions::cluster, layers/explorer.cc). The exploration's result
// does not depend on the number of ranks.
#ifndef STRATA_LAYERS_CLUSTER_H_
#define STRATA_LAYERS_CLUSTER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace strata::layers {

class Cluster {
 public:
  virtual ~Cluster() = default;
  // This process's rank, 0 to size() - 1, and how many there are (>= 1).
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool leader() const { return rank() == 0; }
  // How many of the ranks (this one included) run on this host: they
  // share its cores. By default 1.
  virtual int ranks_on_host() const { return 1; }

  // Sends `bytes` to rank `to` (!= rank()) without waiting for it to be
  // received. Messages from one rank to another arrive in the order sent.
  virtual void Send(int to, std::string bytes) = 0;
  // A message that has arrived, as (its sender, its bytes), or nullopt;
  // never waits.
  virtual std::optional<std::pair<int, std::string>> Poll() = 0;

  // The calls above are made by one thread at a time (the explorer's post
  // office, or the thread that made the cluster), never concurrently.

  // Kept by the explorer (layers/shard.cc) from one exploration to the
  // next: how many have begun, and, on a follower, the leader's exit status
  // once it ended the command.
  std::uint64_t explorations = 0;
  std::optional<int> dismissed;
  // Messages of other ranks that came while this one waited for the
  // leader's next exploration: theirs may have begun already.
  std::deque<std::pair<int, std::string>> early;
};

// Ends a sharded command: the leader tells every follower to stop with
// `status` (its exit status); a follower waits for that word (serving no
// exploration) and returns the leader's status. Call it once on every
// rank, after the command, before the cluster is destroyed. Returns
// `status` on the leader.
int EndShardedRun(Cluster& cluster, int status);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_CLUSTER_H_
