// A sharded exploration (layers/shard.h) over an in-process cluster whose
// ranks are threads: the leader's result (executions taken, in order, the
// counts, the shrunk failure) is the one of a single process, for any
// number of ranks and threads per rank; followers return empty results and
// end with the leader's exit status.
#include "layers/shard.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "layers/explorer.h"
#include "layers/wire.h"
#include "machine/machine.h"
#include "tests/layers/toy_layers.h"

namespace strata::layers::toy {
namespace {

using machine::MachineOptions;

// Ranks as threads of this process, each with a mailbox.
class LocalCluster final : public Cluster {
 public:
  struct Net {
    std::mutex mu;
    std::vector<std::deque<std::pair<int, std::string>>> boxes;
    std::uint64_t sent = 0;
  };
  LocalCluster(Net& net, int rank) : net_(net), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(net_.boxes.size()); }
  void Send(int to, std::string bytes) override {
    REQUIRE(to != rank_);
    const std::lock_guard<std::mutex> lock(net_.mu);
    net_.boxes[static_cast<std::size_t>(to)].emplace_back(rank_, std::move(bytes));
    ++net_.sent;
  }
  std::optional<std::pair<int, std::string>> Poll() override {
    const std::lock_guard<std::mutex> lock(net_.mu);
    auto& box = net_.boxes[static_cast<std::size_t>(rank_)];
    if (box.empty()) return std::nullopt;
    auto m = std::move(box.front());
    box.pop_front();
    return m;
  }

 private:
  Net& net_;
  int rank_;
};

// Runs `command` on `ranks` ranks (rank 0 on this thread) as a sharded
// command: each calls it with its cluster, then EndShardedRun with the
// status it returned. Returns the followers' final statuses; *messages
// counts what the ranks sent each other.
std::vector<int> Sharded(int ranks, const std::function<int(Cluster&)>& command,
                         std::uint64_t* messages = nullptr) {
  LocalCluster::Net net;
  net.boxes.resize(static_cast<std::size_t>(ranks));
  std::vector<int> statuses(static_cast<std::size_t>(ranks - 1), -1);
  std::vector<std::thread> followers;
  for (int r = 1; r < ranks; ++r) {
    followers.emplace_back([&, r] {
      LocalCluster me(net, r);
      const int status = command(me);
      statuses[static_cast<std::size_t>(r - 1)] = EndShardedRun(me, status);
    });
  }
  LocalCluster leader(net, 0);
  int status = -1;
  try {
    status = command(leader);
  } catch (const std::exception& e) {
    // The followers wait for the leader's word: a test that fails here
    // ends the process rather than hang.
    fmt::print(stderr, "the leader's command threw: {}\n", e.what());
    std::abort();
  }
  EndShardedRun(leader, status);
  for (std::thread& t : followers) t.join();
  if (messages != nullptr) *messages = net.sent;
  return statuses;
}

struct Taken {
  ExploreResult result;
  std::vector<std::uint64_t> hashes;  // of the executions taken, in order
};

// Explores `pair` on one process, or as the leader of a cluster (the
// followers explore too and their results are checked to be empty).
// Whether the exploration looks at each execution (ExploreOptions::each,
// which keeps every one whole) or only counts them (most are then kept as
// blocks of counts and travel as such).
enum class Look { kEach, kCounts };

Taken ExploreOn(const LayerPair& pair, int cpus, ExploreOptions explore, Cluster* cluster,
                Look look = Look::kEach) {
  Taken t;
  explore.cluster = cluster;
  if (look == Look::kEach) {
    explore.each = [&t](const Execution& x) { t.hashes.push_back(x.machine->log().hash()); };
  }
  t.result = Explore(pair, MachineOptions{.cpus = cpus}, explore);
  return t;
}

void CheckSame(const Taken& sharded, const Taken& one) {
  CHECK(sharded.hashes == one.hashes);
  CHECK(sharded.result.executions == one.result.executions);
  CHECK(sharded.result.logs_hash == one.result.logs_hash);
  CHECK(sharded.result.skipped == one.result.skipped);
  CHECK(sharded.result.events == one.result.events);
  CHECK(sharded.result.exhausted == one.result.exhausted);
  CHECK(sharded.result.worst_wait == one.result.worst_wait);
  CHECK(sharded.result.failure.has_value() == one.result.failure.has_value());
  if (sharded.result.failure && one.result.failure) {
    CHECK(sharded.result.failure->verdict.kind == one.result.failure->verdict.kind);
    CHECK(ToFailure(*sharded.result.failure) == ToFailure(*one.result.failure));
    CHECK(sharded.result.failure_original_steps == one.result.failure_original_steps);
    CHECK(sharded.result.failure->machine->log().hash() == one.result.failure->machine->log().hash());
  }
}

// Runs one exploration on one process and on `ranks` ranks of `jobs`
// threads each, and checks the leader's result is the single process's.
void CheckShardedAsOne(const LayerPair& pair, int cpus, const ExploreOptions& explore, int ranks, int jobs,
                       Look look = Look::kEach) {
  CAPTURE(ranks);
  CAPTURE(jobs);
  const Taken one = ExploreOn(pair, cpus, explore, nullptr);
  std::optional<Taken> lead;
  ExploreOptions mine = explore;
  mine.jobs = jobs;
  std::uint64_t messages = 0;
  const std::vector<int> statuses = Sharded(
      ranks,
      [&](Cluster& c) {
        Taken t = ExploreOn(pair, cpus, mine, &c, look);
        if (c.leader()) {
          CHECK(t.result.ranks == ranks);
          CHECK_FALSE(t.result.follower);
          const int status = t.result.failure ? 1 : 0;
          lead = std::move(t);
          return status;
        }
        CHECK(t.result.follower);
        CHECK_FALSE(t.result.dismissed);
        CHECK(t.hashes.empty());
        return 0;
      },
      &messages);
  REQUIRE(lead.has_value());
  if (look == Look::kCounts) lead->hashes = one.hashes;  // nothing to compare there
  CheckSame(*lead, one);
  // Every rank ends with the leader's status.
  for (int s : statuses) CHECK(s == (one.result.failure ? 1 : 0));
  // In a long enough exploration the others were given work: more
  // messages than the begin and end words.
  if (one.result.executions >= 1000) CHECK(messages > static_cast<std::uint64_t>(4 * (ranks - 1)));
  CHECK(lead->result.made >= lead->result.executions);
}

TEST_CASE("dfs sharded over 2 and 3 ranks takes the executions of one process, in its order") {
  for (const Reduction reduction : {Reduction::kDpor, Reduction::kSleep}) {
    CAPTURE(ReductionName(reduction));
    const CounterPair pair({.module = Module::kFaa, .iterations = 3});
    const ExploreOptions explore{.strategy = BuiltinStrategy("dfs"), .runs = 1'000'000, .reduction = reduction};
    for (const auto& [ranks, jobs] : {std::pair{2, 1}, std::pair{3, 1}, std::pair{2, 2}}) {
      CheckShardedAsOne(pair, 3, explore, ranks, jobs);
    }
  }
}

TEST_CASE("executions only counted travel between ranks as blocks and merge into one process's counts") {
  // Without `each`, the parts other ranks and threads make keep their
  // plain executions as blocks of log hashes and events; the cap may cut
  // one anywhere.
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  for (const std::uint64_t runs : {std::uint64_t{1'000'000}, std::uint64_t{700}, std::uint64_t{1501}}) {
    CAPTURE(runs);
    const ExploreOptions explore{.strategy = BuiltinStrategy("dfs"), .runs = runs, .reduction = Reduction::kSleep};
    for (const auto& [ranks, jobs] : {std::pair{2, 1}, std::pair{2, 2}, std::pair{3, 2}}) {
      CheckShardedAsOne(pair, 3, explore, ranks, jobs, Look::kCounts);
    }
  }
  const CounterPair lost({.module = Module::kLoadStore, .iterations = 2});
  CheckShardedAsOne(lost, 3, {.strategy = BuiltinStrategy("random"), .seed = 1, .runs = 5000}, 2, 2, Look::kCounts);
}

TEST_CASE("a failure in the part another rank made is taken in order and shrunk as one process does") {
  // Wrong only where the last cpu increments first: dfs's last branch at
  // the root, the first part the leader gives away.
  for (const int iterations : {2, 3}) {
    CAPTURE(iterations);
    const CounterPair late({.module = Module::kLastCpuFirst, .iterations = iterations});
    const ExploreOptions explore{.strategy = BuiltinStrategy("dfs"), .runs = 1'000'000, .symmetry = false};
    const Taken one = ExploreOn(late, 3, explore, nullptr);
    REQUIRE(one.result.failure.has_value());
    CHECK(one.result.failure->verdict.kind == machine::Outcome::kImpossibleUpperLog);
    CHECK(one.result.executions == (iterations == 2 ? 61u : 1121u));
    for (const auto& [ranks, jobs] : {std::pair{2, 1}, std::pair{3, 1}, std::pair{2, 2}}) {
      CheckShardedAsOne(late, 3, explore, ranks, jobs);
    }
  }
}

TEST_CASE("random and pct sharded find and shrink the lost update as one process does") {
  const CounterPair lost({.module = Module::kLoadStore, .iterations = 2});
  const CounterPair faa({.module = Module::kFaa, .iterations = 2});
  for (const char* strategy : {"random", "pct"}) {
    CAPTURE(strategy);
    // Passing: every run taken, in order; failing: the same first failure.
    CheckShardedAsOne(faa, 3, {.strategy = BuiltinStrategy(strategy), .seed = 3, .runs = 2000}, 2, 1);
    for (std::uint64_t seed = 1; seed <= 2; ++seed) {
      CAPTURE(seed);
      CheckShardedAsOne(lost, 3, {.strategy = BuiltinStrategy(strategy), .seed = seed, .runs = 5000}, 2, 1);
      CheckShardedAsOne(lost, 3, {.strategy = BuiltinStrategy(strategy), .seed = seed, .runs = 5000}, 3, 2);
    }
  }
}

TEST_CASE("a sharded dfs capped at a few runs takes exactly the runs of one process") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  for (std::uint64_t runs = 1; runs <= 60; runs += 11) {
    CAPTURE(runs);
    CheckShardedAsOne(pair, 3, {.strategy = BuiltinStrategy("dfs"), .runs = runs}, 2, 1);
  }
}

TEST_CASE("followers follow the leader's explorations and end with its status when it stops early") {
  const CounterPair lost({.module = Module::kLoadStore, .iterations = 2});
  const CounterPair faa({.module = Module::kFaa, .iterations = 2});
  int explored_by_follower = 0;
  const std::vector<int> statuses = Sharded(2, [&](Cluster& c) {
    // As strata check: layer after layer, until one fails.
    for (const CounterPair* pair : {&faa, &lost, &faa}) {
      const ExploreResult r = Explore(*pair, MachineOptions{.cpus = 2},
                                      {.strategy = BuiltinStrategy("random"), .runs = 3000, .cluster = &c});
      if (r.follower) {
        if (r.dismissed) return 0;
        ++explored_by_follower;
        continue;
      }
      if (r.failure) return 1;
    }
    return 0;
  });
  CHECK(explored_by_follower == 2);
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0] == 1);
}

TEST_CASE("a follower whose command ends before an exploration does not hold up the leader") {
  // As a follower whose node lacks a file: it refuses the command at once.
  const CounterPair faa({.module = Module::kFaa, .iterations = 2});
  std::optional<ExploreResult> lead;
  const std::vector<int> statuses = Sharded(3, [&](Cluster& c) {
    if (c.rank() == 2) return 2;
    ExploreResult r = Explore(faa, MachineOptions{.cpus = 3},
                              {.strategy = BuiltinStrategy("dfs"), .runs = 1'000'000, .cluster = &c});
    if (c.leader()) lead = std::move(r);
    return 0;
  });
  REQUIRE(lead.has_value());
  CHECK(lead->exhausted);
  CHECK(lead->executions == 90);
  // Every rank ends with the leader's status, the one that failed too.
  CHECK(statuses == std::vector<int>{0, 0});
}

TEST_CASE("the leader hears what each follower has counted, and the followers what it has taken") {
  // Follower r says it counted 1000 * r, then 1000 * r + 7: the leader's
  // sum follows the latest word of each. The leader says it took 500, then
  // 900: every follower hears both.
  std::atomic<int> step{0};
  std::atomic<std::uint64_t> leader_heard[2] = {0, 0};
  std::atomic<int> followers_heard[2] = {0, 0};
  const auto wait_until = [](const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  Sharded(3, [&](Cluster& c) {
    REQUIRE(Begin(c, "progress"));
    std::atomic<bool> ended{false};
    const std::uint64_t r = static_cast<std::uint64_t>(c.rank());
    Shard shard(c, {.part = [](int, std::uint64_t, std::uint64_t, std::uint64_t, std::string) {},
                    .stop = [](int, std::uint64_t) {},
                    .done = [](std::uint64_t, std::string) {},
                    .end = [&] { ended = true; },
                    .idle = [] { return false; },
                    .counted = [&] { return 1000 * r + (step.load() == 0 ? 0 : 7); },
                    .taken = [&] { return step.load() == 0 ? 500u : 900u; }});
    if (c.leader()) {
      wait_until([&] { return shard.FollowersCounted() == 3000 && followers_heard[0] == 2; });
      leader_heard[0] = shard.FollowersCounted();
      step = 1;
      wait_until([&] { return shard.FollowersCounted() == 3014 && followers_heard[1] == 2; });
      leader_heard[1] = shard.FollowersCounted();
      shard.End();
    } else {
      bool heard_first = false, heard_last = false;
      while (!ended) {
        if (!heard_first && shard.LeaderTaken() == 500) ++followers_heard[0], heard_first = true;
        if (!heard_last && shard.LeaderTaken() == 900) ++followers_heard[1], heard_last = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      shard.Ended(0);
    }
    return 0;
  });
  CHECK(leader_heard[0] == 3000);
  CHECK(leader_heard[1] == 3014);
  CHECK(followers_heard[0] == 2);
  CHECK(followers_heard[1] == 2);
}

TEST_CASE("a part travels as bytes: unpacked, it makes the executions it made before it left") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 2});
  for (const std::string name : {"random", "dfs"}) {
    CAPTURE(name);
    const StrategyOptions o{.cpus = 3, .seed = 7, .runs = 1000};
    std::unique_ptr<Strategy> whole = BuiltinStrategy(name)(o);
    // One execution, so that dfs has branches to give.
    machine::Oracle& oracle = whole->Next(0);
    Execution x = CheckExecution(pair, MachineOptions{.cpus = 3, .client_seed = 7}, oracle);
    whole->Finished(x.machine->schedule().size());
    REQUIRE(whole->Advance());
    std::uint64_t first = 0;
    const std::unique_ptr<Strategy> part = whole->Split(1, &first);
    REQUIRE(part != nullptr);
    const std::optional<std::string> bytes = part->Pack();
    REQUIRE(bytes.has_value());
    const std::unique_ptr<Strategy> other = BuiltinStrategy(name)(o);
    const std::unique_ptr<Strategy> copy = other->Unpack(*bytes);
    REQUIRE(copy != nullptr);
    // Both make the same executions.
    for (std::uint64_t i = first;; ++i) {
      CAPTURE(i);
      const MachineOptions run = part->MachineFor(MachineOptions{.cpus = 3, .client_seed = 7 + i});
      Execution a = CheckExecution(pair, run, part->Next(i));
      Execution b = CheckExecution(pair, copy->MachineFor(MachineOptions{.cpus = 3, .client_seed = 7 + i}),
                                   copy->Next(i));
      CHECK(a.machine->log().hash() == b.machine->log().hash());
      part->Finished(a.machine->schedule().size());
      copy->Finished(b.machine->schedule().size());
      const bool more = part->Advance();
      REQUIRE(copy->Advance() == more);
      if (!more || i > first + 200) break;
    }
    CHECK(part->PackOutcome() == copy->PackOutcome());
    // Bytes that are not a part are refused, not trusted.
    CHECK(other->Unpack("not a part") == nullptr);
    CHECK(other->Unpack("") == nullptr);
  }
}

TEST_CASE("the wire format reads back what it wrote and refuses what is cut short") {
  WireWriter out;
  out.U(0).U(300).U(UINT64_MAX).I(-1).I(INT64_MIN).I(42).B(true).S("ticket");
  const std::string bytes = out.Take();
  WireReader in(bytes);
  CHECK(in.U() == 0);
  CHECK(in.U() == 300);
  CHECK(in.U() == UINT64_MAX);
  CHECK(in.I() == -1);
  CHECK(in.I() == INT64_MIN);
  CHECK(in.I() == 42);
  CHECK(in.B());
  CHECK(in.S() == "ticket");
  CHECK(in.done());
  WireReader cut(std::string_view(bytes).substr(0, bytes.size() - 2));
  for (int k = 0; k < 7; ++k) cut.U();
  CHECK(cut.S().empty());
  CHECK_FALSE(cut.ok());
  const std::string count_only = WireWriter().U(1'000'000).Take();
  WireReader huge(count_only);
  CHECK(huge.Count() == 0);
  CHECK_FALSE(huge.ok());
  CHECK(InternKind("faa") == machine::kinds::kFaa);
}

}  // namespace
}  // namespace strata::layers::toy
