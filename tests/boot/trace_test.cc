// The timeline (`--trace`, boot/trace.h): every trace the tests write is
// checked by a validator of the trace-event format as Perfetto and
// chrome://tracing read it, and the validator itself is shown to reject
// broken traces.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boot/boot.h"
#include "boot/check.h"
#include "boot/config.h"
#include "boot/trace.h"
#include "layers/timeline.h"
#include "machine/log.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using nlohmann::json;
using testing::Builtin;
using testing::Command;
using testing::RunStrata;
using testing::Source;
using testing::TempDir;

// What a valid trace holds, by phase, for a test to look into.
struct Parsed {
  std::vector<std::string> problems;  // empty: valid
  std::set<std::string> track_names;  // thread_name metadata: "cpu 0", "thread 3"
  std::map<std::string, int> flows;   // arrow name -> complete arrows
  std::set<std::string> counters;     // counter track names
  std::map<std::string, int> phases;  // ph -> events
};

bool IsInt(const json& j, const char* key) { return j.contains(key) && j[key].is_number_integer(); }

// Checks `text` as a trace in the JSON Object Format: required fields per
// phase; B/E balanced per track in stack order (an E names the slice it
// closes); timestamps non-decreasing per track (a counter's track is its
// process and name); every arrow has one start and one finish, in time
// order, each inside a slice of its track (or, a finish without "bp":"e",
// followed by one).
Parsed Validate(const std::string& text) {
  Parsed p;
  auto bad = [&p](const std::string& what) { p.problems.push_back(what); };
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    bad(fmt::format("not JSON: {}", e.what()));
    return p;
  }
  if (!root.is_object() || !root.contains("traceEvents") || !root["traceEvents"].is_array()) {
    bad("no traceEvents array");
    return p;
  }
  if (!root.contains("displayTimeUnit") || !root["displayTimeUnit"].is_string()) {
    bad("no displayTimeUnit");
  }
  using Track = std::pair<std::int64_t, std::int64_t>;
  std::map<Track, std::vector<std::string>> open;
  std::map<std::pair<Track, std::string>, double> last_ts;  // (track, counter name or "")
  struct FlowEnds {
    int starts = 0, finishes = 0;
    double start_ts = 0, finish_ts = 0;
    std::string name;
  };
  std::map<std::string, FlowEnds> flows;
  std::map<Track, std::vector<std::string>> pending_next;  // finishes awaiting their slice
  std::size_t index = 0;
  for (const json& e : root["traceEvents"]) {
    const std::string at = fmt::format("event {}", index++);
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string() || !e.contains("name") ||
        !e["name"].is_string() || !IsInt(e, "pid") || !IsInt(e, "tid")) {
      bad(at + ": missing name, ph, pid or tid");
      continue;
    }
    const std::string ph = e["ph"];
    const std::string name = e["name"];
    ++p.phases[ph];
    const Track track{e["pid"].get<std::int64_t>(), e["tid"].get<std::int64_t>()};
    if (ph == "M") {
      if (!e.contains("args") || !e["args"].is_object()) bad(at + ": metadata without args");
      if (name == "thread_name") p.track_names.insert(e["args"].value("name", ""));
      continue;
    }
    if (!e.contains("ts") || !e["ts"].is_number()) {
      bad(at + ": no ts");
      continue;
    }
    const double ts = e["ts"];
    double& last = last_ts.try_emplace({track, ph == "C" ? name : ""}, ts).first->second;
    if (ts < last) bad(fmt::format("{}: time goes back on its track ({} after {})", at, ts, last));
    last = ts;
    std::vector<std::string>& stack = open[track];
    if (ph == "B") {
      stack.push_back(name);
      pending_next.erase(track);
    } else if (ph == "E") {
      if (stack.empty() || stack.back() != name) {
        bad(fmt::format("{}: E of \"{}\" does not close the innermost open slice", at, name));
      } else {
        stack.pop_back();
      }
    } else if (ph == "i") {
      if (!e.contains("s") || e["s"] != "t") bad(at + ": an instant not scoped to its thread");
      if (!e.contains("args") || !e["args"].contains("where")) {
        bad(at + ": an instant without args");
      }
    } else if (ph == "C") {
      if (!e.contains("args") || !e["args"].is_object() || e["args"].empty()) {
        bad(at + ": a counter without args");
      } else {
        for (const auto& [key, value] : e["args"].items()) {
          if (!value.is_number()) bad(at + ": a counter value " + key + " that is no number");
        }
      }
      p.counters.insert(name);
    } else if (ph == "s" || ph == "f") {
      if (!e.contains("id")) {
        bad(at + ": an arrow without id");
        continue;
      }
      // A finish without "bp":"e" binds to the next slice that begins on its track.
      const bool next_slice = ph == "f" && e.value("bp", "") != "e";
      if (stack.empty() && !next_slice) bad(at + ": an arrow end outside any slice of its track");
      if (next_slice) pending_next[track].push_back(e["id"].dump());
      FlowEnds& f = flows[e["id"].dump()];
      f.name = name;
      if (ph == "s") {
        ++f.starts;
        f.start_ts = ts;
      } else {
        ++f.finishes;
        f.finish_ts = ts;
      }
    } else {
      bad(at + ": unexpected phase " + ph);
    }
  }
  for (const auto& [track, ids] : pending_next) {
    if (!ids.empty()) bad(fmt::format("arrow {}: no slice follows its finish", ids.front()));
  }
  for (const auto& [track, stack] : open) {
    if (!stack.empty()) {
      bad(fmt::format("track {}/{}: {} slices never closed", track.first, track.second,
                      stack.size()));
    }
  }
  for (const auto& [id, f] : flows) {
    if (f.starts != 1 || f.finishes != 1) {
      bad(fmt::format("arrow {}: {} starts and {} finishes", id, f.starts, f.finishes));
    } else if (f.finish_ts < f.start_ts) {
      bad(fmt::format("arrow {}: finishes before it starts", id));
    } else {
      ++p.flows[f.name];
    }
  }
  return p;
}

Parsed ValidateFile(const std::string& path) {
  REQUIRE(std::filesystem::exists(path));
  Parsed p = Validate(TempDir::ReadFile(path));
  std::string problems;
  for (const std::string& problem : p.problems) problems += "\n  " + problem;
  CHECK_MESSAGE(p.problems.empty(), path, ":", problems);
  return p;
}

Config Load(const std::string& relative) {
  absl::StatusOr<Config> c = LoadConfig(Source(relative), Builtin());
  REQUIRE(c.ok());
  return *c;
}

// Every arrow and counter the config's layers declare.
std::set<std::string> DeclaredFlows(const Config& c) {
  std::set<std::string> out;
  for (const layers::Timeline& t : StackTimelines(c)) {
    for (const layers::HandOver& h : t.hand_overs) out.insert(h.name);
  }
  return out;
}
std::set<std::string> DeclaredCounters(const Config& c) {
  std::set<std::string> out;
  for (const layers::Timeline& t : StackTimelines(c)) {
    for (const layers::Counter& k : t.counters) out.insert(k.name);
  }
  return out;
}

int BootWithTrace(const Config& c, const std::string& path, std::string* summary = nullptr) {
  std::FILE* out = std::tmpfile();
  absl::StatusOr<int> code = Boot(c, Builtin(), {.trace_path = path}, out);
  REQUIRE(code.ok());
  if (summary != nullptr) {
    std::rewind(out);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) summary->append(buf, n);
  }
  std::fclose(out);
  return *code;
}

TEST_CASE("the default system's trace has a track per cpu and per thread, every declared arrow "
          "and counter") {
  TempDir dir;
  const Config c = Load("configs/default.toml");
  std::string summary;
  REQUIRE(BootWithTrace(c, dir.File("t.json"), &summary) == 0);
  CHECK(summary.find(fmt::format("  trace      written to {} (open in https://ui.perfetto.dev)\n",
                                 dir.File("t.json"))) != std::string::npos);
  Parsed p = ValidateFile(dir.File("t.json"));
  for (int cpu = 0; cpu < c.machine.cpus; ++cpu) {
    CAPTURE(cpu);
    CHECK(p.track_names.count(fmt::format("cpu {}", cpu)) == 1);
  }
  for (int t = 0; t < c.machine.cpus * c.threads; ++t) {
    CAPTURE(t);
    CHECK(p.track_names.count(fmt::format("thread {}", t)) == 1);
  }
  const std::set<std::string> flows = DeclaredFlows(c);
  CHECK(flows.size() >= 4);  // lock and queue hand-overs, wakeup, spawn
  for (const std::string& name : flows) {
    CAPTURE(name);
    CHECK(p.flows.count(name) == 1);
    if (p.flows.count(name) == 1) CHECK(p.flows.at(name) > 0);
  }
  for (const std::string& counter : DeclaredCounters(c)) {
    CAPTURE(counter);
    bool found = false;
    for (const std::string& track : p.counters) {
      found = found || track.ends_with(" " + counter);
    }
    CHECK(found);
  }
  CHECK(p.counters.count("buffer.lock holder") == 1);
  CHECK(p.phases["B"] > 0);
  CHECK(p.phases["B"] == p.phases["E"]);
  CHECK(p.phases["i"] > 0);
}

TEST_CASE("the same config and seed give a byte-identical trace, another seed another one") {
  TempDir dir;
  Config c = Load("configs/default.toml");
  REQUIRE(BootWithTrace(c, dir.File("a.json")) == 0);
  REQUIRE(BootWithTrace(c, dir.File("b.json")) == 0);
  c.seed = 2;
  REQUIRE(BootWithTrace(c, dir.File("c.json")) == 0);
  const std::string a = dir.Read("a.json");
  CHECK(!a.empty());
  CHECK(a == dir.Read("b.json"));
  CHECK(a != dir.Read("c.json"));
}

TEST_CASE("a failed run's trace is valid: the slices its last calls leave open close at the end") {
  TempDir dir;
  // A deadlock leaves calls open.
  const Config c = Load("configs/bad/philosophers-wrong-order.toml");
  REQUIRE(BootWithTrace(c, dir.File("t.json")) == 1);
  Parsed p = ValidateFile(dir.File("t.json"));
  CHECK(p.phases["B"] == p.phases["E"]);
  CHECK(TempDir::ReadFile(dir.File("t.json")).find("\"unfinished\":true") != std::string::npos);
}

TEST_CASE("a check failure's trace is the failing execution's, and valid") {
  TempDir dir;
  const Command r = RunStrata(
      fmt::format("check '{}' --trace t.json", Source("configs/check/bad/ticket-no-bump.toml")),
      dir.path().string());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("  trace      written to t.json (open in https://ui.perfetto.dev): the failing "
                   "execution of layer lock") != std::string::npos);
  Parsed p = ValidateFile(dir.File("t.json"));
  CHECK(p.phases["i"] > 0);
  CHECK(p.counters.count("l holder") == 1);
  // The first bad event is marked once, at its place, with the verdict.
  std::smatch bad;
  REQUIRE(std::regex_search(r.out, bad, std::regex("first bad  t=([0-9]+) ")));
  const json trace = json::parse(TempDir::ReadFile(dir.File("t.json")));
  int marks = 0;
  for (const json& e : trace["traceEvents"]) {
    if (e.value("cat", "") != "failure") continue;
    ++marks;
    CHECK(e["ph"] == "i");
    CHECK(e["s"] == "t");
    CHECK(e["args"]["seq"] == std::stoi(bad[1]));
    CHECK(e["name"].get<std::string>().rfind("first bad event: refinement-violation: ", 0) == 0);
  }
  CHECK(marks == 1);
}

TEST_CASE("a passing check's trace is its last execution's, and says so") {
  TempDir dir;
  const Command r = RunStrata(
      fmt::format("check '{}' --runs 3 --trace t.json", Source("configs/check/queue.toml")),
      dir.path().string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("no failure: the last execution of layer") != std::string::npos);
  Parsed p = ValidateFile(dir.File("t.json"));
  CHECK(p.flows.count("lock hand-over") == 1);
}

TEST_CASE("replay, tlink and compose write valid traces of their runs") {
  TempDir dir;
  const std::string config = Source("configs/threads/ping-pong.toml");
  Command r =
      RunStrata(fmt::format("boot '{}' --schedule run.schedule", config), dir.path().string());
  REQUIRE(r.exit_code == 0);
  r = RunStrata("replay run.schedule --trace replay.json", dir.path().string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("  trace      written to replay.json") != std::string::npos);
  Parsed replayed = ValidateFile(dir.File("replay.json"));
  CHECK(replayed.flows.count("wakeup") == 1);
  r = RunStrata(fmt::format("tlink '{}' --trace tlink.json", config), dir.path().string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("tlink.json (open in https://ui.perfetto.dev): the recorded run") !=
        std::string::npos);
  ValidateFile(dir.File("tlink.json"));
  r = RunStrata(fmt::format("compose '{}' --trace compose.json", config), dir.path().string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("compose.json (open in https://ui.perfetto.dev): the multicore run") !=
        std::string::npos);
  ValidateFile(dir.File("compose.json"));
  // A check's schedule replays to a trace too.
  r = RunStrata(fmt::format("check '{}' --schedule bad.schedule",
                            Source("configs/check/bad/ticket-no-bump.toml")),
                dir.path().string());
  REQUIRE(r.exit_code == 1);
  r = RunStrata("replay bad.schedule --trace check.json", dir.path().string());
  CHECK(r.exit_code == 1);
  ValidateFile(dir.File("check.json"));
}

TEST_CASE("an unwritable --trace path is bad input on every command and leaves no file") {
  TempDir dir;
  const std::string config = Source("configs/threads/ping-pong.toml");
  REQUIRE(RunStrata(fmt::format("boot '{}' --schedule run.schedule", config), dir.path().string())
              .exit_code == 0);
  const std::string missing = dir.File("no-such-dir/t.json");
  for (const std::string& command :
       {fmt::format("boot '{}'", config), fmt::format("check '{}' --runs 2", config),
        fmt::format("compose '{}'", config), fmt::format("tlink '{}'", config),
        std::string("replay run.schedule")}) {
    CAPTURE(command);
    const Command r = RunStrata(fmt::format("{} --trace '{}'", command, missing),
                                dir.path().string());
    CHECK(r.exit_code == 2);
    CHECK(r.err.starts_with("strata: error: "));
    CHECK(r.err.find(missing) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(!std::filesystem::exists(dir.path() / "no-such-dir"));
  }
  // A directory in the trace's place: nothing is written over it, nothing left beside it.
  std::filesystem::create_directory(dir.path() / "a-dir");
  const Command r = RunStrata(fmt::format("boot '{}' --trace a-dir", config), dir.path().string());
  CHECK(r.exit_code == 2);
  CHECK(std::filesystem::is_directory(dir.path() / "a-dir"));
  CHECK(std::filesystem::is_empty(dir.path() / "a-dir"));
  CHECK(!std::filesystem::exists(dir.path() / "a-dir.tmp"));
}

TEST_CASE("--trace is an option of boot, check, replay, tlink and compose") {
  TempDir dir;
  for (const char* command : {"boot", "check", "replay", "tlink", "compose"}) {
    CAPTURE(command);
    const Command r = RunStrata(fmt::format("{} --help", command), dir.path().string());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--trace") != std::string::npos);
  }
}

// A layer strata does not know, declared by its author alone: a mailbox whose
// put hands a message to the next take by another agent.
namespace mailbox {
inline constexpr machine::EventKind kCallPut{"call put"};
inline constexpr machine::EventKind kRetPut{"ret put"};
inline constexpr machine::EventKind kCallTake{"call take"};
inline constexpr machine::EventKind kRetTake{"ret take"};
inline constexpr machine::EventKind kSlot{"SLOT"};
inline constexpr layers::Primitive kPrimitives[] = {{"put", kCallPut, kRetPut, kSlot},
                                                    {"take", kCallTake, kRetTake, kSlot}};
}  // namespace mailbox

TEST_CASE("a user's own layer is drawn from its declaration alone: slices, arrows, counters") {
  machine::Log log;
  const machine::ObjectId box = log.AddObject("box");
  const machine::ObjectId word = log.AddObject("box.slot");
  const machine::CpuId cpu0(0), cpu1(1);
  using machine::OpCode;
  log.Append(cpu0, {}, box, mailbox::kCallPut, 7, 0, 0, OpCode::kCall);
  log.Append(cpu1, {}, box, mailbox::kCallTake, 0, 0, 0, OpCode::kCall);
  log.Append(cpu0, {}, word, mailbox::kSlot, 7, 0, 0, OpCode::kStore);
  log.Append(cpu0, {}, box, mailbox::kRetPut, 0, 0, 1, OpCode::kReturn);
  log.Append(cpu1, {}, word, mailbox::kSlot, 0, 0, 7, OpCode::kLoad);
  log.Append(cpu1, {}, box, mailbox::kRetTake, 0, 0, 7, OpCode::kReturn);
  // A take that found nothing moves no counter and ends no arrow.
  log.Append(cpu1, {}, box, mailbox::kCallTake, 0, 0, 0, OpCode::kCall);
  log.Append(cpu1, {}, box, mailbox::kRetTake, 0, 0, -1, OpCode::kReturn);
  const layers::Timeline declared[] = {
      {.layer = "mailbox",
       .primitives = mailbox::kPrimitives,
       .hand_overs = {{.name = "message",
                       .from = {mailbox::kRetPut},
                       .to = {mailbox::kRetTake, -1},
                       .target = layers::HandOver::Target::kSameObject}},
       .counters = {{.name = "messages",
                     .kind = layers::Counter::Kind::kLevel,
                     .up = {mailbox::kRetPut},
                     .down = {mailbox::kRetTake, -1}}}}};
  const std::string text = RenderTrace(log, declared, {.title = "mailbox", .cpus = 2});
  Parsed p = Validate(text);
  CHECK(p.problems.empty());
  CHECK(p.flows == std::map<std::string, int>{{"message", 1}});
  CHECK(p.counters == std::set<std::string>{"box messages"});
  CHECK(p.phases["B"] == 3);
  CHECK(p.phases["i"] == 2);
  CHECK(text.find("\"name\":\"put box\",\"cat\":\"mailbox\",\"ph\":\"B\"") != std::string::npos);
  CHECK(text.find("\"args\":{\"messages\":1}") != std::string::npos);
  CHECK(text.find("\"args\":{\"messages\":-1}") == std::string::npos);
  // Without the declaration the same log has its slices but no arrows or counters.
  Parsed bare = Validate(RenderTrace(log, {}, {.title = "mailbox", .cpus = 2}));
  CHECK(bare.problems.empty());
  CHECK(bare.flows.empty());
  CHECK(bare.counters.empty());
  CHECK(bare.phases["B"] == 3);
}

TEST_CASE("the validator rejects an unbalanced slice, time going back and a lone arrow end") {
  const std::string head = R"({"displayTimeUnit":"ns","traceEvents":[)";
  const std::string good =
      head + R"({"name":"a","ph":"B","ts":1,"pid":1,"tid":0},
      {"name":"s","ph":"s","id":1,"ts":1,"pid":1,"tid":0},
      {"name":"a","ph":"E","ts":2,"pid":1,"tid":0},
      {"name":"b","ph":"B","ts":3,"pid":1,"tid":1},
      {"name":"s","ph":"f","bp":"e","id":1,"ts":3,"pid":1,"tid":1},
      {"name":"b","ph":"E","ts":4,"pid":1,"tid":1}]})";
  CHECK(Validate(good).problems.empty());
  // Unbalanced: a slice never closed, and an E that closes the outer slice first.
  CHECK(!Validate(head + R"({"name":"a","ph":"B","ts":1,"pid":1,"tid":0}]})").problems.empty());
  CHECK(!Validate(head + R"({"name":"a","ph":"B","ts":1,"pid":1,"tid":0},
      {"name":"b","ph":"B","ts":2,"pid":1,"tid":0},
      {"name":"a","ph":"E","ts":3,"pid":1,"tid":0},
      {"name":"b","ph":"E","ts":4,"pid":1,"tid":0}]})")
             .problems.empty());
  // Time going back on one track (another track may be behind).
  CHECK(!Validate(head + R"({"name":"a","ph":"B","ts":5,"pid":1,"tid":0},
      {"name":"a","ph":"E","ts":4,"pid":1,"tid":0}]})")
             .problems.empty());
  CHECK(!Validate(head + R"({"name":"c","ph":"C","ts":5,"pid":3,"tid":0,"args":{"n":1}},
      {"name":"c","ph":"C","ts":4,"pid":3,"tid":0,"args":{"n":2}}]})")
             .problems.empty());
  // An arrow that starts and never finishes; a counter without args; a missing field.
  CHECK(!Validate(head + R"({"name":"a","ph":"B","ts":1,"pid":1,"tid":0},
      {"name":"s","ph":"s","id":9,"ts":1,"pid":1,"tid":0},
      {"name":"a","ph":"E","ts":2,"pid":1,"tid":0}]})")
             .problems.empty());
  CHECK(!Validate(head + R"({"name":"c","ph":"C","ts":1,"pid":3,"tid":0}]})").problems.empty());
  CHECK(!Validate(head + R"({"name":"a","ph":"B","pid":1,"tid":0}]})").problems.empty());
  CHECK(!Validate("{\"traceEvents\":[").problems.empty());
}

}  // namespace
}  // namespace strata::boot
