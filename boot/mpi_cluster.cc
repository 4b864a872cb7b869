#include "boot/mpi_cluster.h"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::boot {
namespace {

// Every message of the cluster; no other traffic shares MPI_COMM_WORLD.
constexpr int kTag = 0x5157;

const char* ThreadLevelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "unknown";
  }
}

bool Set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0';
}

}  // namespace

// Buffers must not move while MPI reads them: each string lives on the heap
// behind its own pointer (a short string's bytes are inside the object).
struct MpiCluster::Sends {
  std::vector<MPI_Request> requests;
  std::vector<std::unique_ptr<std::string>> buffers;
};

bool StartedByMpiLauncher() {
  return Set("OMPI_COMM_WORLD_SIZE") || Set("PMIX_RANK") || Set("PMI_RANK") || Set("PMI_SIZE");
}

int LauncherRank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (Set(name)) return std::atoi(std::getenv(name));
  }
  return 0;
}

MpiCluster::MpiCluster(int rank, int size, int ranks_on_host)
    : rank_(rank),
      size_(size),
      ranks_on_host_(ranks_on_host),
      sends_(std::make_unique<Sends>()),
      sent_(size),
      received_(size) {}

void MpiCluster::ReapSends() {
  std::vector<MPI_Request>& requests = sends_->requests;
  if (requests.empty()) return;
  int done = 0;
  std::vector<int> indices(requests.size());
  MPI_Testsome(static_cast<int>(requests.size()), requests.data(), &done, indices.data(),
               MPI_STATUSES_IGNORE);
  if (done == 0 || done == MPI_UNDEFINED) return;
  // Testsome set the completed requests to MPI_REQUEST_NULL.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (requests[i] == MPI_REQUEST_NULL) continue;
    requests[kept] = requests[i];
    sends_->buffers[kept] = std::move(sends_->buffers[i]);
    ++kept;
  }
  requests.resize(kept);
  sends_->buffers.resize(kept);
}

void MpiCluster::Send(int to, std::string bytes) {
  STRATA_CHECK(to >= 0 && to < size_ && to != rank_, "rank {} sends to rank {} of {}", rank_, to,
               size_);
  STRATA_CHECK(bytes.size() <= static_cast<std::size_t>(INT_MAX),
               "a message of {} bytes (MPI counts in int)", bytes.size());
  ReapSends();
  auto buffer = std::make_unique<std::string>(std::move(bytes));
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Isend(buffer->data(), static_cast<int>(buffer->size()), MPI_BYTE, to, kTag, MPI_COMM_WORLD,
            &request);
  sends_->requests.push_back(request);
  sends_->buffers.push_back(std::move(buffer));
  ++sent_[to];
}

std::optional<std::pair<int, std::string>> MpiCluster::Poll() {
  ReapSends();
  int arrived = 0;
  MPI_Status status;
  MPI_Iprobe(MPI_ANY_SOURCE, kTag, MPI_COMM_WORLD, &arrived, &status);
  if (!arrived) return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::string bytes(static_cast<std::size_t>(count), '\0');
  // One thread at a time calls in, so the message probed is the one received.
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTag, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  ++received_[status.MPI_SOURCE];
  return std::make_pair(static_cast<int>(status.MPI_SOURCE), std::move(bytes));
}

std::size_t MpiCluster::pending_sends() const { return sends_->requests.size(); }

// Waiting for the sends and then meeting at a barrier could hang: a large
// message goes by rendezvous, and its send completes only once the receiver
// posts the receive, which a receiver waiting at the barrier never does. So
// each stage below keeps receiving while it waits, and the ranks agree on
// how many messages each sent to each, so that every message is received
// before MPI_Finalize (MPI requires it of unreceived messages whose sends
// completed) and none is waited for that was never sent.
MpiCluster::~MpiCluster() {
  // Between polls that find nothing, a short sleep: MPI's own waits spin
  // a core, and the other ranks may take a while to get here.
  auto drop_arrived = [this] {
    bool any = false;
    while (Poll()) any = true;
    if (!any) std::this_thread::sleep_for(std::chrono::microseconds(50));
  };
  while (!sends_->requests.empty()) drop_arrived();

  std::vector<std::int64_t> expected(static_cast<std::size_t>(size_));
  MPI_Request exchange = MPI_REQUEST_NULL;
  MPI_Ialltoall(sent_.data(), 1, MPI_INT64_T, expected.data(), 1, MPI_INT64_T, MPI_COMM_WORLD,
                &exchange);
  for (int exchanged = 0; !exchanged;) {
    drop_arrived();
    MPI_Test(&exchange, &exchanged, MPI_STATUS_IGNORE);
  }
  // What is still missing was sent eagerly, so it is on its way: waiting
  // for it by blocking is safe.
  for (int from = 0; from < size_; ++from) {
    while (received_[from] < expected[from]) {
      MPI_Status status;
      MPI_Probe(from, kTag, MPI_COMM_WORLD, &status);
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      std::string bytes(static_cast<std::size_t>(count), '\0');
      MPI_Recv(bytes.data(), count, MPI_BYTE, from, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      ++received_[from];
    }
  }
  MPI_Finalize();
}

absl::StatusOr<std::unique_ptr<MpiCluster>> JoinMpiCluster(int* argc, char*** argv) {
  if (!StartedByMpiLauncher()) return nullptr;
  int initialized = 0;
  MPI_Initialized(&initialized);
  STRATA_CHECK(!initialized, "JoinMpiCluster called twice in one process");
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    return absl::FailedPreconditionError(
        fmt::format("this MPI library provides thread level {} ({}); strata needs "
                    "MPI_THREAD_SERIALIZED",
                    provided, ThreadLevelName(provided)));
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm host = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &host);
  int on_host = 1;
  MPI_Comm_size(host, &on_host);
  MPI_Comm_free(&host);
  return std::unique_ptr<MpiCluster>(new MpiCluster(rank, size, on_host));
}

}  // namespace strata::boot
