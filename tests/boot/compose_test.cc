// strata compose: the per-CPU machines of every workload compose to its
// multicore run, on 1 to 64 CPUs; CPUs that talk through host memory do not.
#include "boot/compose.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "boot/config.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using testing::Builtin;
using testing::RunStrata;
using testing::Source;
using testing::TempDir;

Config ConfigOf(const std::string& name, int cpus, std::uint64_t seed) {
  Config c;
  c.source = "test";
  c.workload = name;
  c.machine.cpus = cpus;
  c.oracle = "random";
  c.seed = seed;
  c.iterations = 3;
  c.threads = 2;
  return c;
}

TEST_CASE("every workload's per-CPU machines compose to its multicore run, on 1 to 64 cpus") {
  std::vector<std::string> names;
  for (const auto& e : Builtin().workloads.entries()) names.push_back(e.name);
  for (const auto& e : Builtin().threads.entries()) names.push_back(e.name);
  for (const std::string& name : names) {
    const std::optional<Workload> w = FindWorkload(Builtin(), name);
    REQUIRE(w.has_value());
    // The known-bad cases, below: threads or CPUs that talk through host memory.
    if (name == "host-channel" || name == "hidden-channel") continue;
    for (int cpus : {1, 2, 3, 8, 64}) {
      if (cpus < w->min_cpus) continue;
      for (std::uint64_t seed : {1, 2}) {
        if (cpus == 64 && seed > 1) continue;
        CAPTURE(name);
        CAPTURE(cpus);
        CAPTURE(seed);
        Config c = ConfigOf(name, cpus, seed);
        // The known-bad ones fail on the multicore machine too; the failing
        // run's prefix composes all the same. Keep their runs short.
        if (name == "livelock") c.machine.max_steps = 2000;
        absl::StatusOr<Composition> r = ComposeConfig(c, Builtin());
        REQUIRE(r.ok());
        CHECK(r->problem == "");
        CHECK(r->composed_hash == r->recorded_hash);
        REQUIRE(r->cpus.size() == static_cast<std::size_t>(cpus));
        std::size_t events = 0;
        for (const CpuComposition& cpu : r->cpus) {
          CAPTURE(cpu.cpu);
          CHECK(cpu.problem == "");
          events += cpu.events;
        }
        CHECK(events == r->events);
      }
    }
  }
}

TEST_CASE("CPUs that talk through host memory are non-compositional, naming the first bad event") {
  // host-channel: bare CPUs; hidden-channel: threads on different CPUs.
  for (const char* name : {"host-channel", "hidden-channel"}) {
    for (int cpus : {2, 3, 8}) {
      // Whether a hidden-channel reader on another CPU reads another count
      // alone depends on the schedule: on 2 and 8 cpus, seed 1, it happens
      // to read what it read in the multicore run (TLink catches it there).
      if (cpus != 3 && std::string(name) == "hidden-channel") continue;
      CAPTURE(name);
      CAPTURE(cpus);
      absl::StatusOr<Composition> r = ComposeConfig(ConfigOf(name, cpus, 1), Builtin());
      REQUIRE(r.ok());
      CHECK(r->recorded.ok());  // the multicore run itself is fine
      CHECK_FALSE(r->compositional());
      CHECK(r->problem.find("the composed log differs from the multicore log at t=") == 0);
      CHECK(r->composed_hash != r->recorded_hash);
      CHECK(r->cpus[0].problem == "");  // cpu 0 (the writer) replays fine
      std::size_t departs = 0;
      for (std::size_t k = 1; k < r->cpus.size(); ++k) {
        if (r->cpus[k].problem.empty()) continue;
        CHECK(r->cpus[k].problem.find(
                  "its per-CPU machine departs from the multicore log at t=") == 0);
        ++departs;
      }
      CHECK(departs > 0);
    }
  }
  absl::StatusOr<Composition> r = ComposeConfig(ConfigOf("host-channel", 3, 1), Builtin());
  REQUIRE(r.ok());
  CHECK(r->problem.find("store seen") != std::string::npos);
}

TEST_CASE("strata compose prints each cpu, both hashes and the verdict") {
  TempDir dir;
  testing::Command ok = RunStrata("compose '" + Source("configs/env/compose.toml") + "'", dir.path());
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("multicore  ok") != std::string::npos);
  CHECK(ok.out.find("cpu 3") != std::string::npos);
  CHECK(ok.out.find("DIFFERS") == std::string::npos);
  CHECK(ok.out.find("verdict    compositional: the per-CPU machines compose to the multicore log") !=
        std::string::npos);
  testing::Command bad =
      RunStrata("compose '" + Source("configs/env/bad/host-channel.toml") + "'", dir.path());
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("verdict    non-compositional: the composed log differs from the multicore "
                     "log at t=") != std::string::npos);
  testing::Command wrong = RunStrata("compose '" + Source("configs/env/compose.toml") +
                                         "' --workload nope",
                                     dir.path());
  CHECK(wrong.exit_code == 2);
}

TEST_CASE("strata boot runs one cpu as a per-CPU machine against a recorded or live environment") {
  TempDir dir;
  testing::Command rec = RunStrata("boot '" + Source("configs/env/recorded.toml") + "'", dir.path());
  CHECK(rec.exit_code == 0);
  CHECK(rec.out.find("env        recorded: the per-CPU machine of cpu 1; the other CPUs replay") !=
        std::string::npos);
  CHECK(rec.out.find("fairness bound off: the recorded run kept it") != std::string::npos);
  CHECK(rec.out.find(": the per-CPU run gives it") != std::string::npos);
  // CPUs that talk through host memory: the per-CPU run does not give it.
  testing::Command host = RunStrata(
      "boot '" + Source("configs/env/bad/host-channel.toml") + "' --env recorded --focus 1",
      dir.path());
  CHECK(host.exit_code == 0);
  CHECK(host.out.find(": the per-CPU run DIFFERS") != std::string::npos);
  // A per-CPU run that fails writes a schedule that replays it (the
  // recording is made again from the config).
  testing::Command bad =
      RunStrata("boot '" + Source("configs/env/bad/recorded-lost-update.toml") +
                    "' --schedule s.schedule",
                dir.path());
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("outcome    wrong-result") != std::string::npos);
  testing::Command replay = RunStrata("replay s.schedule", dir.path());
  CHECK(replay.exit_code == 1);
  CHECK(replay.out.find("reproduced: wrong-result") != std::string::npos);
  // The live environment with a focus is the multicore run.
  testing::Command live = RunStrata("boot '" + Source("configs/env/live.toml") + "'", dir.path());
  CHECK(live.exit_code == 0);
  CHECK(live.out.find("env        live: the per-CPU machine of cpu 0") != std::string::npos);
}

TEST_CASE("configs/env/recorded-log.toml replays its log file, which is this build's log of the config") {
  TempDir dir;
  const std::string config = "'" + Source("configs/env/recorded-log.toml") + "'";
  // From another folder: env.recording is relative to the config file.
  testing::Command per_cpu = RunStrata("boot " + config, dir.path());
  INFO(per_cpu.out);
  CHECK(per_cpu.exit_code == 0);
  CHECK(per_cpu.out.find("the other CPUs replay the run " +
                         Source("configs/env/recordings/counter-2cpus.jsonl") + " holds") !=
        std::string::npos);
  CHECK(per_cpu.out.find(": the per-CPU run gives it") != std::string::npos);
  // The command the config names recreates the recording byte for byte.
  testing::Command live =
      RunStrata("boot " + config + " --env live --recording '' --log fresh.jsonl", dir.path());
  REQUIRE(live.exit_code == 0);
  CHECK(dir.Read("fresh.jsonl") == TempDir::ReadFile(Source("configs/env/recordings/counter-2cpus.jsonl")));
  // Given on the command line, a recording is relative to the working folder.
  testing::Command flag =
      RunStrata("boot " + config + " --recording fresh.jsonl", dir.path());
  CHECK(flag.exit_code == 0);
  CHECK(flag.out.find("the other CPUs replay the run fresh.jsonl holds") != std::string::npos);
}

// `boot_args` against the recording in `file`, cpus 0 and 3 in turn the
// focus: each per-CPU run gives the recorded log hash `hash`.
void CheckRecordingReplays(const std::string& boot_args, const std::string& file,
                           const std::string& hash, const TempDir& dir) {
  for (int focus : {0, 3}) {
    CAPTURE(focus);
    testing::Command per_cpu = RunStrata(
        boot_args + " --env recorded --recording " + file + " --focus " + std::to_string(focus),
        dir.path());
    INFO(per_cpu.out);
    CHECK(per_cpu.exit_code == 0);
    CHECK(per_cpu.out.find("the other CPUs replay the run " + file + " holds") != std::string::npos);
    CHECK(per_cpu.out.find("recorded   the recorded run's log hash " + hash +
                           ": the per-CPU run gives it") != std::string::npos);
  }
}

TEST_CASE("a recorded environment replays the run a schedule file holds (env.recording)") {
  TempDir dir;
  const std::string config = "'" + Source("configs/threads/thread-counter.toml") + "'";
  // A good run's schedule, written because it was asked for.
  testing::Command rec = RunStrata("boot " + config + " --oracle random --seed 3 --schedule r.schedule",
                                   dir.path());
  REQUIRE(rec.exit_code == 0);
  CHECK(rec.out.find("schedule   written to r.schedule") != std::string::npos);
  const std::size_t at = rec.out.find("log hash ");
  REQUIRE(at != std::string::npos);
  const std::string hash = rec.out.substr(at + 9, 16);
  CheckRecordingReplays("boot " + config + " --seed 3", "r.schedule", hash, dir);
  // A failed run's schedule is a recording too: the per-CPU run of cpu 1
  // against the lost update's other cpu ends as the multicore run did.
  const std::string lost = "'" + Source("configs/bad/lost-update.toml") + "'";
  testing::Command bad = RunStrata("boot " + lost + " --schedule lost.schedule", dir.path());
  REQUIRE(bad.exit_code == 1);
  testing::Command against =
      RunStrata("boot " + lost + " --env recorded --recording lost.schedule --focus 1", dir.path());
  CHECK(against.exit_code == 1);
  CHECK(against.out.find("outcome    wrong-result") != std::string::npos);
  CHECK(against.out.find(": the per-CPU run gives it") != std::string::npos);
  // What is no recording of this config is a one-line error.
  testing::Command check = RunStrata("check '" + Source("configs/check/bad/ticket-no-bump.toml") +
                                         "' --schedule c.schedule",
                                     dir.path());
  REQUIRE(check.exit_code == 1);
  testing::Command per_cpu_schedule = RunStrata(
      "boot " + config + " --seed 3 --env recorded --recording r.schedule --focus 1 --schedule p.schedule",
      dir.path());
  REQUIRE(per_cpu_schedule.exit_code == 0);
  // Its recording is named by an absolute path, so it replays from any folder.
  CHECK(dir.Read("p.schedule").find("recording = \"" + dir.File("r.schedule") + "\"") != std::string::npos);
  testing::TempDir other;
  testing::Command elsewhere = RunStrata("replay '" + dir.File("p.schedule") + "'", other.path());
  CHECK(elsewhere.exit_code == 0);
  CHECK(elsewhere.out.find("replay     reproduced: ok") != std::string::npos);
  struct Case {
    std::string args, error;
  } cases[] = {
      {"--seed 3 --cpus 2 --focus 1 --recording r.schedule",
       "env.recording: r.schedule was recorded with another config (machine.cpus = 4, here 2): "
       "expected a run of this one"},
      {"--focus 1 --recording r.schedule",
       "env.recording: r.schedule was recorded with another config (oracle.seed = 3, here 7): "
       "expected a run of this one"},
      {"--focus 1 --recording c.schedule",
       "env.recording: c.schedule is the schedule of a check (layer lock): expected one a boot "
       "run wrote"},
      {"--focus 1 --recording p.schedule",
       "env.recording: p.schedule is the schedule of a per-CPU run (env.kind recorded, focus 1): "
       "expected a multicore run's"},
      {"--focus 1 --recording none.schedule",
       "env.recording: none.schedule is no recording: none.schedule: cannot open the schedule file"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.args);
    testing::Command c = RunStrata("boot " + config + " --env recorded " + k.args, dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err.find(k.error) != std::string::npos);
    CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
    CHECK(c.out.empty());
  }
  testing::Command live = RunStrata("boot " + config + " --recording r.schedule", dir.path());
  CHECK(live.exit_code == 2);
  CHECK(live.err.find("env.recording: only a recorded environment replays a recording: expected "
                      "env.kind recorded, got \"live\"") != std::string::npos);
}

TEST_CASE("a recorded environment replays the run a log file holds (env.recording)") {
  TempDir dir;
  const std::string config = "'" + Source("configs/threads/thread-counter.toml") + "'";
  testing::Command rec = RunStrata("boot " + config + " --seed 3 --log r.log", dir.path());
  REQUIRE(rec.exit_code == 0);
  const std::size_t at = rec.out.find("log hash ");
  REQUIRE(at != std::string::npos);
  const std::string hash = rec.out.substr(at + 9, 16);
  CheckRecordingReplays("boot " + config, "r.log", hash, dir);
  // A failed run's log is a recording too.
  const std::string lost = "'" + Source("configs/bad/lost-update.toml") + "'";
  REQUIRE(RunStrata("boot " + lost + " --log lost.log", dir.path()).exit_code == 1);
  testing::Command against =
      RunStrata("boot " + lost + " --env recorded --recording lost.log --focus 1", dir.path());
  CHECK(against.exit_code == 1);
  CHECK(against.out.find("outcome    wrong-result") != std::string::npos);
  CHECK(against.out.find(": the per-CPU run gives it") != std::string::npos);

  // Mutants of the log: each a one-line error naming the line and field.
  const std::string log = dir.Read("r.log");
  std::vector<std::string> lines;
  for (std::size_t from = 0; from < log.size();) {
    const std::size_t end = log.find('\n', from);
    lines.push_back(log.substr(from, end - from));
    from = end + 1;
  }
  REQUIRE(lines.size() > 40);
  std::size_t push = 0;
  while (push < lines.size() && lines[push].find(R"("op":"push")") == std::string::npos) ++push;
  REQUIRE(push < lines.size());
  auto mutant = [&](std::size_t line, const std::string& from, const std::string& to) {
    std::vector<std::string> copy = lines;
    const std::size_t at = copy[line].find(from);
    REQUIRE(at != std::string::npos);
    copy[line].replace(at, from.size(), to);
    std::string text;
    for (const std::string& l : copy) text += l + "\n";
    return text;
  };
  const std::string push_line = std::to_string(push + 1);
  const std::size_t from = lines[push].find(R"(,"contents")");
  const std::string contents = lines[push].substr(from, lines[push].size() - 1 - from);
  struct Case {
    std::string text, args, error;
  } cases[] = {
      {mutant(4, R"("seq":4)", R"("seq":5)"), "", "m.log:5: seq: 5 (expected 4: the events in order, from 0)"},
      {mutant(2, R"({"seq")", R"(["seq")"), "", "m.log:3: not a JSON object (expected one event per line"},
      {mutant(2, R"("cpu":)", R"("cpus":)"), "", "m.log:3: cpus: unknown field"},
      {mutant(6, R"("op":")", R"("op":"x)"), "", "m.log:7: op: \"x"},
      {mutant(push, contents, ""), "", "m.log:" + push_line + ": contents: missing (expected the pushed block's words"},
      {mutant(push, R"("arg1":0)", R"("arg1":1e30)"), "", "m.log:" + push_line + ": arg1: 1e+30 (expected an integer from"},
      {mutant(0, R"("oid":)", R"("oid":999,"x":)"), "", "m.log:1: x: unknown field"},
      {log + "\n", "", "m.log:" + std::to_string(lines.size() + 1) + ": a blank line"},
      {"", "", "m.log is no recording: the file is empty (expected a schedule file or a JSON-lines log strata wrote)"},
      // A log of another config: its cpus, objects or blocks do not fit.
      {log, "--cpus 2", "m.log:"},
      // Found after the machine is set up (its objects): refused without a run.
      {log, "--cpus 8", "m.log:"},
      {log, "--workload counter", "m.log:1: object: "},
  };
  for (const Case& k : cases) {
    CAPTURE(k.error);
    dir.Write("m.log", k.text);
    testing::Command c =
        RunStrata("boot " + config + " --env recorded --recording m.log --focus 1 " + k.args, dir.path());
    CHECK(c.exit_code == 2);
    INFO(c.err);
    CHECK(c.err.find("env.recording: " + k.error) != std::string::npos);
    CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
    CHECK(c.out.empty());
  }
}

TEST_CASE("an environment that does not fit the config is a one-line error") {
  TempDir dir;
  const std::string counter = "'" + Source("configs/counter.toml") + "'";
  struct Case {
    std::string args, error;
  } cases[] = {
      {"boot " + counter + " --env recorded",
       "env.focus: env.kind \"recorded\" runs one cpu against the others: expected a cpu from 0 "
       "to 3, got none"},
      {"boot " + counter + " --focus 4",
       "env.focus: expected -1 (none) or a cpu below machine.cpus (4), got 4"},
      {"boot " + counter + " --env sideways --focus 1", "--env: expected one of live, recorded"},
      {"compose " + counter + " --focus 1",
       "env: strata compose runs every cpu as a per-CPU machine against the multicore run itself"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.args);
    testing::Command c = RunStrata(k.args, dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err.find(k.error) != std::string::npos);
    CHECK(std::count(c.err.begin(), c.err.end(), '\n') == 1);
    CHECK(c.out.empty());
  }
}

}  // namespace
}  // namespace strata::boot
