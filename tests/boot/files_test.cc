// The user's files (boot/files.h) and what a run asks of the host
// (boot/host_limits.h): inputs that are no files, outputs checked against
// inputs and each other, atomic writes, and runs refused before they start.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "boot/files.h"
#include "boot/host_limits.h"
#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

using boot::OutputFile;

TEST_CASE("an input that is no regular file is refused with one line naming it") {
  TempDir dir;
  std::filesystem::create_directories(dir.File("d"));
  const std::string what = "the config file (expected a TOML file)";
  CHECK(boot::ReadInputFile(dir.File("d"), what).status().message() ==
        dir.File("d") + ": is a directory, not the config file (expected a TOML file)");
  CHECK(boot::ReadInputFile("/dev/zero", what).status().message() ==
        "/dev/zero: is not a regular file, not the config file (expected a TOML file)");
  CHECK(boot::ReadInputFile("/proc/self/mem", what).status().message() ==
        "/proc/self/mem: cannot read the config file (expected a TOML file)");
  CHECK(boot::ReadInputFile(dir.File("none"), what).status().code() == absl::StatusCode::kNotFound);
  CHECK(*boot::ReadInputFile(dir.Write("c.toml", "[machine]\n"), what) == "[machine]\n");
}

TEST_CASE("an output may not be an input, another output, or a directory") {
  TempDir dir;
  const std::string config = dir.Write("c.toml", "");
  std::filesystem::create_directories(dir.File("x.txt"));
  const std::vector<std::pair<std::string, std::string>> inputs = {{config, "the config"}, {"", "none"}};
  auto check = [&](std::vector<OutputFile> outputs) {
    return std::string(boot::CheckOutputs(outputs, inputs).message());
  };
  // Another spelling of the same file is the same file.
  const std::string same = dir.File("sub/../c.toml");
  std::filesystem::create_directories(dir.File("sub"));
  CHECK(check({{same, "--log"}}) ==
        same + ": --log: is also the config (expected an output path of its own)");
  CHECK(check({{dir.File("s"), "--log"}, {dir.File("./s"), "--schedule"}}) ==
        dir.File("./s") + ": --schedule: is also --log's file " + dir.File("s") +
            " (expected an output path of its own)");
  CHECK(check(boot::OutputsOf("--log", dir.File("x"))) ==
        dir.File("x.txt") + ": --log: is a directory (expected a file path)");
  CHECK(check({{dir.File("no/such/f"), "--trace"}}) ==
        dir.File("no/such/f") +
            ": --trace: cannot write this file (expected a path in a writable directory)");
  CHECK(check({{dir.File("a"), "--log"}, {"", "--report"}, {dir.File("b"), "--trace"}}).empty());
  // The check leaves nothing behind.
  CHECK(!std::filesystem::exists(dir.File("a")));
  CHECK(!std::filesystem::exists(dir.File("b")));
}

TEST_CASE("an atomic write replaces the file whole and touches no other") {
  TempDir dir;
  const std::string path = dir.Write("out.json", "old");
  dir.Write("out.json.tmp", "a file of the user's");
  REQUIRE(boot::WriteFileAtomically(path, "new").ok());
  CHECK(dir.Read("out.json") == "new");
  CHECK(dir.Read("out.json.tmp") == "a file of the user's");
  CHECK(dir.Files() == 2);
  CHECK(boot::WriteFileAtomically(dir.File("no/such/f"), "x").message() ==
        dir.File("no/such/f") + ": cannot write this file (expected a writable path)");
}

TEST_CASE("an output path that is a symbolic link writes the file it names, and keeps the link") {
  TempDir dir;
  const std::string target = dir.Write("target.txt", "old");
  std::filesystem::create_symlink(target, dir.File("link.html"));
  REQUIRE(boot::CheckOutputs(boot::OutputsOf("--report", dir.File("link.html")), {}).ok());
  REQUIRE(boot::WriteFileAtomically(dir.File("link.html"), "new").ok());
  CHECK(std::filesystem::is_symlink(dir.File("link.html")));
  CHECK(dir.Read("target.txt") == "new");
  CHECK(dir.Files() == 2);  // the target, and the link to it: no temporary file
  // A link to a file not made yet (relative to the link's folder) makes it.
  std::filesystem::create_directories(dir.File("sub"));
  std::filesystem::create_symlink("../made.txt", dir.File("sub/dangling.html"));
  REQUIRE(boot::WriteFileAtomically(dir.File("sub/dangling.html"), "made").ok());
  CHECK(std::filesystem::is_symlink(dir.File("sub/dangling.html")));
  CHECK(dir.Read("made.txt") == "made");
  // A link to a device is refused as the device is (/dev/stdout on a
  // terminal; as root, writing it replaced the link).
  std::filesystem::create_symlink("/dev/null", dir.File("null"));
  CHECK(boot::CheckWritable(dir.File("null"), "--report").message() ==
        dir.File("null") + ": --report: is not a regular file (expected a file path)");
  CHECK(std::filesystem::is_symlink(dir.File("null")));
}

TEST_CASE("an output written piece by piece appears whole at its commit, and an output not "
          "committed leaves no file") {
  TempDir dir;
  const std::string path = dir.Write("w.json", "old");
  // Pieces past the writer's 1 MiB buffer go to the temporary file first.
  std::string expected;
  {
    boot::OutputWriter out;
    REQUIRE(out.Open(path).ok());
    for (int i = 0; i < 3000; ++i) {
      const std::string piece = fmt::format("{:04}", i) + std::string(996, 'x');
      out.Append(piece);
      expected += piece;
    }
    out.Append(std::string(3 << 20, 'y'));  // a piece larger than the buffer
    expected += std::string(3 << 20, 'y');
    CHECK(dir.Read("w.json") == "old");
    CHECK(dir.Files() == 2);  // the temporary file
    REQUIRE(out.Commit().ok());
  }
  CHECK(dir.Read("w.json") == expected);
  CHECK(dir.Files() == 1);
  {
    boot::OutputWriter out;
    REQUIRE(out.Open(path).ok());
    out.Append("never committed");
  }
  CHECK(dir.Read("w.json") == expected);
  CHECK(dir.Files() == 1);
  // What a second SIGINT does before the process ends.
  boot::OutputWriter open;
  REQUIRE(open.Open(dir.File("n.json")).ok());
  CHECK(dir.Files() == 2);
  boot::RemoveUncommittedOutputs();
  CHECK(dir.Files() == 1);
  CHECK(!std::filesystem::exists(dir.File("n.json")));
}

TEST_CASE("an output whose write fails (a full disk) is an error naming it, and leaves no file") {
  TempDir dir;
  const std::string path = dir.Write("w.json", "old");
  // A file size limit stands for a full disk: a write past it fails.
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &before) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = before;
  small.rlim_cur = 1 << 20;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  boot::OutputWriter out;
  absl::Status status = out.Open(path);
  if (status.ok()) {
    for (int i = 0; i < 4; ++i) out.Append(std::string(1 << 20, 'x'));
    status = out.Commit();
  }
  ::setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, old_handler);
  CHECK(status.message() == path + ": writing failed");
  CHECK(dir.Read("w.json") == "old");
  CHECK(dir.Files() == 1);
}

boot::Config ThreadCounter(int cpus, int threads) {
  boot::Config c;
  c.source = "c.toml";
  c.machine.cpus = cpus;
  c.workload = "thread-counter";
  c.threads = threads;
  return c;
}

TEST_CASE("a run that needs more memory maps or memory than the host has is refused naming the key") {
  const boot::HostLimits limits{.max_map_count = 65530, .maps_in_use = 300,
                                .available_bytes = std::uint64_t{1} << 30, .page_bytes = 4096};
  auto demand = [](const boot::Config& c, boot::Command command) {
    absl::StatusOr<boot::HostDemand> d = boot::RunDemand(c, Builtin(), command);
    REQUIRE(d.ok());
    return *d;
  };
  // 2 runs x (64 cpus + 64 x 500 threads) stacks, 2 maps each.
  CHECK(boot::CheckHostLimits(demand(ThreadCounter(64, 500), boot::kBootCommand), limits).message() ==
        "c.toml: workload.threads: workload.threads = 500 needs 64128 fiber stacks at once (128256 "
        "memory maps, 2 runs alive together), more than this host allows (vm.max_map_count "
        "65530, 300 maps in use): expected at most 245");
  boot::HostLimits more_memory = limits;
  more_memory.available_bytes = std::uint64_t{8} << 30;
  CHECK(boot::CheckHostLimits(demand(ThreadCounter(64, 245), boot::kBootCommand), more_memory).ok());
  CHECK(!boot::CheckHostLimits(demand(ThreadCounter(64, 246), boot::kBootCommand), more_memory).ok());
  // 64 KiB stacks + a guard page + a page of stagger: 1 GiB holds 14563 of them.
  CHECK(boot::CheckHostLimits(demand(ThreadCounter(4, 3000), boot::kBootCommand), limits).message() ==
        "c.toml: workload.threads: 24008 fiber stacks of 64 KiB (machine.stack_kib) need 1689 "
        "MiB, more than the 1024 MiB this host has available: expected at most 1819");
  // A bare-machine workload's stacks are its cpus'.
  boot::Config bare;
  bare.source = "b.toml";
  bare.machine.cpus = 1024;
  bare.machine.stack_bytes = std::size_t{1} << 20;
  CHECK(boot::CheckHostLimits(demand(bare, boot::kBootCommand), limits).message() ==
        "b.toml: machine.cpus: 2048 fiber stacks of 1024 KiB (machine.stack_kib) need 2064 MiB, "
        "more than the 1024 MiB this host has available: expected at most 508");
  // When the key's smallest value does not fit either, the stacks are too large.
  boot::Config large = ThreadCounter(1, 1);
  large.machine.stack_bytes = std::size_t{256} << 20;
  CHECK(boot::CheckHostLimits(demand(large, boot::kBootCommand), limits).message() ==
        "c.toml: machine.stack_kib: 4 fiber stacks of 262144 KiB (machine.stack_kib) need 1025 "
        "MiB, more than the 1024 MiB this host has available: expected at most 262136 KiB");
  // A check's client threads count for check, not the boot workload's.
  boot::Config check = ThreadCounter(64, 500);
  check.stack.client = "thread-counter";
  check.stack.threads = 2;
  check.jobs = 1;
  CHECK(boot::CheckHostLimits(demand(check, boot::kCheckCommand), limits).ok());
  // Each host thread of a check makes its own executions on its own stacks:
  // 1024 cpus fit 24 threads and not 40 (which crashed: std::bad_alloc).
  boot::Config wide;
  wide.source = "w.toml";
  wide.machine.cpus = 1024;
  wide.check_layer = "lock";
  wide.jobs = 24;
  CHECK(boot::CheckHostLimits(demand(wide, boot::kCheckCommand), more_memory).ok());
  wide.jobs = 40;
  CHECK(boot::CheckHostLimits(demand(wide, boot::kCheckCommand), more_memory).message() ==
        "w.toml: machine.cpus: machine.cpus = 1024 needs 43008 fiber stacks at once (86016 memory maps, 42 "
        "runs alive together, one per host thread of check.jobs = 40), more than this host allows "
        "(vm.max_map_count 65530, 300 maps in use): expected at most 752");
  // A schedule's steps are held in memory when it is replayed.
  boot::HostDemand steps;
  steps.source = "s.schedule";
  steps.steps = 1'000'000'000'000;
  CHECK(boot::CheckHostLimits(steps, limits).message() ==
        "s.schedule: schedule.steps: 1000000000000 steps need 488281250 MiB to replay, more than "
        "the 1024 MiB this host has available: expected at most 2097152");
}

TEST_CASE("a TCB pool smaller than the threads the workload has at once is refused up front") {
  boot::Config c = ThreadCounter(2, 4);
  c.stack.max_threads = 3;
  CHECK(boot::RunDemand(c, Builtin(), boot::kBootCommand).status().message() ==
        "c.toml: stack.max_threads: workload \"thread-counter\" has up to 8 threads at once (2 "
        "cpus, workload.threads = 4): expected 0 (enough for it) or at least 8, got 3");
  c.stack.max_threads = 8;
  CHECK(boot::RunDemand(c, Builtin(), boot::kBootCommand).ok());
  // The check's client is what a check runs.
  c.stack.client = "general";
  c.stack.threads = 2;
  CHECK(boot::RunDemand(c, Builtin(), boot::kCheckCommand).status().message() ==
        "c.toml: stack.max_threads: check.client \"general\" has up to 12 threads at once (2 "
        "cpus, check.threads = 2): expected 0 (enough for it) or at least 12, got 8");
}

}  // namespace
}  // namespace strata::testing
