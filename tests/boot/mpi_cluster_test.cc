// boot/mpi_cluster.h in a process no MPI launcher started: which launcher
// variables make a process a rank, and that without them JoinMpiCluster
// leaves MPI alone (tests/boot/mpi_ranks_test.cc runs the cluster itself
// under mpirun).
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "boot/mpi_cluster.h"

namespace strata::testing {
namespace {

constexpr const char* kLauncherVariables[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                                              "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};

// Unsets every launcher variable for its lifetime, then puts them back.
class NoLauncher {
 public:
  NoLauncher() {
    for (const char* name : kLauncherVariables) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~NoLauncher() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_CASE("a process no MPI launcher started joins no cluster and is rank 0") {
  NoLauncher none;
  CHECK_FALSE(boot::StartedByMpiLauncher());
  CHECK(boot::LauncherRank() == 0);
  int argc = 1;
  char name[] = "strata";
  char* args[] = {name, nullptr};
  char** argv = args;
  auto cluster = boot::JoinMpiCluster(&argc, &argv);
  REQUIRE(cluster.ok());
  CHECK(*cluster == nullptr);
}

TEST_CASE("each launcher's variable marks a process as a rank, and gives its rank") {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    CAPTURE(name);
    NoLauncher none;
    ::setenv(name, "3", 1);
    CHECK(boot::StartedByMpiLauncher());
    ::setenv(name, "", 1);
    CHECK_FALSE(boot::StartedByMpiLauncher());
  }
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    CAPTURE(name);
    NoLauncher none;
    ::setenv(name, "5", 1);
    CHECK(boot::LauncherRank() == 5);
  }
}

}  // namespace
}  // namespace strata::testing
