#include <doctest/doctest.h>

#include <string>

#include "boot/boot.h"
#include "boot/schedule_file.h"
#include "machine/log.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using machine::CpuId;
using machine::Outcome;
using testing::TempDir;

const char* kHeader = R"([machine]
cpus = 2
[workload]
kind = "counter"
iterations = 2
)";

std::string ScheduleError(const std::string& schedule_table) {
  TempDir dir;
  std::string path = dir.Write("s.schedule", std::string(kHeader) + schedule_table);
  auto f = LoadScheduleFile(path, testing::Builtin());
  REQUIRE_FALSE(f.ok());
  std::string msg(f.status().message());
  REQUIRE(msg.rfind(path, 0) == 0);
  return "s.schedule" + msg.substr(path.size());
}

TEST_CASE("a schedule file round-trips config, outcome, hash and choices") {
  TempDir dir;
  Config c;
  c.source = "x";
  c.machine.cpus = 3;
  c.oracle = "random";
  c.seed = 17;
  ScheduleFile f{.config = c,
                 .outcome = Outcome::kDeadlock,
                 .log_hash = 0x0123456789abcdefull,
                 .choices = {CpuId(0), CpuId(2), CpuId(2), CpuId(1)}};
  std::string path = dir.File("s.schedule");
  REQUIRE(WriteScheduleFile(path, f).ok());
  auto back = LoadScheduleFile(path, testing::Builtin());
  REQUIRE(back.ok());
  CHECK(back->outcome == Outcome::kDeadlock);
  CHECK(back->log_hash == 0x0123456789abcdefull);
  CHECK(back->choices == f.choices);
  CHECK(back->config.machine.cpus == 3);
  CHECK(back->config.seed == 17);
  CHECK(back->config.oracle == "random");
}

TEST_CASE("malformed or truncated schedule files give one exact line") {
  CHECK(ScheduleError("") ==
        "s.schedule: schedule: missing [schedule] table (expected a schedule file, not a config)");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"ok\"\nlog_hash = \"0000000000000000\"\n"
                      "steps = 5\nchoices = \"0 1 0\"\n") ==
        "s.schedule:11: schedule.choices: holds 3 steps but `steps` says 5 (truncated or edited "
        "file?)");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"ok\"\nlog_hash = \"0000000000000000\"\n"
                      "steps = 2\nchoices = \"0 7\"\n") ==
        "s.schedule:11: schedule.choices: choice 2 `7` names cpu 7 (expected a cpu from 0 to 1)");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"ok\"\nlog_hash = \"0000000000000000\"\n"
                      "steps = 2\nchoices = \"0 zz\"\n") ==
        "s.schedule:11: schedule.choices: choice 2 `zz` is malformed (expected a cpu id like `2` "
        "or a run like `2x7`)");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"melted\"\n") ==
        "s.schedule:8: schedule.outcome: expected an outcome like \"ok\" or \"deadlock\", got "
        "\"melted\"");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"ok\"\nlog_hash = \"xyz\"\n") ==
        "s.schedule:9: schedule.log_hash: expected 16 hex digits, got \"xyz\"");
  CHECK(ScheduleError("[schedule]\nformat = 2\n") == "s.schedule:7: schedule.format: expected 1");
  CHECK(ScheduleError("[schedule]\nformat = 1\noutcome = \"ok\"\nlog_hash = \"0000000000000000\"\n") ==
        "s.schedule:6: schedule.steps: missing (expected a step count)");
  CHECK(ScheduleError("[schedule]\nformat = 1\nextra = 3\n") ==
        "s.schedule:8: schedule.extra: unknown key (expected one of: format, layer, client_seed, "
        "outcome, log_hash, steps, choices)");
}

TEST_CASE("a truncated file (cut mid-string) is malformed TOML, not a crash") {
  TempDir dir;
  std::string path = dir.Write("s.schedule", std::string(kHeader) + "[schedule]\nchoices = \"0 1 0");
  auto f = LoadScheduleFile(path, testing::Builtin());
  REQUIRE_FALSE(f.ok());
  CHECK(std::string(f.status().message()).find("malformed TOML") != std::string::npos);
}

TEST_CASE("a schedule that names a CPU that cannot run there is bad input naming the step") {
  Config c;
  c.source = "t";
  c.machine.cpus = 2;
  c.iterations = 1;
  // cpu 0 and 1 both runnable at step 0; after cpu 0 finishes (it has few
  // steps), naming it again is impossible.
  std::vector<CpuId> choices(50, CpuId(0));
  auto run = RunConfig(c, testing::Builtin(), &choices, "bad.schedule");
  REQUIRE_FALSE(run.ok());
  std::string msg(run.status().message());
  CHECK(msg.rfind("bad.schedule: schedule step ", 0) == 0);
  CHECK(msg.find("names cpu 0, which cannot run there (expected one of 1)") != std::string::npos);
}

TEST_CASE("a schedule with steps left over is bad input") {
  Config c;
  c.source = "t";
  c.machine.cpus = 1;
  c.iterations = 1;
  auto good = RunConfig(c, testing::Builtin());
  REQUIRE(good.ok());
  std::vector<CpuId> choices(good->machine->schedule().begin(), good->machine->schedule().end());
  choices.push_back(CpuId(0));
  auto run = RunConfig(c, testing::Builtin(), &choices, "long.schedule");
  REQUIRE_FALSE(run.ok());
  CHECK(std::string(run.status().message()) ==
        fmt::format("long.schedule: the run ended after {} steps but the schedule has {} "
                    "(expected a schedule recorded from this config)",
                    choices.size() - 1, choices.size()));
}

}  // namespace
}  // namespace strata::boot
