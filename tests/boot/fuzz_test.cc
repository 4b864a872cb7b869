// A deterministic fuzzer of strata's inputs: mutated configs (from
// configs/), mutated schedule files (from schedules strata writes) and
// mutated command lines, each run by the real binary in a fresh folder
// under a timeout. Every case must end in exit 0 or 1, or in exit 2 with
// exactly one line on stderr and nothing on stdout; no sanitizer report;
// no file left but the outputs it asked for (none at all on exit 2); no
// input changed; every schedule a run writes replays (exit 0 or 1). The
// fixed cases are the reports of issue 12, each with its exit status and
// the fragment its message must hold. Randomness: std::mt19937_64 with a
// fixed seed and an own bounded draw, so every run tries the same cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include <toml++/toml.h>

#include "boot/config.h"
#include "boot/keys.h"
#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;

// Seconds a case may run; longer is a hang for a fixed case and a run
// accepted (but counted) for a random one.
constexpr int kTimeoutSeconds = 30;

class Draw {
 public:
  explicit Draw(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n), by rejection (no modulo bias).
  std::uint64_t Below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
      const std::uint64_t x = engine_();
      if (x < limit) return x % n;
    }
  }
  bool OneIn(std::uint64_t n) { return Below(n) == 0; }
  template <class T>
  T Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  std::mt19937_64 engine_;
};

struct Case {
  std::string name;
  std::map<std::string, std::string> files;  // written into the case's folder first
  std::vector<std::string> dirs;             // made there first
  bool fifo = false;                         // and a FIFO `p` (never opened)
  std::vector<std::string> args;             // the command line after `strata`
  int exit = -1;                             // fixed cases: the exit status
  std::string fragment;                      // fixed cases: held by stderr
  bool fixed = false;
};

struct Outcome {
  int exit = -1;
  std::string out, err;
  std::vector<std::string> problems;
  bool timed_out = false;
};

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string JoinArgs(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + Quote(a);
  return out;
}

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

bool SanitizerReport(const std::string& text) {
  return text.find("runtime error") != std::string::npos ||
         text.find("AddressSanitizer") != std::string::npos ||
         text.find("LeakSanitizer") != std::string::npos ||
         text.find("UndefinedBehaviorSanitizer") != std::string::npos;
}

// Every file under `dir`, relative to it.
std::set<std::string> FilesUnder(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error); it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (error) break;
    if (!it->is_directory()) out.insert(fs::relative(it->path(), dir).string());
  }
  return out;
}

// The outputs a command line names: the value after each output flag, and
// --log's FILE.txt.
std::set<std::string> AskedOutputs(const std::vector<std::string>& args) {
  std::set<std::string> out;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--log" || a == "--schedule" || a == "--trace" || a == "--report" || a == "--witness") {
      out.insert(fs::path(args[i + 1]).lexically_normal().string());
      if (a == "--log") out.insert(fs::path(args[i + 1] + ".txt").lexically_normal().string());
    }
  }
  return out;
}

std::atomic<int> dir_counter{0};

Outcome RunCase(const Case& k, const fs::path& root) {
  Outcome o;
  const fs::path dir = root / fmt::format("case-{}", dir_counter++);
  fs::create_directories(dir);
  for (const std::string& d : k.dirs) fs::create_directories(dir / d);
  if (k.fifo) ::mkfifo((dir / "p").c_str(), 0644);
  for (const auto& [name, text] : k.files) {
    fs::create_directories((dir / name).parent_path());
    std::ofstream(dir / name, std::ios::binary) << text;
  }
  const std::set<std::string> before = FilesUnder(dir);
  const std::string prefix =
      fmt::format("timeout --foreground --preserve-status -s KILL {} ", kTimeoutSeconds);
  const auto start = std::chrono::steady_clock::now();
  Command c = RunStrata(JoinArgs(k.args), dir.string(), prefix);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.exit = c.exit_code;
  o.out = c.out;
  o.err = c.err;
  o.timed_out = c.exit_code == 128 + 9 && seconds >= kTimeoutSeconds - 1;
  auto problem = [&o](std::string p) { o.problems.push_back(std::move(p)); };
  if (SanitizerReport(c.out) || SanitizerReport(c.err)) problem("a sanitizer report");
  if (o.timed_out) {
    if (k.fixed) problem(fmt::format("no end within {} s", kTimeoutSeconds));
    fs::remove_all(dir);
    return o;
  }
  if (c.exit_code == 2) {
    if (Lines(c.err) != 1) problem(fmt::format("exit 2 with {} lines on stderr", Lines(c.err)));
    if (!c.out.empty()) problem("exit 2 with output on stdout");
  } else if (c.exit_code != 0 && c.exit_code != 1) {
    problem(fmt::format("exit {}", c.exit_code));
  }
  if (k.fixed) {
    if (c.exit_code != k.exit) problem(fmt::format("exit {}, expected {}", c.exit_code, k.exit));
    if (c.err.find(k.fragment) == std::string::npos) {
      problem(fmt::format("stderr lacks \"{}\"", k.fragment));
    }
  }
  if (k.fifo && !fs::is_fifo(dir / "p")) problem("the FIFO p was replaced");
  // A file it was asked to write may change (strata refuses one that is
  // also an input); no other may.
  const std::set<std::string> asked = AskedOutputs(k.args);
  for (const auto& [name, text] : k.files) {
    if (asked.count(name) == 0 && TempDir::ReadFile(dir / name) != text) {
      problem(fmt::format("input {} changed", name));
    }
  }
  std::vector<std::string> schedules;
  for (const std::string& f : FilesUnder(dir)) {
    if (before.count(f) != 0) continue;
    const bool temporary = f.find(".strata-tmp-") != std::string::npos ||
                           f.find(".strata-probe-") != std::string::npos;
    const bool derived = std::regex_match(f, std::regex("strata-.*\\.schedule"));
    if (temporary || c.exit_code == 2 || (asked.count(f) == 0 && !derived)) {
      problem(fmt::format("left the file {}", f));
    }
    if (c.exit_code != 2 && f.size() > 9 && f.substr(f.size() - 9) == ".schedule") schedules.push_back(f);
  }
  // Every schedule strata writes, strata replay reads back.
  for (const std::string& s : schedules) {
    Command r = RunStrata("replay " + Quote(s), dir.string(), prefix);
    if (r.exit_code != 0 && r.exit_code != 1) {
      problem(fmt::format("its schedule {} replays with exit {}: {}", s, r.exit_code, r.err));
    }
    if (SanitizerReport(r.out) || SanitizerReport(r.err)) problem("a sanitizer report on replay");
  }
  fs::remove_all(dir);
  return o;
}

// ----------------------------------------------------------------- inputs

std::string ReadSource(const std::string& relative) { return TempDir::ReadFile(Source(relative)); }

// Every config of configs/, by its path relative to the source tree.
std::vector<std::string> ConfigPaths() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(Source("configs"))) {
    if (e.path().extension() == ".toml") {
      out.push_back(fs::relative(e.path(), STRATA_SOURCE_DIR).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `text` with the keys that make a run long set small (fewer iterations,
// threads, runs and steps), so that a mutated config runs in moments.
std::string Tame(const std::string& text) {
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error&) {
    return text;
  }
  auto cap = [&t](const char* table, const char* key, std::int64_t most, std::int64_t fallback) {
    if (!t.contains(table)) t.insert(table, toml::table{});
    toml::table* tb = t[table].as_table();
    if (tb == nullptr) return;
    std::int64_t v = fallback;
    if (const auto* n = tb->get(key); n != nullptr && n->is_integer()) v = n->as_integer()->get();
    tb->insert_or_assign(key, std::min(v, most));
  };
  cap("run", "max_steps", 20000, 1'000'000);
  cap("workload", "iterations", 3, 100);
  cap("workload", "threads", 3, 2);
  cap("check", "runs", 6, 1000);
  cap("check", "iterations", 2, 2);
  cap("check", "threads", 2, 2);
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

// A cheap run: few stacks, few steps, few executions (the config as the
// binary reads it; a config it refuses is cheap).
bool Cheap(const std::string& text) {
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error&) {
    return true;
  }
  auto c = boot::ParseConfig(t, "fuzz.toml", /*allow_schedule=*/true, Builtin());
  if (!c.ok()) return true;
  const std::int64_t cpus = c->machine.cpus, threads = std::max(c->threads, c->stack.threads);
  const std::int64_t work = cpus * (threads + 2) * (std::max<std::int64_t>(c->iterations, 1) + 2) * 60;
  const std::int64_t steps = std::min<std::int64_t>(static_cast<std::int64_t>(c->machine.max_steps), work);
  return cpus * (threads + 2) <= 4000 && steps <= 30000 && c->runs <= 12 &&
         c->stack.iterations <= 3 && c->stack.threads <= 3 && c->stack.capacity <= 64 &&
         (c->stack.bound <= 8 && c->stack.overrun <= 8) && cpus <= 64;
}

const std::vector<std::string>& InterestingInts() {
  static const std::vector<std::string> v = {
      "-1", "0", "1", "2", "3", "7", "16", "63", "64", "65", "1023", "1024", "1025", "4096",
      "65535", "65536", "65537", "1000000", "2147483647", "2147483648", "4294967296",
      "1000000000000", "1000000000001", "9223372036854775807", "9223372036854775808",
      "18446744073709551615", "-9223372036854775808", "1e3", "1.5", "nan", "inf", "0x10",
      "1_000", "true", "\"\"", "\"3\"", "[1, 2]", "{ a = 1 }", "1979-05-27"};
  return v;
}

// An integer key's bounds and the numbers just outside them (as text: one
// past INT64_MAX is no int64).
std::vector<std::string> Bounds(const boot::Key& k) {
  auto past = [](std::int64_t v, int by) {
    if (by > 0 && v == INT64_MAX) return std::string("9223372036854775808");
    if (by < 0 && v == INT64_MIN) return std::string("-9223372036854775809");
    return fmt::format("{}", v + by);
  };
  return {past(k.lo, -1), fmt::format("{}", k.lo), past(k.lo, 1), fmt::format("{}", k.hi),
          past(k.hi, 1)};
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// Values a string key may get: its catalog names, and some that are not.
std::vector<std::string> NameValues(const boot::Key& k) {
  std::vector<std::string> out = {"\"\"", "\"nope\"", "\"../x\"", "3", "\"a\\u0000b\""};
  if (k.names) {
    std::string names = k.names(Builtin());
    std::size_t pos = 0;
    while (pos < names.size()) {
      std::size_t comma = names.find(", ", pos);
      if (comma == std::string::npos) comma = names.size();
      out.push_back("\"" + names.substr(pos, comma - pos) + "\"");
      pos = comma + 2;
    }
  }
  if (k.is_path) {
    for (const char* p : {"\"s.schedule\"", "\"missing.schedule\"", "\".\"", "\"/dev/zero\"",
                          "\"c.toml\"", "\"log.jsonl\""}) {
      out.push_back(p);
    }
  }
  return out;
}

// One mutation of a TOML text: a value replaced, a line dropped, doubled,
// a key renamed or added, bytes changed, the text cut.
std::string MutateToml(const std::string& text, Draw& d,
                       const std::vector<std::pair<std::string, std::vector<std::string>>>& extra) {
  std::vector<std::string> lines = Split(text);
  if (lines.empty()) lines.push_back("");
  const std::size_t at = d.Below(lines.size());
  std::string& line = lines[at];
  const std::size_t eq = line.find(" = ");
  switch (d.Below(10)) {
    case 0:
    case 1:
    case 2: {  // a value replaced by one the key may or may not take
      if (eq == std::string::npos) break;
      const std::string key = line.substr(0, eq);
      // Half the time a value the key takes (a run), else any.
      std::vector<std::string> values = InterestingInts(), valid;
      for (const boot::Key& k : boot::Keys()) {
        if (k.key != key) continue;
        if (k.type == boot::Key::Type::kInt) {
          for (const std::string& v : Bounds(k)) values.push_back(v);
          for (std::int64_t v : {k.lo, k.lo + 1, k.lo + 2, std::int64_t{2}, std::int64_t{4}}) {
            if (v >= k.lo && v <= k.hi) valid.push_back(fmt::format("{}", v));
          }
        } else if (k.type == boot::Key::Type::kBool) {
          valid = {"true", "false"};
        } else {
          const std::vector<std::string> names = NameValues(k);
          values.insert(values.end(), names.begin(), names.end());
          valid.assign(names.begin() + 5, names.end());
        }
      }
      if (!valid.empty() && d.OneIn(2)) values = valid;
      for (const auto& [name, vs] : extra) {
        if (name == key) values.insert(values.end(), vs.begin(), vs.end());
      }
      line = key + " = " + d.Pick(values);
      break;
    }
    case 3:
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(at));
      break;
    case 4:
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), line);
      break;
    case 5: {  // a known key of another table, or an unknown one
      const boot::Key& k = boot::Keys()[d.Below(boot::Keys().size())];
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at),
                   d.OneIn(3) ? "[" + k.table + "]" : k.key + " = " + d.Pick(InterestingInts()));
      break;
    }
    case 6:  // a renamed key
      if (eq != std::string::npos) line = line.substr(0, eq) + "s" + line.substr(eq);
      break;
    case 7: {  // a byte changed
      if (line.empty()) break;
      const char bytes[] = {'[', ']', '"', '=', '#', '\\', '\0', '\n', 'x', '9', '\xff', '\t'};
      line[d.Below(line.size())] = bytes[d.Below(sizeof bytes)];
      break;
    }
    case 8: {  // cut short
      std::string all = Join(lines);
      return all.substr(0, d.Below(all.size() + 1));
    }
    case 9:  // a table header broken or doubled
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at),
                   d.Pick(std::vector<std::string>{"[machine]", "[schedule]", "[nope]", "[[machine]]",
                                                   "machine = 1", "[machine.cpus]"}));
      break;
  }
  return Join(lines);
}

// --------------------------------------------------------------- the cases

struct Corpus {
  std::map<std::string, std::string> configs;    // path -> tamed text
  std::vector<std::string> schedules;            // texts strata wrote
  std::string boot_schedule, check_schedule;     // one of each, as written
  std::string recording = "configs/env/recordings/counter-2cpus.jsonl";
};

// Runs strata on a few failing and passing configs and keeps the schedule
// files they write; each must replay (checked as a fixed case would be).
std::vector<std::string> WrittenSchedules(const fs::path& root) {
  const std::vector<std::vector<std::string>> runs = {
      {"boot", "configs/bad/lost-update.toml", "--schedule", "s.schedule"},
      {"boot", "configs/bad/lock-order.toml", "--schedule", "s.schedule"},
      {"boot", "configs/bad/throw.toml", "--schedule", "s.schedule"},
      {"boot", "configs/counter.toml", "--schedule", "s.schedule"},
      {"boot", "configs/threads/fork-lock.toml", "--schedule", "s.schedule"},
      {"boot", "configs/env/bad/recorded-lost-update.toml", "--schedule", "s.schedule"},
      {"check", "configs/check/bad/ticket-no-bump.toml", "--schedule", "s.schedule"},
      {"check", "configs/check/bad/queue-lifo.toml", "--schedule", "s.schedule"},
      {"check", "configs/check/bad/sched-lost-wakeup.toml", "--schedule", "s.schedule"},
  };
  std::vector<std::string> out;
  for (std::vector<std::string> args : runs) {
    const fs::path dir = root / fmt::format("setup-{}", dir_counter++);
    fs::create_directories(dir);
    args[1] = Source(args[1]);
    Command c = RunStrata(JoinArgs(args), dir.string());
    CAPTURE(JoinArgs(args));
    CHECK((c.exit_code == 0 || c.exit_code == 1));
    const std::string text = TempDir::ReadFile(dir / "s.schedule");
    CHECK(!text.empty());
    Command r = RunStrata("replay s.schedule", dir.string());
    CHECK((r.exit_code == 0 || r.exit_code == 1));
    CHECK(r.out.find("replay     reproduced") != std::string::npos);
    if (!text.empty()) out.push_back(text);
    fs::remove_all(dir);
  }
  return out;
}

// `text` with every line `KEY = ...` set to `KEY = VALUE` (line by line:
// std::regex recurses per character and overflows on a long choices line).
std::string SetKey(const std::string& text, const std::string& key, const std::string& value) {
  std::vector<std::string> lines = Split(text);
  for (std::string& line : lines) {
    if (line.rfind(key + " = ", 0) == 0) line = key + " = " + value;
  }
  return Join(lines);
}

// The value of the first line `KEY = VALUE`, quotes dropped; "" if none.
std::string KeyValue(const std::string& text, const std::string& key) {
  for (const std::string& line : Split(text)) {
    if (line.rfind(key + " = ", 0) != 0) continue;
    std::string v = line.substr(key.size() + 3);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

// The reports of issue 12, each with the exit status and message it must give.
std::vector<Case> FixedCases(const Corpus& corpus) {
  const std::string counter = ReadSource("configs/counter.toml");
  auto config = [&](std::string name, std::string text, std::vector<std::string> args, int exit,
                    std::string fragment, std::vector<std::string> dirs = {}) {
    Case k{.name = std::move(name), .args = std::move(args), .exit = exit,
           .fragment = std::move(fragment), .fixed = true};
    k.files["c.toml"] = std::move(text);
    k.dirs = std::move(dirs);
    return k;
  };
  const std::string threads =
      "[machine]\ncpus = {}\n[workload]\nkind = \"thread-counter\"\nthreads = {}\niterations = 1\n";
  auto fifo = [](Case k) {
    k.fifo = true;
    return k;
  };
  std::vector<Case> cases = {
      // 1. more fiber stacks than the host's memory maps
      config("1: 64 cpus x 1022 threads", fmt::format(fmt::runtime(threads), 64, 1022), {"boot", "c.toml"}, 2,
             "c.toml: workload.threads: "),
      config("1: 1 cpu x 65534 threads", fmt::format(fmt::runtime(threads), 1, 65534), {"boot", "c.toml"}, 2,
             "vm.max_map_count"),
      config("1: 64 cpus x 500 threads", fmt::format(fmt::runtime(threads), 64, 500), {"boot", "c.toml"}, 2,
             "c.toml: workload.threads: workload.threads = 500 needs"),
      config("1: the check's client threads",
             "[machine]\ncpus = 16\n[check]\nclient = \"thread-counter\"\nthreads = 4096\n",
             {"check", "c.toml"}, 2, "c.toml: check.threads: "),
      // 3. numbers range-checked alike everywhere
      config("3: --runs -1", counter, {"check", "c.toml", "--runs", "-1"}, 2,
             "strata: error: --runs: expected an integer from 1 to 1000000000000, got -1"),
      config("3: --seed -1", counter, {"boot", "c.toml", "--seed", "-1"}, 2,
             "strata: error: --seed: expected an integer from 0 to 9223372036854775807, got -1"),
      config("3: --seed 2^64-1", counter, {"boot", "c.toml", "--seed", "18446744073709551615"}, 2,
             "--seed: expected an integer from 0 to 9223372036854775807, got \"18446744073709551615\""),
      config("3: seed 2^64-1 in a config", SetKey(counter, "seed", "18446744073709551615"),
             {"boot", "c.toml"}, 2, "c.toml:9:"),
      config("3: seed 2^63 in a config", SetKey(counter, "seed", "9223372036854775808"),
             {"boot", "c.toml"}, 2, "c.toml:9:"),
      config("3: the largest seed fails and its schedule replays",
             SetKey(ReadSource("configs/bad/lost-update.toml"), "seed", "9223372036854775807"),
             {"boot", "c.toml", "--seed", "9223372036854775807"}, 1, ""),
      // 4. a config that is no file
      config("4: boot a directory", counter, {"boot", "d"}, 2,
             "strata: error: d: is a directory, not the config file (expected a TOML file)", {"d"}),
      config("4: check a directory", counter, {"check", "d"}, 2, "d: is a directory", {"d"}),
      config("4: boot /proc/self/mem", counter, {"boot", "/proc/self/mem"}, 2,
             "strata: error: /proc/self/mem: cannot read the config file"),
      config("4: boot /dev/zero", counter, {"boot", "/dev/zero"}, 2,
             "strata: error: /dev/zero: is not a regular file, not the config file"),
      // 5. an output over an input or another output
      config("5: --log over the config", counter, {"boot", "c.toml", "--log", "c.toml"}, 2,
             "strata: error: c.toml: --log: is also the config (expected an output path of its own)"),
      config("5: --log and --schedule one file", counter,
             {"boot", "c.toml", "--log", "s", "--schedule", "s"}, 2,
             "s: --schedule: is also --log's file s"),
      config("5: --schedule over --log's text", counter,
             {"boot", "c.toml", "--log", "s", "--schedule", "./s.txt"}, 2, "is also --log's file s.txt"),
      config("5: check --report over the config", counter, {"check", "c.toml", "--report", "./c.toml"}, 2,
             "--report: is also the config"),
      // 6. outputs checked before the run
      config("6: --log x with x.txt a directory", counter, {"boot", "c.toml", "--log", "x"}, 2,
             "strata: error: x.txt: --log: is a directory (expected a file path)", {"x.txt"}),
      config("6: --log D", counter, {"boot", "c.toml", "--log", "D"}, 2, "D: --log: is a directory", {"D"}),
      config("6: --schedule D", counter, {"boot", "c.toml", "--schedule", "D"}, 2,
             "D: --schedule: is a directory", {"D"}),
      config("6: check --schedule in no folder", counter,
             {"check", "c.toml", "--runs", "100000", "--schedule", "/no/such/dir/x"}, 2,
             "/no/such/dir/x: --schedule: cannot write this file"),
      config("6: check --witness D", counter, {"check", "c.toml", "--witness", "D"}, 2,
             "D: --witness: is a directory", {"D"}),
      fifo(config("6: --log a FIFO", counter, {"boot", "c.toml", "--log", "p"}, 2,
             "p: --log: is not a regular file (expected a file path)")),
      fifo(config("4: a FIFO as the config", counter, {"boot", "p"}, 2,
                  "p: is not a regular file, not the config file")),
      // 8. an unknown command
      config("8: bot", counter, {"bot", "c.toml"}, 2, "unknown command \"bot\" (did you mean boot?)"),
      // 9. a TCB pool too small for the workload
      config("9: stack.max_threads below the workload's threads",
             fmt::format(fmt::runtime(threads), 2, 4) + "[stack]\nmax_threads = 3\n", {"boot", "c.toml"}, 2,
             "c.toml: stack.max_threads: workload \"thread-counter\" has up to 8 threads at once"),
      // 10. options that do not apply
      config("10: --preemption-bound with random", counter,
             {"check", "c.toml", "--preemption-bound", "2", "--strategy", "random"}, 2,
             "--preemption-bound: applies to check.strategy dfs or portfolio only"),
      config("10: --reduction with pct", counter,
             {"check", "c.toml", "--reduction", "none", "--strategy", "pct"}, 2,
             "--reduction: applies to check.strategy dfs or portfolio only"),
      config("10: --no-symmetry with random", counter,
             {"check", "c.toml", "--no-symmetry", "--strategy", "random"}, 2,
             "--no-symmetry: applies to check.strategy dfs or portfolio only"),
      config("10: compose --no-shrink", counter, {"compose", "c.toml", "--no-shrink"}, 2, "--no-shrink"),
  };
  // 2. run counts checked against `steps` before they are expanded
  Case big{.name = "2: choices past steps", .args = {"replay", "s.schedule"}, .exit = 2,
           .fragment = "schedule.choices: choice 1 `0x1000000000` goes past step 5", .fixed = true};
  big.files["s.schedule"] = SetKey(SetKey(corpus.boot_schedule, "steps", "5"), "choices",
                                   "\"0x1000000000 1x1000000000\"");
  cases.push_back(big);
  Case steps{.name = "2: steps past run.max_steps", .args = {"replay", "s.schedule"}, .exit = 2,
             .fragment = "schedule.steps: expected an integer from 0 to", .fixed = true};
  steps.files["s.schedule"] = SetKey(corpus.boot_schedule, "steps", "1000000000000");
  cases.push_back(steps);
  Case seed{.name = "3: a schedule's seed out of range", .args = {"replay", "s.schedule"}, .exit = 2,
            .fragment = "oracle.seed: expected an integer from 0 to 9223372036854775807", .fixed = true};
  seed.files["s.schedule"] = SetKey(corpus.boot_schedule, "seed", "-1");
  cases.push_back(seed);
  // 5. replay's outputs against the schedule
  Case over{.name = "5: replay --log over the schedule", .args = {"replay", "s.schedule", "--log", "s.schedule"},
            .exit = 2, .fragment = "s.schedule: --log: is also the schedule file", .fixed = true};
  over.files["s.schedule"] = corpus.boot_schedule;
  cases.push_back(over);
  // 7. a schedule that does not fit its config: one line, no header
  Case unfit{.name = "7: a choice of a cpu that cannot run", .args = {"replay", "s.schedule"}, .exit = 2,
             .fragment = "which cannot run there", .fixed = true};
  {
    std::string s = SetKey(corpus.boot_schedule, "fairness", "1000000000");
    s = SetKey(s, "choices", "\"0x" + KeyValue(s, "steps") + "\"");
    unfit.files["s.schedule"] = s;
  }
  cases.push_back(unfit);
  // 10. replay --log of a check's schedule
  Case log{.name = "10: replay --log of a check's schedule", .args = {"replay", "s.schedule", "--log", "l"},
           .exit = 2, .fragment = "--log: s.schedule is the schedule of a check", .fixed = true};
  log.files["s.schedule"] = corpus.check_schedule;
  cases.push_back(log);
  return cases;
}

std::vector<std::string> Commands(const std::string& config, Draw& d) {
  const std::vector<std::vector<std::string>> commands = {
      {"boot"}, {"boot"}, {"boot"}, {"check"}, {"check"}, {"compose"}, {"tlink"}, {"layers"}};
  std::vector<std::string> args = d.Pick(commands);
  args.push_back(config);
  return args;
}

// Flags and values a command line may get.
std::vector<std::string> FlagValues(const std::string& flag) {
  if (flag == "--runs" || flag == "--cpus") return {"1", "2", "3", "0", "-1", "x", "", "1e3", "18446744073709551616"};
  for (const boot::Key& k : boot::Keys()) {
    if (k.flag != flag) continue;
    if (k.type == boot::Key::Type::kInt) {
      std::vector<std::string> values = Bounds(k);
      for (const char* v : {"-1", "x", "", "0x10", "18446744073709551615", " 1"}) values.push_back(v);
      return values;
    }
    std::vector<std::string> names = NameValues(k);
    for (std::string& n : names) {
      if (n.size() >= 2 && n.front() == '"') n = n.substr(1, n.size() - 2);
    }
    return names;
  }
  return {"o1", "o2", "c.toml", "s.schedule", "D", "no/such/x", "x", "./o1", "D/o3", "", "p"};
}

Case CommandLineCase(const Corpus& corpus, Draw& d, int i) {
  Case k{.name = fmt::format("command line {}", i)};
  const std::string config =
      d.Pick(std::vector<std::string>{"c.toml", "c.toml", "c.toml", "s.schedule", "D", "missing.toml", "p"});
  auto it = corpus.configs.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(d.Below(corpus.configs.size())));
  k.files["c.toml"] = it->second;
  k.files["s.schedule"] = d.Pick(corpus.schedules);
  k.files[corpus.recording] = ReadSource(corpus.recording);
  k.dirs = {"D", "x.txt"};
  k.fifo = true;
  if (d.OneIn(5)) {
    k.args = {"replay", "s.schedule"};
  } else {
    k.args = Commands(config, d);
  }
  if (d.OneIn(40)) k.args[0] = d.Pick(std::vector<std::string>{"bot", "chek", "", "--help", "replay", "docs", "-x"});
  std::vector<std::string> flags = {"--log", "--schedule", "--trace", "--report", "--witness", "--json",
                                    "--progress", "--witness-all", "--all", "--by-thread", "--frob",
                                    "--no-shrink", "--no-symmetry", "--recording"};
  for (const boot::Key& k2 : boot::Keys()) {
    if (!k2.flag.empty()) flags.push_back(k2.flag);
  }
  const std::uint64_t n = d.Below(3);
  for (std::uint64_t f = 0; f < n; ++f) {
    const std::string flag = d.Pick(flags);
    k.args.push_back(flag);
    const bool takes_value = flag != "--json" && flag != "--progress" && flag != "--witness-all" &&
                             flag != "--all" && flag != "--by-thread" && flag != "--no-shrink" &&
                             flag != "--no-symmetry";
    if (takes_value && !d.OneIn(30)) k.args.push_back(d.Pick(FlagValues(flag)));
  }
  if (d.OneIn(30)) k.args.push_back("extra.toml");
  return k;
}

Case ConfigCase(const Corpus& corpus, Draw& d, int i) {
  Case k{.name = fmt::format("config {}", i)};
  auto it = corpus.configs.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(d.Below(corpus.configs.size())));
  std::string text = it->second;
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::string mutated = text;
    const std::uint64_t n = d.OneIn(4) ? 2 : 1;
    for (std::uint64_t m = 0; m < n; ++m) mutated = MutateToml(mutated, d, {});
    if (Cheap(mutated)) {
      text = mutated;
      break;
    }
  }
  // A recording named relative to the config's folder is there too.
  fs::path folder = fs::path(it->first).parent_path();
  k.files[(folder / "c.toml").string()] = text;
  k.files[corpus.recording] = ReadSource(corpus.recording);
  k.args = Commands((folder / "c.toml").string(), d);
  if (d.OneIn(4)) {
    for (const char* flag : {"--log", "--schedule", "--trace", "--report"}) {
      if (d.OneIn(2) && (k.args[0] == "boot" || std::string(flag) == "--trace")) {
        k.args.push_back(flag);
        k.args.push_back(fmt::format("out{}", flag));
      }
    }
  }
  return k;
}

Case ScheduleCase(const Corpus& corpus, Draw& d, int i) {
  Case k{.name = fmt::format("schedule {}", i)};
  std::string text = d.Pick(corpus.schedules);
  const std::int64_t steps = std::stoll(KeyValue(text, "steps"));
  const std::string choices = KeyValue(text, "choices");
  const std::vector<std::pair<std::string, std::vector<std::string>>> extra = {
      {"steps", {"0", "1", "5", fmt::format("{}", steps - 1), fmt::format("{}", steps + 1), "-1",
                 "1000000000000", "9223372036854775808"}},
      {"choices", {"\"\"", "\"0\"", "\"0x1000000000 1x1000000000\"", "\"9\"", "\"0x0\"", "\"x\"",
                   "\"0 x\"", "\"" + choices + " 0\"", "\"" + choices.substr(0, choices.size() / 2) + "\"",
                   "\"1x" + fmt::format("{}", steps) + "\"", "\"-1\"", "\"0x-1\"", "\"1 0 " + choices + "\""}},
      {"outcome", {"\"ok\"", "\"deadlock\"", "\"nope\"", "\"refines\"", "\"nondeterminism\"", "\"wrong-result\""}},
      {"log_hash", {"\"0000000000000000\"", "\"xyz\"", "\"\"", "\"FFFFFFFFFFFFFFFF\""}},
      {"client_seed", {"\"0000000000000000\"", "\"-1\"", "\"ffffffffffffffff\""}},
      {"layer", {"\"lock\"", "\"queue\"", "\"sched\"", "\"thread\"", "\"nope\""}},
      {"format", {"0", "2", "\"1\""}},
  };
  const std::uint64_t n = d.OneIn(3) ? 2 : 1;
  for (std::uint64_t j = 0; j < n; ++j) {
    // Mostly the [schedule] table: its lines are the last ones.
    if (d.OneIn(2)) {
      std::vector<std::string> lines = Split(text);
      std::size_t from = 0;
      for (std::size_t l = 0; l < lines.size(); ++l) {
        if (lines[l] == "[schedule]") from = l + 1;
      }
      std::vector<std::string> head(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(from));
      std::vector<std::string> tail(lines.begin() + static_cast<std::ptrdiff_t>(from), lines.end());
      text = Join(head) + MutateToml(Join(tail), d, extra);
    } else {
      text = MutateToml(text, d, extra);
    }
  }
  k.files["s.schedule"] = text;
  k.files[corpus.recording] = ReadSource(corpus.recording);
  k.args = {"replay", "s.schedule"};
  const std::vector<std::vector<std::string>> flags = {
      {}, {}, {"--all"}, {"--by-thread"}, {"--log", "o"}, {"--report", "r.html"}, {"--trace", "t.json"},
      {"--log", "s.schedule"}, {"--report", "s.schedule"}};
  for (const std::string& f : d.Pick(flags)) k.args.push_back(f);
  return k;
}

TEST_CASE("bad input never crashes, hangs, exhausts memory or overwrites a file (1000+ fuzzed cases)") {
  const fs::path root = fs::temp_directory_path() / fmt::format("strata-fuzz-{}", ::getpid());
  fs::create_directories(root);
  Corpus corpus;
  for (const std::string& path : ConfigPaths()) corpus.configs[path] = Tame(ReadSource(path));
  corpus.schedules = WrittenSchedules(root);
  REQUIRE(corpus.schedules.size() >= 6);
  for (const std::string& s : corpus.schedules) {
    std::string& one = s.find("[schedule]\nformat = 1\nlayer = ") == std::string::npos
                           ? corpus.boot_schedule
                           : corpus.check_schedule;
    if (one.empty()) one = s;
  }
  REQUIRE(!corpus.check_schedule.empty());

  Draw d(0x5eed12);
  std::vector<Case> cases = FixedCases(corpus);
  const std::size_t fixed = cases.size();
  for (int i = 0; i < 520; ++i) cases.push_back(ConfigCase(corpus, d, i));
  for (int i = 0; i < 340; ++i) cases.push_back(CommandLineCase(corpus, d, i));
  for (int i = 0; i < 300; ++i) cases.push_back(ScheduleCase(corpus, d, i));
  REQUIRE(cases.size() >= 1000);

  // Two workers; the checks are made here, on this thread (doctest's are not
  // thread-safe).
  std::vector<Outcome> outcomes(cases.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < cases.size(); i = next++) outcomes[i] = RunCase(cases[i], root);
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  fs::remove_all(root);

  std::map<int, int> exits;
  int timed_out = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& k = cases[i];
    const Outcome& o = outcomes[i];
    ++exits[o.exit];
    timed_out += o.timed_out ? 1 : 0;
    CAPTURE(k.name);
    CAPTURE(JoinArgs(k.args));
    CAPTURE(o.err);
    for (const std::string& p : o.problems) {
      CAPTURE(p);
      const std::string file = k.files.count("c.toml") ? k.files.at("c.toml")
                               : k.files.count("s.schedule") ? k.files.at("s.schedule") : "";
      CAPTURE(file.substr(0, 4000));
      FAIL_CHECK("a case broke a rule");
    }
  }
  MESSAGE(fmt::format("{} cases ({} fixed): exit 0: {}, exit 1: {}, exit 2: {}, timed out: {}",
                      cases.size(), fixed, exits[0], exits[1], exits[2], timed_out));
  // A few accepted inputs may run long; most must run or be refused.
  CHECK(timed_out <= static_cast<int>(cases.size() / 50));
  CHECK(exits[0] + exits[1] >= 100);
  CHECK(exits[2] >= 300);
}

}  // namespace
}  // namespace strata::testing
