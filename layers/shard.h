// One exploration shared by the processes of a cluster (layers/cluster.h):
// the messages the explorer's ranks send each other, and the thread (the
// post office) that sends and receives them while the exploration runs.
//
// Every rank makes executions; a rank with nothing to do says so to the
// others (hungry), and a rank that is busy splits a part off its work and
// gives it to a hungry one (Give), as it would to an idle host thread of
// its own. The taker runs the part and sends back what it made (Done); the
// giver takes the part back in its order, as it would a part from a host
// thread, or tells the taker to stop it (Stop). Only the leader takes
// executions into the result. Every message names its exploration, so a
// late one from an exploration that ended is dropped.
//
// Follower: Begin waits for the leader's next exploration (or its word
// that the command ended), then a Shard runs it until the leader ends it
// (Handlers::end) and the follower says it has (Ended). Leader: Begin
// announces it, and End ends it on every rank.
#ifndef STRATA_LAYERS_SHARD_H_
#define STRATA_LAYERS_SHARD_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "layers/cluster.h"

namespace strata::layers {

// Leader: announces the next exploration, `label` (the layer), to every
// follower; returns true. Follower: waits for the leader's next
// exploration and returns true, or false if the leader ended the command
// instead (cluster.dismissed then holds its exit status). A follower whose
// next exploration is not `label` stops the process with an error: the
// ranks are not running the same command.
bool Begin(Cluster& cluster, const std::string& label);

class Shard {
 public:
  // Called on the post office's thread; they must not block for long.
  struct Handlers {
    // Part `id` (the giver's number for it) given to this rank by `from`:
    // Unpack `bytes` and make its executions from `first`; at least
    // `before` executions that count come before its own.
    std::function<void(int from, std::uint64_t id, std::uint64_t first, std::uint64_t before,
                       std::string bytes)>
        part;
    // The giver of part `id` will not take it back: stop it.
    std::function<void(int from, std::uint64_t id)> stop;
    // A part this rank gave ended where it ran: what it made.
    std::function<void(std::uint64_t id, std::string bytes)> done;
    // Follower: the leader ended the exploration.
    std::function<void()> end;
    // Whether this rank wants a part (asked often): it has nothing to do,
    // or will soon.
    std::function<bool()> idle;
    // Follower: the executions that count its threads have made so far in
    // this exploration, taken back by their givers or not (asked every
    // kSayEvery, for the leader's progress line).
    std::function<std::uint64_t()> counted;
    // Leader: the executions its root has taken so far (asked every
    // kSayEvery). Every part that runs anywhere comes after them in the
    // order: a capped exploration's parts stop once these and theirs reach
    // the cap.
    std::function<std::uint64_t()> taken;
  };
  // Starts the post office of the exploration Begin began.
  Shard(Cluster& cluster, Handlers handlers);
  // Sends what is left to send and stops the post office.
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // A rank that said it has nothing to do and was given nothing since, or
  // -1. Any thread.
  int Hungry() const;
  // Gives part `id` (this rank's number for it), whose executions begin at
  // `first` and come after at least `before` that count, to rank `to`, as
  // `bytes` (Strategy::Pack). Any thread.
  void Give(int to, std::uint64_t id, std::uint64_t first, std::uint64_t before, std::string bytes);
  // Tells `to` to stop part `id` this rank gave it. Any thread.
  void Stop(int to, std::uint64_t id);
  // Sends `from` what part `id` (its number) made, as `bytes`. Any thread.
  void Done(int from, std::uint64_t id, std::string bytes);
  // Leader: ends the exploration on every follower and waits until each
  // has stopped its parts; returns the executions they made in all.
  std::uint64_t End();
  // Follower, after Handlers::end: its parts stopped after making `made`
  // executions in all; tells the leader, and the post office stops.
  void Ended(std::uint64_t made);
  // Leader: what the followers said last of their Handlers::counted, in
  // all. Follower: what the leader said last of its Handlers::taken. Each
  // rank says it again within about kSayEvery of a change. Any thread.
  std::uint64_t FollowersCounted() const { return followers_counted_.load(std::memory_order_relaxed); }
  std::uint64_t LeaderTaken() const { return leader_taken_.load(std::memory_order_relaxed); }
  static constexpr std::chrono::milliseconds kSayEvery{50};

 private:
  void Run();
  void Dispatch(int from, const std::string& bytes);
  void Post(int to, std::string bytes);

  Cluster& cluster_;
  Handlers handlers_;
  const std::uint64_t exploration_;
  mutable std::mutex mu_;
  std::condition_variable wake_;   // something to send, or stop
  std::condition_variable ended_;  // leader: a follower ended
  std::vector<std::pair<int, std::string>> outbox_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  int followers_ended_ = 0;                          // guarded by mu_
  std::uint64_t followers_made_ = 0;                 // guarded by mu_
  // Per rank: parts given to it and received from it in this exploration,
  // and whether it is hungry (its last word, unless given a part since).
  std::vector<std::uint64_t> given_, received_;      // given_ guarded by mu_; received_ the post office's
  std::vector<char> hungry_;                         // guarded by mu_
  std::atomic<int> hungry_count_{0};
  bool said_idle_ = false;                           // the post office's
  std::vector<std::uint64_t> announced_;             // received_ when last said hungry; the post office's
  std::vector<std::uint64_t> counted_;               // per follower, what it said last; the post office's
  std::atomic<std::uint64_t> followers_counted_{0};  // their sum
  std::atomic<std::uint64_t> leader_taken_{0};
  // What this rank said last of its Handlers::counted or taken, and when;
  // the post office's.
  std::uint64_t said_ = 0;
  std::chrono::steady_clock::time_point said_at_{};
  std::thread post_office_;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_SHARD_H_
