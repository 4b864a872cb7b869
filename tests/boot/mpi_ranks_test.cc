// boot/mpi_cluster.h between real ranks: run under `mpirun -n 3` (or more;
// tests/boot/CMakeLists.txt does), every rank runs the same cases in the
// same order. Messages of every size class of Open MPI's shared-memory
// transport (empty, inside std::string's own object, eager, and rendezvous,
// whose send completes only once the receiver takes it) arrive whole and in
// order; sends complete once received; and the destructor ends the job
// with messages nobody polled for still in flight, rendezvous ones too,
// without hanging (the test's timeout is that check: MPI_Finalize returns
// on every rank only if every rank got there).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "boot/mpi_cluster.h"

namespace strata::testing {
namespace {

// doctest's cases take no arguments: the one cluster of this process, set
// by main before they run.
boot::MpiCluster* g_cluster = nullptr;

// A message: "phase from to seq|" then filler bytes that depend on all four,
// padded or cut to `size` bytes (a size below the header's is the header's
// prefix, still told apart by its length).
std::string Make(int phase, int from, int to, int seq, std::size_t size) {
  std::string m = fmt::format("{} {} {} {} {}|", phase, from, to, seq, size);
  for (std::size_t i = 0; m.size() < size; ++i) {
    m.push_back(static_cast<char>('a' + (i * 7 + phase + from * 3 + to * 5 + seq) % 26));
  }
  m.resize(size);
  return m;
}

// Messages that arrived, by phase, not taken yet (a faster rank may move on
// to the next phase while this one still receives).
std::map<int, std::deque<std::pair<int, std::string>>> g_early;

int PhaseOf(const std::string& m) { return m.empty() ? -1 : std::atoi(m.c_str()); }

// Polls once, keeping what arrived with its phase (empty messages belong
// to the first phase, the only one that sends any).
void PollOnce() {
  if (auto m = g_cluster->Poll()) {
    const int phase = m->second.empty() ? 1 : PhaseOf(m->second);
    g_early[phase].push_back(std::move(*m));
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// The next message of `phase`, or nullopt after 60 s, so a failure on one
// rank cannot hang the others forever.
std::optional<std::pair<int, std::string>> Receive(int phase) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto& arrived = g_early[phase]; !arrived.empty()) {
      auto m = std::move(arrived.front());
      arrived.pop_front();
      return m;
    }
    PollOnce();
  }
  return std::nullopt;
}

const std::vector<std::size_t> kSizes = {0,    1,    15,    16,      100,     4095,
                                         4096, 5000, 65537, 1 << 20, 3 << 20, 7};

TEST_CASE("every rank knows its rank, the job's size and the ranks on its host, as the launcher set them") {
  CHECK(g_cluster->size() >= 2);
  CHECK(g_cluster->rank() == boot::LauncherRank());
  CHECK(g_cluster->leader() == (g_cluster->rank() == 0));
  // mpirun runs every rank of the test on this host.
  CHECK(g_cluster->ranks_on_host() == g_cluster->size());
  if (const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) {
    CHECK(g_cluster->ranks_on_host() == std::atoi(local));
  }
}

TEST_CASE("messages of every size arrive whole and in the order each rank sent them") {
  const int me = g_cluster->rank(), n = g_cluster->size();
  for (int to = 0; to < n; ++to) {
    if (to == me) continue;
    for (std::size_t seq = 0; seq < kSizes.size(); ++seq) {
      // The caller's string is gone at once: the cluster keeps its own.
      g_cluster->Send(to, kSizes[seq] == 0 ? std::string() : Make(1, me, to, static_cast<int>(seq), kSizes[seq]));
    }
  }
  std::vector<std::size_t> next(static_cast<std::size_t>(n), 0);
  for (int got = 0; got < (n - 1) * static_cast<int>(kSizes.size()); ++got) {
    auto m = Receive(1);
    REQUIRE_MESSAGE(m.has_value(), fmt::format("rank {} waited 60 s for message {}", me, got));
    const auto [from, bytes] = std::move(*m);
    REQUIRE(from >= 0);
    REQUIRE(from < n);
    REQUIRE(from != me);
    const std::size_t seq = next[static_cast<std::size_t>(from)]++;
    REQUIRE(seq < kSizes.size());
    CAPTURE(from);
    CAPTURE(seq);
    const std::string want =
        kSizes[seq] == 0 ? std::string() : Make(1, from, me, static_cast<int>(seq), kSizes[seq]);
    CHECK(bytes.size() == want.size());
    CHECK(bytes == want);
  }
}

TEST_CASE("a send stays pending until it completes, and Poll completes it") {
  const int me = g_cluster->rank(), n = g_cluster->size();
  // A ring: each rank sends a rendezvous-sized message to the next.
  const int to = (me + 1) % n, from = (me + n - 1) % n;
  g_cluster->Send(to, Make(2, me, to, 0, 2 << 20));
  CHECK(g_cluster->pending_sends() >= 1);
  auto m = Receive(2);
  REQUIRE(m.has_value());
  CHECK(m->first == from);
  CHECK(m->second == Make(2, from, me, 0, 2 << 20));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (g_cluster->pending_sends() > 0 && std::chrono::steady_clock::now() < deadline) {
    PollOnce();
  }
  CHECK(g_cluster->pending_sends() == 0);
}

// What this case sends is received by no Poll: the destructors (after the
// last case) must take it, rendezvous messages included, and end on every
// rank. Its check is that the job ends, with status 0, within the test's
// timeout.
TEST_CASE("messages nobody polls for are left to the destructor") {
  const int me = g_cluster->rank(), n = g_cluster->size();
  for (int to = 0; to < n; ++to) {
    if (to == me) continue;
    for (std::size_t seq = 0; seq < kSizes.size(); ++seq) {
      g_cluster->Send(to, Make(3, me, to, static_cast<int>(seq), kSizes[seq] + 40));
    }
  }
  // Send completes the earlier sends that are done, never its own.
  CHECK(g_cluster->pending_sends() >= 1);
}

}  // namespace
}  // namespace strata::testing

int main(int argc, char** argv) {
  auto joined = strata::boot::JoinMpiCluster(&argc, &argv);
  if (!joined.ok() || *joined == nullptr) {
    std::fprintf(stderr, "mpi_ranks_test: %s\n",
                 joined.ok() ? "run it under mpirun -n 3" : std::string(joined.status().message()).c_str());
    return 2;
  }
  strata::testing::g_cluster = joined->get();
  doctest::Context context(argc, argv);
  const int status = context.run();
  strata::testing::g_cluster = nullptr;
  joined->reset();
  return status;
}
