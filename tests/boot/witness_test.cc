// `strata check --witness`: the refinement witness of a failure (or of every
// execution), read back and checked against what the check printed.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// What every execution's witness holds, whatever its verdict.
void CheckShape(const nlohmann::json& x) {
  const std::set<std::string> roles = {"border", "linearization point", "kept",
                                       "dropped: a marker of the layer below", "dropped: internal",
                                       "after the first bad event"};
  REQUIRE(x["map"].is_array());
  std::size_t linearizations = 0;
  for (std::size_t i = 0; i < x["map"].size(); ++i) {
    const nlohmann::json& row = x["map"][i];
    CAPTURE(row.dump());
    CHECK(row["seq"] == i);
    CHECK(roles.count(row["role"].get<std::string>()) == 1);
    CHECK(row["upper"].is_null() == (row["role"].get<std::string>().rfind("dropped", 0) == 0 ||
                                     row["role"] == "after the first bad event"));
    linearizations += row["role"] == "linearization point";
  }
  const std::regex label(R"(^(call\([a-z_]+\) -?[0-9]+ -?[0-9]+ \?|ret\([a-z_]+\) -?[0-9]+ !) \{.*\}$)");
  std::size_t returns = 0;
  for (const nlohmann::json& c : x["crossings"]) {
    CAPTURE(c.dump());
    CHECK(std::regex_match(c["label"].get<std::string>(), label));
    CHECK(x["map"][c["seq"].get<std::size_t>()]["role"] == "border");
    CHECK_FALSE(c["module_state"].get<std::string>().empty());
    CHECK_FALSE(c["spec_state"].get<std::string>().empty());
    returns += c["direction"] == "return";
    // Each block names the pull (into a call, inside it) or push (out of
    // it, before the return) that moved it, by the same agent.
    for (const auto& [block, v] : c["memory"].items()) {
      CHECK(v["contents"].is_array());
      for (const auto& word : v["contents"]) CHECK(word.is_number_integer());
      const nlohmann::json& moved = x["map"][v["at"].get<std::size_t>()];
      const bool call = c["direction"] == "call";
      CHECK(std::regex_search(moved["event"].get<std::string>(),
                              std::regex(call ? " pull\\*? " + block : " push\\*? " + block)));
      CHECK((call ? v["at"] > c["seq"] : v["at"] < c["seq"]));
    }
    // Only the first bad event's crossing carries the failure.
    CHECK(c["first_bad"] == (c["seq"] == x["first_bad"]));
    CHECK(c["failure"].is_null() == !c["first_bad"].get<bool>());
  }
  // Each call that returned linearized once (a call may be cut off at the end).
  CHECK(linearizations >= returns);
}

TEST_CASE("--witness writes the failure's log map and border crossings, in the layer's terms") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/queue-off-by-one.toml") +
                            "' --witness w.json",
                        dir.path());
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("  witness    written to w.json (1 execution: the failure)") != std::string::npos);
  const nlohmann::json w = ReadJson(dir.File("w.json"));
  CHECK(w["witness"] == 1);
  REQUIRE(w["layers"].size() == 1);
  CHECK(w["layers"][0]["layer"] == "queue");
  REQUIRE(w["layers"][0]["executions"].size() == 1);
  const nlohmann::json& x = w["layers"][0]["executions"][0];
  CheckShape(x);
  CHECK(x["verdict"] == "return-mismatch");
  CHECK(x["message"] == "cpu 0's `deq` on `q` returned 1001, the spec returns 1000");
  // The first bad event is the return the spec disagrees with, in the map.
  const nlohmann::json& bad = x["map"][x["first_bad"].get<std::size_t>()];
  CHECK(std::regex_search(bad["event"].get<std::string>(), std::regex(R"(\| ret deq q -> 1001$)")));
  // The shared block crosses the border with its contents: after enq(1000)
  // returns, the block holds it.
  bool seen = false;
  for (const nlohmann::json& cr : x["crossings"]) {
    if (cr["primitive"] != "enq" || cr["direction"] != "return") continue;
    const nlohmann::json& data = cr["memory"]["q.data"]["contents"];
    REQUIRE(data.is_array());
    CHECK(std::find(data.begin(), data.end(), 1000) != data.end());
    CHECK(cr["relation"] == "holds");
    seen = true;
    break;
  }
  CHECK(seen);
  // The relation held where the spec's return differs: the crossing at the
  // first bad event says what failed there.
  REQUIRE_FALSE(x["crossings"].empty());
  const nlohmann::json& last = x["crossings"].back();
  CHECK(last["seq"] == x["first_bad"]);
  CHECK(last["relation"] == "holds");
  CHECK(last["first_bad"] == true);
  CHECK(last["failure"] == "return-mismatch: cpu 0's `deq` on `q` returned 1001, the spec returns 1000");
  // A relation broken at a crossing is said there.
  Command lifo = RunStrata("check '" + Source("configs/check/bad/queue-lifo.toml") + "' --witness l.json",
                           dir.path());
  CHECK(lifo.exit_code == 1);
  const nlohmann::json l = ReadJson(dir.File("l.json"))["layers"][0]["executions"][0];
  CheckShape(l);
  CHECK(l["verdict"] == "relation-broken");
  REQUIRE_FALSE(l["crossings"].empty());
  CHECK(l["crossings"].back()["relation"].get<std::string>().rfind(
            "broken: the queue's block holds [2001, 2002], the spec's queue is [2002, 2003]", 0) == 0);
  CHECK(l["crossings"].back()["seq"] == l["first_bad"]);
}

TEST_CASE("--witness-all writes every execution checked; a passing check's relation holds "
          "everywhere") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/ticket.toml") +
                            "' --runs 5 --witness all.json --witness-all",
                        dir.path());
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("witness    written to all.json (5 executions, every one checked)") != std::string::npos);
  const nlohmann::json w = ReadJson(dir.File("all.json"));
  REQUIRE(w["layers"][0]["executions"].size() == 5);
  for (const nlohmann::json& x : w["layers"][0]["executions"]) {
    CheckShape(x);
    CHECK(x["verdict"] == "refines");
    CHECK(x["first_bad"].is_null());
    CHECK_FALSE(x["crossings"].empty());
    for (const nlohmann::json& cr : x["crossings"]) CHECK(cr["relation"] == "holds");
  }
  Command none = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --runs 5 --witness n.json",
                           dir.path());
  CHECK(none.exit_code == 0);
  CHECK(none.out.find("(0 executions: no failure to witness (--witness-all writes every execution))") !=
        std::string::npos);
}

TEST_CASE("--witness-all over every layer writes each layer's executions in turn, on one host "
          "thread") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/queue.toml") +
                            "' --runs 3 --jobs 2 --witness all.json --witness-all",
                        dir.path());
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("; 1 host thread (--witness-all writes each witness as it is made)\n") != std::string::npos);
  CHECK(c.out.find("witness    written to all.json (15 executions, every one checked)") != std::string::npos);
  const nlohmann::json w = ReadJson(dir.File("all.json"));
  REQUIRE(w["layers"].size() == 5);
  const std::vector<std::string> layers = {"lock", "queue", "tcb", "sched", "thread"};
  for (std::size_t i = 0; i < layers.size(); ++i) {
    CAPTURE(i);
    CHECK(w["layers"][i]["layer"] == layers[i]);
    REQUIRE(w["layers"][i]["executions"].size() == 3);
    for (const nlohmann::json& x : w["layers"][i]["executions"]) CHECK(x["verdict"] == "refines");
  }
  // Nothing but the witness is left in the folder.
  CHECK(dir.Files() == 1);
}

TEST_CASE("--witness-all without --witness, or an unwritable witness path, is a one-line error") {
  TempDir dir;
  Command a = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --witness-all", dir.path());
  CHECK(a.exit_code == 2);
  CHECK(a.err ==
        "strata: error: --witness-all: writes every execution's witness to the --witness file: "
        "expected --witness FILE with it\n");
  CHECK(a.out.empty());
  Command b = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --witness no/such/w.json",
                        dir.path());
  CHECK(b.exit_code == 2);
  CHECK(b.err ==
        "strata: error: no/such/w.json: --witness: cannot write this file (expected a path in a "
        "writable directory)\n");
  CHECK_FALSE(std::filesystem::exists(dir.File("no")));
}

}  // namespace
}  // namespace strata::testing
