#include "layers/shard.h"

#include <algorithm>
#include <chrono>

#include "layers/wire.h"
#include "machine/check.h"

namespace strata::layers {
namespace {

// What a message is; then the exploration it belongs to; then its fields.
enum Type : std::uint64_t {
  kBegin = 1,  // label
  kQuit,       // the leader's exit status (exploration 0)
  kHungry,     // parts the sender received from the receiver so far
  kFull,
  kPart,       // id, first, before, the part's bytes
  kStop,       // id
  kDone,       // id, what it made
  kEnd,
  kEnded,      // executions the follower made
  kCounted,    // follower: executions that count it made so far (for progress)
  kTaken,      // leader: executions its root took so far (for capped parts)
};

WireWriter Message(Type type, std::uint64_t exploration) {
  WireWriter out;
  out.U(type).U(exploration);
  return out;
}

// Waits for a message, polling: the cluster has no blocking receive (MPI's
// spins a core), and a rank between explorations has nothing else to do.
std::pair<int, std::string> Wait(Cluster& cluster) {
  for (;;) {
    if (auto m = cluster.Poll()) return std::move(*m);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

bool Begin(Cluster& cluster, const std::string& label) {
  if (cluster.leader()) {
    const std::uint64_t exploration = ++cluster.explorations;
    for (int r = 1; r < cluster.size(); ++r) cluster.Send(r, Message(kBegin, exploration).S(label).Take());
    return true;
  }
  if (cluster.dismissed) return false;
  for (;;) {
    auto [from, bytes] = Wait(cluster);
    WireReader in(bytes);
    const std::uint64_t type = in.U(), exploration = in.U();
    if (from != 0) {
      // Another follower's, of this exploration (kept for it) or of one
      // that ended (dropped then).
      cluster.early.emplace_back(from, std::move(bytes));
      continue;
    }
    if (type == kQuit) {
      cluster.dismissed = static_cast<int>(in.I());
      return false;
    }
    if (type != kBegin) continue;
    const std::string theirs = in.S();
    STRATA_CHECK(theirs == label,
                 "rank {} is to explore {} where rank 0 explores {}: every rank must run the same command "
                 "on the same files",
                 cluster.rank(), label, theirs);
    cluster.explorations = exploration;
    return true;
  }
}

int EndShardedRun(Cluster& cluster, int status) {
  if (cluster.leader()) {
    for (int r = 1; r < cluster.size(); ++r) cluster.Send(r, Message(kQuit, 0).I(status).Take());
    return status;
  }
  cluster.early.clear();
  while (!cluster.dismissed) {
    auto [from, bytes] = Wait(cluster);
    if (from != 0) continue;
    WireReader in(bytes);
    const std::uint64_t type = in.U(), exploration = in.U();
    if (type == kQuit) {
      cluster.dismissed = static_cast<int>(in.I());
    } else if (type == kEnd) {
      // The leader explored without this rank (its command ended first,
      // say on an error only its node has): it made nothing.
      cluster.Send(0, Message(kEnded, exploration).U(0).Take());
    }
  }
  return *cluster.dismissed;
}

Shard::Shard(Cluster& cluster, Handlers handlers)
    : cluster_(cluster),
      handlers_(std::move(handlers)),
      exploration_(cluster.explorations),
      given_(static_cast<std::size_t>(cluster.size()), 0),
      received_(static_cast<std::size_t>(cluster.size()), 0),
      hungry_(static_cast<std::size_t>(cluster.size()), 0),
      announced_(static_cast<std::size_t>(cluster.size()), 0),
      counted_(static_cast<std::size_t>(cluster.size()), 0),
      post_office_([this] { Run(); }) {}

Shard::~Shard() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  post_office_.join();
}

int Shard::Hungry() const {
  if (hungry_count_.load(std::memory_order_relaxed) == 0) return -1;
  const std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t r = 0; r < hungry_.size(); ++r) {
    if (hungry_[r]) return static_cast<int>(r);
  }
  return -1;
}

void Shard::Post(int to, std::string bytes) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    outbox_.emplace_back(to, std::move(bytes));
  }
  wake_.notify_all();
}

void Shard::Give(int to, std::uint64_t id, std::uint64_t first, std::uint64_t before,
                 std::string bytes) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    const auto r = static_cast<std::size_t>(to);
    ++given_[r];
    if (hungry_[r]) {
      hungry_[r] = 0;
      hungry_count_.fetch_sub(1, std::memory_order_relaxed);
    }
    outbox_.emplace_back(to, Message(kPart, exploration_).U(id).U(first).U(before).S(bytes).Take());
  }
  wake_.notify_all();
}

void Shard::Stop(int to, std::uint64_t id) { Post(to, Message(kStop, exploration_).U(id).Take()); }

void Shard::Done(int from, std::uint64_t id, std::string bytes) {
  Post(from, Message(kDone, exploration_).U(id).S(bytes).Take());
}

std::uint64_t Shard::End() {
  for (int r = 1; r < cluster_.size(); ++r) Post(r, Message(kEnd, exploration_).Take());
  std::unique_lock<std::mutex> lock(mu_);
  ended_.wait(lock, [&] { return followers_ended_ == cluster_.size() - 1; });
  return followers_made_;
}

void Shard::Ended(std::uint64_t made) {
  // The post office's last message: it stops with it, before it could
  // take the leader's next word (which Begin waits for) as a late one.
  {
    const std::lock_guard<std::mutex> lock(mu_);
    outbox_.emplace_back(0, Message(kEnded, exploration_).U(made).Take());
    stopping_ = true;
  }
  wake_.notify_all();
}

void Shard::Dispatch(int from, const std::string& bytes) {
  WireReader in(bytes);
  const std::uint64_t type = in.U();
  if (in.U() != exploration_) return;  // of an exploration that ended
  const auto r = static_cast<std::size_t>(from);
  switch (type) {
    case kHungry: {
      const std::uint64_t received = in.U();
      const std::lock_guard<std::mutex> lock(mu_);
      // Not if it said so before it got the parts given it since.
      if (received == given_[r] && !hungry_[r]) {
        hungry_[r] = 1;
        hungry_count_.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    }
    case kFull: {
      const std::lock_guard<std::mutex> lock(mu_);
      if (hungry_[r]) {
        hungry_[r] = 0;
        hungry_count_.fetch_sub(1, std::memory_order_relaxed);
      }
      break;
    }
    case kPart: {
      ++received_[r];
      const std::uint64_t id = in.U(), first = in.U(), before = in.U();
      std::string part = in.S();
      STRATA_CHECK(in.done(), "a malformed part from rank {}", from);
      handlers_.part(from, id, first, before, std::move(part));
      break;
    }
    case kStop:
      handlers_.stop(from, in.U());
      break;
    case kDone: {
      const std::uint64_t id = in.U();
      std::string made = in.S();
      STRATA_CHECK(in.done(), "a malformed result from rank {}", from);
      handlers_.done(id, std::move(made));
      break;
    }
    case kEnd:
      handlers_.end();
      break;
    case kCounted: {
      const std::uint64_t counted = in.U();
      // Counts only grow, and one rank's messages arrive in order.
      followers_counted_.fetch_add(counted - counted_[r], std::memory_order_relaxed);
      counted_[r] = counted;
      break;
    }
    case kTaken:
      leader_taken_.store(in.U(), std::memory_order_relaxed);
      break;
    case kEnded: {
      const std::uint64_t made = in.U();
      {
        const std::lock_guard<std::mutex> lock(mu_);
        ++followers_ended_;
        followers_made_ += made;
      }
      ended_.notify_all();
      break;
    }
    default:
      STRATA_CHECK(false, "an unexpected message (type {}) from rank {} during an exploration", type, from);
  }
}

void Shard::Run() {
  // Polls often while this rank waits for work (a part comes sooner) or
  // messages come, and backs off while it is busy and none do (polling
  // takes time from the executions on its core).
  constexpr auto kQuickest = std::chrono::microseconds(50), kSlowest = std::chrono::microseconds(1000);
  auto pause = kQuickest;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::vector<std::pair<int, std::string>> out = std::move(outbox_);
    outbox_.clear();
    const bool stop = stopping_;
    lock.unlock();
    bool busy = !out.empty();
    for (auto& [to, bytes] : out) cluster_.Send(to, std::move(bytes));
    if (stop) return;
    for (; !cluster_.early.empty(); cluster_.early.pop_front()) {
      Dispatch(cluster_.early.front().first, cluster_.early.front().second);
    }
    while (auto m = cluster_.Poll()) {
      Dispatch(m->first, m->second);
      busy = true;
    }
    const bool idle = handlers_.idle && handlers_.idle();
    for (int r = 0; r < cluster_.size(); ++r) {
      if (r == cluster_.rank()) continue;
      const auto i = static_cast<std::size_t>(r);
      // Said again to a rank whose parts came since: it took this rank
      // for fed when it gave them.
      if (idle == said_idle_ && (!idle || announced_[i] == received_[i])) continue;
      Post(r, idle ? Message(kHungry, exploration_).U(received_[i]).Take() : Message(kFull, exploration_).Take());
      announced_[i] = received_[i];
      busy = true;
    }
    said_idle_ = idle;
    // The leader says what its root took to the followers, a follower
    // what it counted to the leader.
    const std::function<std::uint64_t()>& say = cluster_.leader() ? handlers_.taken : handlers_.counted;
    const auto now = std::chrono::steady_clock::now();
    if (say && now - said_at_ >= kSayEvery) {
      said_at_ = now;
      if (const std::uint64_t n = say(); n != said_) {
        said_ = n;
        if (cluster_.leader()) {
          for (int r = 1; r < cluster_.size(); ++r) Post(r, Message(kTaken, exploration_).U(n).Take());
        } else {
          Post(0, Message(kCounted, exploration_).U(n).Take());
        }
        busy = true;
      }
    }
    lock.lock();
    if (busy || idle) {
      pause = kQuickest;
    } else {
      pause = std::min(pause * 2, kSlowest);
    }
    if (!busy && outbox_.empty() && !stopping_) wake_.wait_for(lock, pause);
  }
}

}  // namespace strata::layers
