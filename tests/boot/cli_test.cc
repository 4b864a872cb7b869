#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST_CASE("strata boot with no config boots the default system and prints the summary") {
  Command c = RunStrata("boot", STRATA_SOURCE_DIR);
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("strata boot configs/default.toml") != std::string::npos);
  CHECK(c.out.find("outcome    ok") != std::string::npos);
  CHECK(c.out.find("workload   producer-consumer x50, 2 threads/cpu") != std::string::npos);
  CHECK(c.out.find("items consumed = 200 (expected 200) ok") != std::string::npos);
  CHECK(std::regex_search(c.out, std::regex("cpu0 +threads 2  switches [1-9][0-9]*  yields 0  "
                                            "sleeps [0-9]+  wakeups local [0-9]+ remote [1-9]")));
  CHECK(c.out.find("threads DEAD: 0 1 2 3 4 5 6 7") != std::string::npos);
  CHECK(c.out.find("per kind") != std::string::npos);
  CHECK(c.out.find("seed 1  log hash ") != std::string::npos);
  CHECK(c.out.find("M events/s") != std::string::npos);
  CHECK(c.err.empty());
}

TEST_CASE("the same seed gives the same log hash and another seed another one") {
  TempDir dir;
  std::string cfg = Source("configs/default.toml");
  std::string a = HashIn(RunStrata("boot '" + cfg + "' --seed 5", dir.path()).out);
  std::string b = HashIn(RunStrata("boot '" + cfg + "' --seed 5", dir.path()).out);
  std::string c = HashIn(RunStrata("boot '" + cfg + "' --seed 6", dir.path()).out);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("--log writes one JSON line and one text line per event") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/default.toml") + "' --cpus 2 --log run.jsonl",
                        dir.path());
  REQUIRE(c.exit_code == 0);
  std::ifstream json(dir.File("run.jsonl")), text(dir.File("run.jsonl.txt"));
  std::string js((std::istreambuf_iterator<char>(json)), {});
  std::string tx((std::istreambuf_iterator<char>(text)), {});
  std::smatch m;
  REQUIRE(std::regex_search(c.out, m, std::regex("events     ([0-9]+) in")));
  CHECK(Lines(js) == std::stoi(m[1]));
  CHECK(Lines(tx) == std::stoi(m[1]));
  CHECK(js.rfind("{\"seq\":0,\"cpu\":", 0) == 0);
  CHECK(tx.rfind("t=0 cpu=", 0) == 0);
  // Every text line ends with the strata source line that made the event.
  std::istringstream lines(tx);
  int located = 0;
  for (std::string line; std::getline(lines, line);) {
    CAPTURE(line);
    CHECK(std::regex_search(line, std::regex("  @ (kernel|sched|boot)/[a-z_]+\\.(cc|h):[0-9]+$")));
    ++located;
  }
  CHECK(located == std::stoi(m[1]));
}

TEST_CASE("bad input exits 2 with one line and writes nothing") {
  TempDir dir;
  std::string cfg = "'" + Source("configs/default.toml") + "'";
  struct Case {
    std::string args;
    std::string err;
  };
  const Case cases[] = {
      {"boot missing.toml",
       "strata: error: missing.toml: cannot open the config file (expected a TOML file)\n"},
      {"boot " + cfg + " --cpus 0 --log out.jsonl",
       "strata: error: --cpus: expected an integer from 1 to 1024, got 0\n"},
      {"boot " + cfg + " --cpus 5000",
       "strata: error: --cpus: expected an integer from 1 to 1024, got 5000\n"},
      {"boot " + cfg + " --seed -1",
       "strata: error: --seed: expected an integer from 0 to 9223372036854775807, got -1\n"},
      {"boot " + cfg + " --oracle fifo --log out.jsonl",
       "strata: error: --oracle: expected one of round-robin, random, pct, got \"fifo\" (a "
       "recorded schedule is replayed with `strata replay FILE`)\n"},
      {"boot " + cfg + " --log no/such/dir/out.jsonl",
       "strata: error: no/such/dir/out.jsonl: --log: cannot write this file (expected a path in "
       "a writable directory)\n"},
      {"boot " + cfg + " --log .",
       "strata: error: .: --log: is a directory (expected a file path)\n"},
      {"check " + cfg + " --report .",
       "strata: error: .: --report: is a directory (expected a file path)\n"},
      {"replay nothing.schedule",
       "strata: error: nothing.schedule: cannot open the schedule file (expected a schedule file "
       "strata wrote)\n"},
      // An unknown command is named, with the closest known one.
      {"bot " + cfg,
       "strata: error: unknown command \"bot\" (did you mean boot?): expected one of boot, "
       "replay, bench, check, compose, tlink, docs, layers\n"},
      {"chek",
       "strata: error: unknown command \"chek\" (did you mean check?): expected one of boot, "
       "replay, bench, check, compose, tlink, docs, layers\n"},
      {"frobnicate",
       "strata: error: unknown command \"frobnicate\": expected one of boot, replay, bench, "
       "check, compose, tlink, docs, layers\n"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.args);
    Command c = RunStrata(k.args, dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err == k.err);
    CHECK(Lines(c.err) == 1);
  }
  CHECK_FALSE(std::filesystem::exists(dir.File("out.jsonl")));
  CHECK_FALSE(std::filesystem::exists(dir.File("out.jsonl.txt")));

  Command usage = RunStrata("frobnicate", dir.path());
  CHECK(usage.exit_code == 2);
  CHECK(Lines(usage.err) == 1);
  Command bad_toml = RunStrata("boot '" + dir.Write("x.toml", "[machine\n") + "'", dir.path());
  CHECK(bad_toml.exit_code == 2);
  CHECK(bad_toml.err.find("x.toml:1:") != std::string::npos);
  CHECK(Lines(bad_toml.err) == 1);
}

TEST_CASE("keys that must fit each other are checked once the flags have set theirs") {
  TempDir dir;
  // A fairness bound of 3 fits 2 cpus, not the default 4.
  dir.Write("f.toml", "[oracle]\nfairness = 3\n[check]\nlayer = \"lock\"\nruns = 5\n");
  Command two = RunStrata("check f.toml --cpus 2", dir.path());
  CHECK(two.exit_code == 0);
  CHECK(two.err.empty());
  Command four = RunStrata("check f.toml", dir.path());
  CHECK(four.exit_code == 2);
  CHECK(four.err ==
        "strata: error: f.toml: oracle.fairness: expected 0 (auto) or at least machine.cpus (4), got 3\n");
  Command five = RunStrata("check f.toml --cpus 5", dir.path());
  CHECK(five.exit_code == 2);
  CHECK(five.err ==
        "strata: error: f.toml: oracle.fairness: expected 0 (auto) or at least machine.cpus (5), got 3 "
        "(after command-line overrides)\n");
}

TEST_CASE("a failing run writes a schedule that strata replay reproduces") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/bad/lock-order.toml") + "' --schedule d.schedule",
                        dir.path());
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("report     deadlock: ") != std::string::npos);
  CHECK(c.out.find("replay     strata replay d.schedule") != std::string::npos);
  REQUIRE(std::filesystem::exists(dir.File("d.schedule")));
  Command r = RunStrata("replay d.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("replay     reproduced: deadlock with log hash " + HashIn(c.out)) !=
        std::string::npos);
}

TEST_CASE("a failing run without --schedule names its schedule after config, outcome, seed, and overwrites "
          "no other file") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/bad/throw.toml") + "'", dir.path());
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("report     exception: cpu 3 threw: cpu 3 gave up at iteration 10") !=
        std::string::npos);
  CHECK(c.out.find("  schedule   written to strata-throw-exception-seed1.schedule\n") != std::string::npos);
  // A rerun replaces the schedule it wrote.
  Command again = RunStrata("boot '" + Source("configs/bad/throw.toml") + "'", dir.path());
  CHECK(again.out.find("  schedule   written to strata-throw-exception-seed1.schedule\n") != std::string::npos);
  CHECK(dir.Files() == 1);
  // Another config's failure of the same workload and outcome has a name of
  // its own (the names once were workload, outcome and seed).
  dir.Write("other.toml", TempDir::ReadFile(Source("configs/bad/throw.toml")));
  Command other = RunStrata("boot other.toml", dir.path());
  CHECK(other.out.find("  schedule   written to strata-other-exception-seed1.schedule\n") != std::string::npos);
  // The derived name is never the command's own input or another output,
  // nor a file strata did not write as a schedule: the next free name.
  dir.Write("strata-mine-exception-seed1.schedule", TempDir::ReadFile(Source("configs/bad/throw.toml")));
  Command input = RunStrata("boot strata-mine-exception-seed1.schedule --trace strata-strata-mine-exception-seed1-"
                            "exception-seed1.schedule",
                            dir.path());
  CHECK(input.exit_code == 1);
  CHECK(input.out.find("  schedule   written to strata-strata-mine-exception-seed1-exception-seed1-2.schedule\n") !=
        std::string::npos);
  CHECK(TempDir::ReadFile(dir.File("strata-mine-exception-seed1.schedule")) == TempDir::ReadFile(Source("configs/bad/throw.toml")));
  dir.Write("strata-throw-exception-seed1.schedule", "notes of mine\n");
  Command mine = RunStrata("boot '" + Source("configs/bad/throw.toml") + "'", dir.path());
  CHECK(mine.out.find("  schedule   written to strata-throw-exception-seed1-2.schedule\n") != std::string::npos);
  CHECK(TempDir::ReadFile(dir.File("strata-throw-exception-seed1.schedule")) == "notes of mine\n");
  Command replay = RunStrata("replay strata-throw-exception-seed1-2.schedule", dir.path());
  CHECK(replay.out.find("replay     reproduced: exception") != std::string::npos);
}

TEST_CASE("output that cannot be written is one error line and exit status 2, never an abort or a silent 0") {
  TempDir dir;
  const std::string config = "'" + Source("configs/counter.toml") + "'";
  for (const std::string& args : {"layers " + config, "boot " + config, "boot " + config + " --json", std::string("docs"),
                                  "check '" + Source("configs/check/ticket.toml") + "' --runs 20 --json"}) {
    CAPTURE(args);
    Command c = RunStrata(args + " >/dev/full", dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err.starts_with("strata: error: cannot write the output: "));
    CHECK(Lines(c.err) == 1);
  }
  // stderr full too: still exit status 2, no abort.
  Command both = RunStrata("boot no-such.toml 2>/dev/full", dir.path());
  CHECK(both.exit_code == 2);
}

TEST_CASE("a failure whose schedule cannot be written is still the verdict, exit status 1") {
  TempDir dir;
  // Run in /proc, where no file can be made, even by root.
  const std::string in_proc = "cd /proc && ";
  Command c = RunStrata("boot '" + Source("configs/bad/throw.toml") + "' --json", dir.path(), in_proc);
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("\"verdict\":\"exception\"") != std::string::npos);
  CHECK(c.out.find("\"schedule\":null,\"replay\":null") != std::string::npos);
  Command text = RunStrata("boot '" + Source("configs/bad/throw.toml") + "'", dir.path(), in_proc);
  CHECK(text.exit_code == 1);
  CHECK(text.out.find("  schedule   NOT written (--schedule FILE writes it elsewhere): ") != std::string::npos);
  CHECK(text.out.find("  replay     ") == std::string::npos);
  Command check =
      RunStrata("check '" + Source("configs/check/bad/ticket-no-bump.toml") + "' --json", dir.path(), in_proc);
  CHECK(check.exit_code == 1);
  CHECK(check.out.find("\"verdict\":\"refinement-violation\"") != std::string::npos);
  CHECK(check.out.find("\"schedule\":null,\"replay\":null") != std::string::npos);
}

TEST_CASE("an unfair recorded schedule is reported as unfair on replay") {
  TempDir dir;
  Command r = RunStrata("replay '" + Source("tests/boot/corpus/unfair.schedule") + "'", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("report     unfair-schedule: the schedule runs cpu 0 at step 4 where cpu 1 "
                   "(waiting 4 steps) must run for every cpu to keep the fairness bound 4") !=
        std::string::npos);
}

TEST_CASE("an edited schedule is reported as diverging, not as reproduced") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/bad/lost-update.toml") + "' --schedule l.schedule",
                        dir.path());
  REQUIRE(c.exit_code == 1);
  std::ifstream in(dir.File("l.schedule"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text = std::regex_replace(text, std::regex("log_hash = \"[0-9a-f]+\""),
                            "log_hash = \"0000000000000000\"");
  dir.Write("l.schedule", text);
  Command r = RunStrata("replay l.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("DIVERGED") != std::string::npos);
  CHECK(r.out.find("with log hash 0000000000000000, replay gave wrong-result with ") !=
        std::string::npos);
  CHECK(r.out.find("(the file was edited, or the simulated code is nondeterministic or changed "
                   "since it was written)") != std::string::npos);
}

TEST_CASE("strata bench --quick --json prints the ratios") {
  TempDir dir;
  Command c = RunStrata("bench --quick --json", dir.path());
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("\"bare_round_trips_per_s\":") != std::string::npos);
  CHECK(c.out.find("{\"cpus\":64,\"oracle\":\"random\"") != std::string::npos);
  CHECK(c.out.find("\"scheduler\":{\"switches_per_s_2_threads\":") != std::string::npos);
  // Exhaustive dfs at scale: 4 cpus x 2 sections of the ticket lock are 105
  // schedules up to classes and renamings.
  CHECK(c.out.find("{\"impl\":\"ticket\",\"cpus\":4,\"executions\":105,\"symmetry\":true,") !=
        std::string::npos);
  CHECK(c.out.find("\"spin_safety_seconds\":2.09}") != std::string::npos);
  // Host threads: the same exploration on 1 and 2 threads (945 executions:
  // the ticket lock, 5 cpus x 2 sections, up to classes and renamings).
  CHECK(c.out.find("\"threads\":[{\"what\":\"random, ticket, 2 cpus\",\"executions\":2000,") !=
        std::string::npos);
  CHECK(c.out.find("{\"what\":\"dfs, ticket, 5 cpus\",\"executions\":945,") != std::string::npos);
  CHECK(c.out.find("\"goal_ratio\":1.8,") != std::string::npos);
  // And the host's ceiling for that ratio, two 1-thread explorations side by side.
  CHECK(c.out.find("\"side_by_side_per_s\":") != std::string::npos);
  CHECK(c.out.find("\"host_ceiling\":") != std::string::npos);
  CHECK(c.out.find("\"per_cpu\":{\"workload\":\"counter, 8 cpus, random\",\"environment\":"
                   "\"recorded\"") != std::string::npos);
  CHECK(c.out.find("\"per_cpu_random\":{\"check\":\"lock (ticket, most-general client), 4 cpus\","
                   "\"cpu_events\":") != std::string::npos);
  CHECK(c.out.find("\"multicore_bursts_ns_per_cpu_event\":") != std::string::npos);
  CHECK(Lines(c.out) == 1);
}

TEST_CASE("a boot failure is shrunk: fewer steps or switches, the same outcome, and it replays") {
  TempDir dir;
  const std::string cfg = "'" + Source("configs/bad/philosophers-wrong-order.toml") + "'";
  Command found = RunStrata("boot " + cfg + " --no-shrink --schedule found.schedule", dir.path());
  Command shrunk = RunStrata("boot " + cfg + " --schedule shrunk.schedule", dir.path());
  CHECK(found.exit_code == 1);
  CHECK(shrunk.exit_code == 1);
  CHECK(found.out.find("shrunk") == std::string::npos);
  CHECK(found.out.find("outcome    deadlock") != std::string::npos);
  CHECK(shrunk.out.find("outcome    deadlock") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(shrunk.out, m, std::regex("shrunk     ([0-9]+) steps to the failure with "
                                                      "([0-9]+) context switches \\(was ([0-9]+) "
                                                      "steps; ([0-9]+) tries\\)")));
  CHECK(std::stoi(m[1]) < std::stoi(m[3]));
  CHECK(std::stoi(m[4]) <= 400);
  REQUIRE(std::regex_search(found.out, m, std::regex("events     [0-9]+ in ([0-9]+) steps")));
  CHECK(std::stoi(m[1]) == 244);
  Command replay = RunStrata("replay shrunk.schedule", dir.path());
  CHECK(replay.exit_code == 1);
  CHECK(replay.out.find("reproduced: deadlock") != std::string::npos);
  CHECK(HashIn(replay.out) == HashIn(shrunk.out));
  // Other kinds of failure are shrunk too (scenario_test holds their expected outcomes).
  for (const char* bad : {"lost-update", "racy-push", "throw", "lock-order"}) {
    CAPTURE(bad);
    Command c = RunStrata("boot '" + Source(std::string("configs/bad/") + bad + ".toml") + "'",
                          dir.path());
    CHECK(c.exit_code == 1);
    CHECK(std::regex_search(c.out, std::regex("shrunk     [0-9]+ steps to the failure")));
  }
  // A livelock is not: every schedule runs to the step budget; it says so.
  Command livelock = RunStrata("boot '" + Source("configs/bad/livelock.toml") + "'", dir.path());
  CHECK(livelock.exit_code == 1);
  CHECK(livelock.out.find("shrunk     no: a step-budget failure takes the whole budget, however it "
                          "is scheduled\n") != std::string::npos);
}

TEST_CASE("strata replay shows the steps up to the first bad event, all with --all, grouped with "
          "--by-thread") {
  TempDir dir;
  Command check = RunStrata("check '" + Source("configs/check/bad/queue-off-by-one.toml") +
                                "' --schedule q.schedule",
                            dir.path());
  REQUIRE(check.exit_code == 1);
  Command r = RunStrata("replay q.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("  legend     `| call f` / `| ret f`: a primitive's call and return") != std::string::npos);
  // A push shows the block's contents, not their hash.
  CHECK(std::regex_search(r.out, std::regex("\n    t=[0-9]+ cpu=[0-9] push\\* q\\.data \\[1, 1000, 0, 0, "
                                            "0\\] -> 1  => ENQ q  @ kernel/queue_module\\.cc:[0-9]+\n")));
  std::smatch m;
  // The bad event is the last step shown: a return the spec disagrees with.
  REQUIRE(std::regex_search(r.out, m, std::regex("\\n    (t=[0-9]+ cpu=[0-9] \\| ret deq q -> 1001)  @ "
                                                 "kernel/queue.cc:[0-9]+   <== first bad event\\n"
                                                 "    \\.\\.\\. ([0-9]+) more events after the first "
                                                 "bad one \\(--all shows them\\)\\n")));
  const int after = std::stoi(m[2]);
  CHECK(after > 0);
  CHECK(r.out.find("verdict    return-mismatch: cpu 0's `deq` on `q` returned 1001, the spec returns 1000") !=
        std::string::npos);
  Command all = RunStrata("replay q.schedule --all", dir.path());
  CHECK(all.exit_code == 1);
  CHECK(all.out.find("more events after") == std::string::npos);
  CHECK(Lines(all.out) == Lines(r.out) + after - 1);
  Command grouped = RunStrata("replay q.schedule --by-thread", dir.path());
  CHECK(grouped.exit_code == 1);
  CHECK(std::regex_search(grouped.out, std::regex("\\n  cpu 0 \\([0-9]+ events\\)\\n    t=0 cpu=0 ")));
  CHECK(std::regex_search(grouped.out, std::regex("\\n  cpu 1 \\([0-9]+ events\\)\\n    t=[0-9]+ cpu=1 ")));
  CHECK(Lines(grouped.out) == Lines(r.out) + 2);
  // A boot failure's replay shows its steps too, then where the run stopped.
  Command boot = RunStrata("boot '" + Source("configs/bad/racy-push.toml") + "' --schedule b.schedule",
                           dir.path());
  REQUIRE(boot.exit_code == 1);
  Command rb = RunStrata("replay b.schedule", dir.path());
  CHECK(rb.exit_code == 1);
  CHECK(std::regex_search(rb.out, std::regex("  the run, step by step\\n  legend [^]*\\n    t=0 cpu=0 pull "
                                             "data -> 0  @ boot/workloads.cc:[0-9]+\\n    <== the run stops "
                                             "here: data-race: cpu 1 pulls block `data` while cpu 0 owns "
                                             "it\\n  seed ")));
}

TEST_CASE("Ctrl-C during a check prints what was covered, claims nothing and exits 130") {
  TempDir dir;
  // --preserve-status: the exit status is strata's own; --foreground: the signal goes to
  // strata once (not again to its process group, which a second signal would end at once).
  Command c = RunStrata("check '" + Source("configs/check/queue.toml") + "' --runs 1000000000 --trace t.json",
                        dir.path(), "timeout --foreground --preserve-status -s INT 1 ");
  CHECK(c.exit_code == 130);
  CHECK(std::regex_search(c.out, std::regex("verdict: interrupted by SIGINT after [1-9][0-9]* "
                                            "executions \\(not exhaustive; no refinement claim\\)")));
  CHECK(c.out.find("result     interrupted by SIGINT: layer lock not finished") != std::string::npos);
  CHECK(c.out.find("refines its spec") == std::string::npos);
  // The trace is of the last execution checked, and says so.
  CHECK(c.out.find("interrupted: the last execution of layer lock checked") != std::string::npos);
  CHECK(std::filesystem::exists(dir.File("t.json")));
  CHECK(c.err.empty());
}

TEST_CASE("SIGTERM during a dfs check with --progress and --json: progress lines on stderr, an "
          "interrupted verdict, exit 143") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/ticket.toml") +
                            "' --strategy dfs --cpus 5 --runs 1000000000 --progress --json",
                        dir.path(), "timeout --foreground --preserve-status -s TERM 5 ");
  CHECK(c.exit_code == 143);
  // On 2 threads the others may have made more than the root's estimate
  // (from its path, as of its last execution) implies: the line says so.
  CHECK(std::regex_search(c.err, std::regex("  lock: [0-9]+ of at most 1000000000 executions, (~[0-9.e+-]+% "
                                            "of the space \\(estimate\\)|more than the space estimate "
                                            "implies)  [0-9]+/s  [0-9]+s elapsed, about "
                                            ".* left \\(to the (cap|end of the space)\\)\n")));
  CHECK(c.out.find("\"verdict\":\"interrupted\"") != std::string::npos);
  CHECK(c.out.find("\"interrupted_by\":\"SIGTERM\"") != std::string::npos);
  CHECK(c.out.find("\"exhaustive\":false") != std::string::npos);
  CHECK(Lines(c.out) == 1);
}

TEST_CASE("an interrupted check of every layer names the layers it did not reach") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/queue.toml") +
                            "' --strategy dfs --reduction none --runs 1000000000 --jobs 1",
                        dir.path(), "timeout --foreground --preserve-status -s INT 2 ");
  CHECK(c.exit_code == 130);
  CHECK(c.out.find("  result     interrupted by SIGINT: layer lock not finished; not reached: queue, "
                   "tcb, sched, thread\n") != std::string::npos);
  CHECK(c.out.find("refines (") == std::string::npos);
}

TEST_CASE("strata tlink composes a healthy workload and catches a hidden channel") {
  TempDir dir;
  Command ok = RunStrata("tlink '" + Source("configs/threads/fair-threads.toml") + "'", dir.path());
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("worst wait 2 queries (limit 3)") != std::string::npos);
  CHECK(ok.out.find("DIFFERS") == std::string::npos);
  CHECK(ok.out.find("verdict    the per-thread machines compose to the thread-level log of the run") !=
        std::string::npos);
  Command bad = RunStrata("tlink '" + Source("configs/threads/fair-threads.toml") +
                              "' --workload hidden-channel",
                          dir.path());
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("verdict    tlink-mismatch: the composed log differs") != std::string::npos);
  CHECK(bad.out.find("reproduce  strata tlink ") != std::string::npos);
  // A run that fails before it can be composed is that failure, which boot
  // reproduces with a schedule (it was called a tlink-mismatch, with log
  // hashes of zeros).
  Command lost = RunStrata("tlink '" + Source("configs/bad/lost-wakeup.toml") + "'", dir.path());
  CHECK(lost.exit_code == 1);
  CHECK(lost.out.find("verdict    deadlock: the recorded run ended in deadlock: ") != std::string::npos);
  CHECK(lost.out.find("reproduce  strata boot ") != std::string::npos);
  CHECK(lost.out.find("log hash   thread-level") == std::string::npos);
  Command bare = RunStrata("tlink '" + Source("configs/counter.toml") + "'", dir.path());
  CHECK(bare.exit_code == 2);
  CHECK(bare.err.find("counter.toml: workload.kind: tlink needs a thread workload") !=
        std::string::npos);
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

TEST_CASE("the README's key table and catalog lists are what `strata docs` prints") {
  Command docs = RunStrata("docs", STRATA_SOURCE_DIR);
  REQUIRE(docs.exit_code == 0);
  CHECK(docs.out.find("| `machine.cpus` | `4` |") != std::string::npos);
  CHECK(docs.out.find("- `mcs-keep-busy`: known-bad") != std::string::npos);
  std::ifstream in(Source("README.md"));
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- strata docs: begin -->\n", end = "<!-- strata docs: end -->";
  const std::size_t a = readme.find(begin), b = readme.find(end);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  // Regenerate with: build/boot/strata docs (between the two markers).
  CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == docs.out);
}

}  // namespace
}  // namespace strata::testing
