// `--json` on strata boot and strata check: one JSON object on stdout, whose
// values agree with the text summary of the same run.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

// The one line of JSON `c` printed, parsed.
nlohmann::json JsonOf(const Command& c) {
  CAPTURE(c.out);
  CAPTURE(c.err);
  REQUIRE(std::count(c.out.begin(), c.out.end(), '\n') == 1);
  nlohmann::json j = nlohmann::json::parse(c.out, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.is_object());
  return j;
}

std::string TextHash(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("log hash ([0-9a-f]{16})")));
  return m[1];
}

TEST_CASE("strata boot --json prints the run as one object that agrees with its text summary") {
  TempDir dir;
  const std::string cfg = Source("configs/default.toml");
  Command text = RunStrata("boot '" + cfg + "' --cpus 2", dir.path());
  Command json = RunStrata("boot '" + cfg + "' --cpus 2 --json", dir.path());
  REQUIRE(text.exit_code == 0);
  CHECK(json.exit_code == 0);
  const nlohmann::json j = JsonOf(json);
  CHECK(j["command"] == "boot");
  CHECK(j["verdict"] == "ok");
  CHECK(j["ok"] == true);
  CHECK(j["workload"] == "producer-consumer");
  CHECK(j["cpus"] == 2);
  CHECK(j["env"]["kind"] == "live");
  CHECK(j["seed"] == 1);
  CHECK(j["log_hash"] == TextHash(text.out));
  std::smatch m;
  REQUIRE(std::regex_search(text.out, m, std::regex("events     ([0-9]+) in ([0-9]+) steps")));
  CHECK(j["counts"]["events"] == std::stoull(m[1]));
  CHECK(j["counts"]["steps"] == std::stoull(m[2]));
  CHECK(j["counts"]["events_per_cpu"].size() == 2);
  REQUIRE(std::regex_search(text.out, m, std::regex("worst wait ([0-9]+) steps \\(bound ([0-9]+)\\)")));
  CHECK(j["waits"]["worst"] == std::stoull(m[1]));
  CHECK(j["waits"]["bound"] == std::stoull(m[2]));
  CHECK(j["waits"]["within"] == true);
  REQUIRE(j["checks"].size() == 2);
  CHECK(j["checks"][0]["what"] == "items consumed");
  CHECK(j["checks"][0]["ok"] == true);
  CHECK(j["schedule"].is_null());
  CHECK(json.err.empty());
}

TEST_CASE("strata boot --json of a failing run names the verdict, the schedule and the replay") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/bad/lost-update.toml") + "' --json", dir.path());
  CHECK(c.exit_code == 1);
  const nlohmann::json j = JsonOf(c);
  CHECK(j["verdict"] == "wrong-result");
  CHECK(j["ok"] == false);
  CHECK(j["message"] == "counter = 47 at the end, expected 80");  // shrunk: 15 switches, not 159
  CHECK(j["checks"][0]["ok"] == false);
  const std::string schedule = j["schedule"];
  CHECK(std::filesystem::exists(dir.File(schedule)));
  CHECK(j["replay"] == "strata replay " + schedule);
  Command replay = RunStrata("replay '" + schedule + "'", dir.path());
  CHECK(replay.exit_code == 1);
  CHECK(TextHash(replay.out) == j["log_hash"]);
}

TEST_CASE("strata check --json says refines and exhaustive only for a space explored whole") {
  TempDir dir;
  Command whole = RunStrata("check '" + Source("configs/check/mcs.toml") + "' --json", dir.path());
  CHECK(whole.exit_code == 0);
  const nlohmann::json w = JsonOf(whole);
  CHECK(w["command"] == "check");
  CHECK(w["verdict"] == "refines");
  CHECK(w["exhaustive"] == true);
  CHECK(w["failure"].is_null());
  REQUIRE(w["layers"].size() == 1);
  CHECK(w["layers"][0]["layer"] == "lock");
  CHECK(w["layers"][0]["verdict"] == "refines");
  CHECK(w["layers"][0]["exhausted"] == true);
  CHECK(w["layers"][0]["executions"].get<std::uint64_t>() > 0);

  Command sampled = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --json", dir.path());
  CHECK(sampled.exit_code == 0);
  const nlohmann::json s = JsonOf(sampled);
  CHECK(s["verdict"] == "no-violation");
  CHECK(s["exhaustive"] == false);
  CHECK(s["layers"][0]["verdict"] == "no-violation");
  CHECK(s["layers"][0]["waits"]["within"] == true);
  CHECK(s["layers"][0]["waits"]["worst"].get<std::uint64_t>() <=
        s["layers"][0]["waits"]["bound"].get<std::uint64_t>());
}

TEST_CASE("a dfs that covered every schedule within a preemption bound claims no refinement") {
  // queue-no-lock breaks only where a cpu is preempted inside its
  // operation: with no preemptions at all, dfs covers its bounded space
  // and finds nothing, which is no proof.
  TempDir dir;
  const std::string bad = Source("configs/check/bad/queue-no-lock.toml");
  Command c = RunStrata("check '" + bad + "' --preemption-bound 0 --json", dir.path());
  CHECK(c.exit_code == 0);
  const nlohmann::json j = JsonOf(c);
  CHECK(j["verdict"] == "no-violation");
  CHECK(j["exhaustive"] == false);
  CHECK(j["layers"][0]["verdict"] == "no-violation");
  CHECK(j["layers"][0]["exhausted"] == true);
  CHECK(j["layers"][0]["bound"] == "at most 0 preemptions");
  Command text = RunStrata("check '" + bad + "' --preemption-bound 0", dir.path());
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("bounded space exhausted (schedules with at most 0 preemptions)") !=
        std::string::npos);
  CHECK(text.out.find("verdict: no violation in ") != std::string::npos);
  CHECK(text.out.find("(NOT exhaustive: every schedule with at most 0 preemptions was covered, "
                      "not every F-fair schedule)") != std::string::npos);
  CHECK(text.out.find("refines (exhaustive") == std::string::npos);
  CHECK(text.out.find("result     no violation in any checked layer (1 layer not explored "
                      "exhaustively)") != std::string::npos);
  // Without the bound the same dfs finds the bug.
  Command found = RunStrata("check '" + bad + "' --strategy dfs", dir.path());
  CHECK(found.exit_code == 1);
}

TEST_CASE("a starvation's worst wait is the wait its verdict reports, over its bound") {
  TempDir dir;
  const std::string bad = Source("configs/check/bad/tas-starvation.toml");
  Command text = RunStrata("check '" + bad + "'", dir.path());
  CHECK(text.exit_code == 1);
  std::smatch verdict, worst;
  REQUIRE(std::regex_search(text.out, verdict,
                            std::regex("took ([0-9]+) steps, more than its bound of ([0-9]+)")));
  REQUIRE(std::regex_search(text.out, worst,
                            std::regex("worst wait ([0-9]+) steps \\(bound ([0-9]+)\\): over its "
                                       "bound, the failure below")));
  CHECK(worst[1] == verdict[1]);
  CHECK(worst[2] == verdict[2]);
  const nlohmann::json j = JsonOf(RunStrata("check '" + bad + "' --json", dir.path()));
  CHECK(j["layers"][0]["waits"]["within"] == false);
  CHECK(j["layers"][0]["waits"]["worst"].get<std::uint64_t>() == std::stoull(verdict[1]));
}

TEST_CASE("a passing check prints its seed and the log hash of its executions, the same on any "
          "number of host threads") {
  TempDir dir;
  for (const std::string strategy : {"dfs", "random"}) {
    CAPTURE(strategy);
    std::string hash;
    for (const int jobs : {1, 2}) {
      CAPTURE(jobs);
      const std::string args = "check '" + Source("configs/check/ticket.toml") + "' --strategy " +
                               strategy + " --runs 300 --jobs " + std::to_string(jobs);
      Command text = RunStrata(args, dir.path());
      CHECK(text.exit_code == 0);
      std::smatch m;
      REQUIRE(std::regex_search(text.out, m,
                                std::regex("seed 1  log hash ([0-9a-f]{16}) \\(of the ([0-9]+) "
                                           "executions' logs, in order\\)")));
      const nlohmann::json j = JsonOf(RunStrata(args + " --json", dir.path()));
      CHECK(j["layers"][0]["log_hash"] == m[1]);
      CHECK(j["layers"][0]["executions"] == std::stoull(m[2]));
      if (hash.empty()) hash = m[1];
      CHECK(m[1] == hash);
    }
    // Another seed, other executions.
    Command other = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --strategy " +
                                  strategy + " --runs 300 --seed 2",
                              dir.path());
    CHECK(other.out.find("log hash " + hash) == std::string::npos);
  }
}

TEST_CASE("a check of layers that all run as their spec claims nothing") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --lock spec --json", dir.path());
  CHECK(c.exit_code == 0);
  const nlohmann::json j = JsonOf(c);
  CHECK(j["verdict"] == "nothing-checked");
  CHECK(j["exhaustive"] == false);
  CHECK(j["layers"][0]["verdict"] == "spec");
  Command text = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --lock spec", dir.path());
  CHECK(text.out.find("result     nothing checked") != std::string::npos);
  CHECK(text.out.find("refines") == std::string::npos);
}

TEST_CASE("a return mismatch, found after the walk, names its return and labels its end-of-run "
          "states") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/queue-off-by-one.toml") + "' --json",
                        dir.path());
  CHECK(c.exit_code == 1);
  const nlohmann::json f = JsonOf(c)["failure"];
  CHECK(f["verdict"] == "return-mismatch");
  CHECK(std::regex_search(f["first_bad"]["event"].get<std::string>(), std::regex(R"(\| ret deq q -> 1001$)")));
  CHECK(f["module_state"].get<std::string>().rfind("(at the end of the run) ", 0) == 0);
  CHECK(f["spec_state"].get<std::string>().rfind("(at the end of the run) ", 0) == 0);
}

TEST_CASE("strata check --json of a known-bad module names the failure, its first bad event and "
          "its replay") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/queue-lifo.toml") + "' --json",
                        dir.path());
  CHECK(c.exit_code == 1);
  const nlohmann::json j = JsonOf(c);
  CHECK(j["verdict"] == "relation-broken");
  CHECK(j["ok"] == false);
  const nlohmann::json& f = j["failure"];
  CHECK(f["layer"] == "queue");
  CHECK(f["verdict"] == "relation-broken");
  CHECK(std::regex_search(f["first_bad"]["where"].get<std::string>(), std::regex("^kernel/queue\\.cc:[0-9]+$")));
  CHECK(f["steps"].get<std::uint64_t>() > 0);
  const std::string schedule = f["schedule"];
  Command replay = RunStrata("replay '" + schedule + "'", dir.path());
  CHECK(replay.exit_code == 1);
  CHECK(TextHash(replay.out) == f["log_hash"]);
  CHECK(j["layers"].back()["verdict"] == "relation-broken");
}

}  // namespace
}  // namespace strata::testing
