#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "boot/check.h"
#include "boot/config.h"
#include "tests/boot/test_util.h"

namespace strata::boot {
namespace {

using testing::Command;
using testing::RunStrata;
using testing::Source;
using testing::TempDir;

// Every config under configs/check/: good ones must refine, known-bad ones
// say "(expect: VERDICT)" on their first line.
// So is every per-CPU check config under configs/env/ (testing::IsCheckOnly).
std::vector<std::pair<std::string, std::string>> CheckConfigs() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(Source("configs"))) {
    if (!e.is_regular_file() || e.path().extension() != ".toml") continue;
    const std::string path = e.path().string();
    if (path.find("/configs/check/") == std::string::npos && !testing::IsCheckOnly(path)) continue;
    std::ifstream in(e.path());
    std::string first;
    std::getline(in, first);
    std::smatch m;
    std::string verdict = "refines";
    if (std::regex_search(first, m, std::regex("\\(expect: ([a-z-]+)\\)"))) verdict = m[1];
    out.emplace_back(e.path().string(), verdict);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("configs/check holds good stacks and a known-bad corpus of at least eight") {
  int bad = 0, good = 0;
  for (const auto& [path, verdict] : CheckConfigs()) {
    CAPTURE(path);
    const bool in_bad = path.find("/bad/") != std::string::npos;
    CHECK(in_bad == (verdict != "refines"));
    (in_bad ? bad : good) += 1;
  }
  CHECK(good >= 3);
  CHECK(bad >= 8);
}

TEST_CASE("every check config ends in its expected verdict, and a failure replays") {
  for (const auto& [path, verdict] : CheckConfigs()) {
    CAPTURE(path);
    TempDir dir;
    Command c = RunStrata("check '" + path + "' --schedule f.schedule", dir.path());
    INFO(c.out);
    INFO(c.err);
    if (verdict == "refines") {
      CHECK(c.exit_code == 0);
      // "refines" only where the whole space was explored.
      const bool all = c.out.find("result     every checked layer refines its spec (exhaustively)") !=
                       std::string::npos;
      const bool some = c.out.find("result     no violation in any checked layer (") != std::string::npos;
      CHECK(all != some);
      CHECK(all == (c.out.find("(not exhaustive") == std::string::npos &&
                    c.out.find("(NOT exhaustive") == std::string::npos));
      CHECK_FALSE(std::filesystem::exists(dir.File("f.schedule")));
      continue;
    }
    CHECK(c.exit_code == 1);
    CHECK(c.out.find("  verdict    " + verdict + ": ") != std::string::npos);
    CHECK(c.out.find("replay     strata replay f.schedule") != std::string::npos);
    REQUIRE(std::filesystem::exists(dir.File("f.schedule")));
    Command r = RunStrata("replay f.schedule", dir.path());
    INFO(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("replay     reproduced: " + verdict) != std::string::npos);
    // A replay of a failure never calls the run it replays a refinement.
    CHECK(r.out.find("  verdict    refines") == std::string::npos);
    if (verdict != "nondeterminism" && c.out.find("first bad") != std::string::npos) {
      CHECK(r.out.find("<== first bad event") != std::string::npos);
    }
    // The steps the module made name the module's source lines.
    CHECK(std::regex_search(r.out, std::regex("  @ (kernel|sched)/[a-z_]+\\.cc:[0-9]+")));
  }
}

TEST_CASE("strata check names the first layer that breaks and stops there") {
  TempDir dir;
  // A broken lock under a correct queue: the lock layer is reported, the
  // queue above it is not checked.
  Command c = RunStrata("check '" + Source("configs/check/queue.toml") +
                            "' --lock ticket-no-bump --strategy dfs",
                        dir.path());
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("FAILED     layer lock: refinement-violation") != std::string::npos);
  CHECK(c.out.find("queue      ") == std::string::npos);
  CHECK(std::filesystem::exists(dir.File("strata-queue-check-lock-refinement-violation-seed1.schedule")));
}

TEST_CASE("strata check --layer all goes bottom-up through lock, queue, tcb and sched") {
  TempDir dir;
  Command ok = RunStrata("check '" + Source("configs/check/queue.toml") + "' --runs 50", dir.path());
  CHECK(ok.exit_code == 0);
  const std::size_t lock = ok.out.find("\n  lock "), queue = ok.out.find("\n  queue "),
                    tcb = ok.out.find("\n  tcb "), sched = ok.out.find("\n  sched ");
  CHECK(lock < queue);
  CHECK(queue < tcb);
  CHECK(tcb < sched);
  CHECK(sched != std::string::npos);
  // A broken TCB pool: named, and the scheduler above it is not checked.
  Command bad = RunStrata("check '" + Source("configs/check/queue.toml") +
                              "' --tcb tcb-forget-used --strategy random",
                          dir.path());
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("FAILED     layer tcb: relation-broken") != std::string::npos);
  CHECK(bad.out.find("\n  sched ") == std::string::npos);
}

TEST_CASE("a general client's failure replays from its schedule's client seed, and only from it") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/tcb-write-free.toml") +
                            "' --schedule w.schedule",
                        dir.path());
  REQUIRE(c.exit_code == 1);
  std::ifstream in(dir.File("w.schedule"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("client_seed = \"([0-9a-f]{16})\"")));
  CHECK(RunStrata("replay w.schedule", dir.path()).out.find("replay     reproduced: relation-broken") !=
        std::string::npos);
  // Another client makes other calls: the recorded schedule does not fit
  // it, or the run differs.
  const std::string other = m[1] == "0000000000000001" ? "0000000000000002" : "0000000000000001";
  dir.Write("other.schedule",
            std::regex_replace(text, std::regex("client_seed = \"[0-9a-f]{16}\""),
                               "client_seed = \"" + other + "\""));
  Command r = RunStrata("replay other.schedule", dir.path());
  CHECK(r.out.find("replay     reproduced") == std::string::npos);
}

TEST_CASE("strata check with the same seed prints the same numbers") {
  TempDir dir;
  auto strip_time = [](std::string s) {
    return std::regex_replace(s, std::regex("[0-9.]+ s \\([0-9]+ executions/s\\)"), "T");
  };
  Command a = RunStrata("check '" + Source("configs/check/queue.toml") + "' --runs 300 --seed 5", dir.path());
  Command b = RunStrata("check '" + Source("configs/check/queue.toml") + "' --runs 300 --seed 5", dir.path());
  CHECK(a.exit_code == 0);
  CHECK(strip_time(a.out) == strip_time(b.out));
}

TEST_CASE("exhaustive dfs of the ticket lock with DPOR and symmetry says so and counts one schedule per class and renaming") {
  TempDir dir;
  const std::string config = "'" + Source("configs/check/ticket-dpor-symmetry.toml") + "'";
  Command six = RunStrata("check " + config, dir.path());
  CHECK(six.exit_code == 0);
  CHECK(six.out.find("dfs (optimal DPOR)") != std::string::npos);
  CHECK(six.out.find("10395 executions, 0 skipped by reduction, space exhausted") != std::string::npos);
  CHECK(six.out.find("symmetry   the cpus are interchangeable") != std::string::npos);
  CHECK(six.out.find("refines (exhaustive: every F-fair schedule of the client, up to a renaming of its "
                     "interchangeable cpus and the order of independent steps)") != std::string::npos);
  CHECK(six.out.find("waits: checked in one schedule per order of dependent steps, not in every interleaving "
                     "(--reduction none: in every one, up to a renaming of the cpus)") != std::string::npos);
  // Without symmetry, 4 cpus: 8! / 2^4 = 2520 ticket orders, 4! = 24 per renaming.
  Command plain = RunStrata("check " + config + " --cpus 4 --no-symmetry", dir.path());
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("2520 executions, 0 skipped by reduction, space exhausted") != std::string::npos);
  CHECK(plain.out.find("symmetry   ") == std::string::npos);
  Command reduced = RunStrata("check " + config + " --cpus 4", dir.path());
  CHECK(reduced.out.find("105 executions, 0 skipped by reduction, space exhausted") != std::string::npos);
  // Sleep sets run the same 2520 classes and prune branches on the way.
  Command sleep = RunStrata("check " + config + " --cpus 4 --no-symmetry --reduction sleep", dir.path());
  CHECK(sleep.out.find("dfs (sleep-set reduction)") != std::string::npos);
  CHECK(sleep.out.find("2520 executions, 0 skipped") == std::string::npos);
  CHECK(sleep.out.find("2520 executions, ") != std::string::npos);
}

TEST_CASE("exhaustive dfs of the MCS lock with symmetry tells renamings apart at the tail, after the cpus' own nodes") {
  TempDir dir;
  const std::string config = "'" + Source("configs/check/mcs-dpor-symmetry.toml") + "'";
  // Its fairness bound (64) never makes the guard overrule a choice: no
  // reversal is cut, and the renamings of 3 cpus divide the classes exactly.
  Command reduced = RunStrata("check " + config, dir.path());
  CHECK(reduced.exit_code == 0);
  CHECK(reduced.out.find("2945 executions, 0 skipped by reduction, space exhausted,") != std::string::npos);
  CHECK(reduced.out.find("symmetry   the cpus are interchangeable") != std::string::npos);
  CHECK(reduced.out.find("refines (exhaustive: every F-fair schedule of the client, up to a renaming of its "
                         "interchangeable cpus and the order of independent steps)") != std::string::npos);
  Command plain = RunStrata("check " + config + " --no-symmetry", dir.path());
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("17670 executions, 0 skipped by reduction, space exhausted,") != std::string::npos);
}

TEST_CASE("a dfs whose reduction the fairness guard cut short says it is not exhaustive") {
  // At the default bound (8 x 3 cpus) the guard runs a cpu it owes a turn
  // at steps where DPOR would have reversed a race, or followed a wakeup
  // sequence of another cpu: the classes behind them may be missed.
  TempDir dir;
  std::string text = TempDir::ReadFile(Source("configs/check/mcs-dpor-symmetry.toml"));
  const std::string bound = "fairness = 64";
  REQUIRE(text.find(bound) != std::string::npos);
  text.replace(text.find(bound), bound.size(), "fairness = 24");
  dir.Write("f24.toml", text);
  Command cut = RunStrata("check f24.toml", dir.path());
  CHECK(cut.exit_code == 0);
  CHECK(cut.out.find("2827 executions, 82 skipped by reduction, space exhausted as far as the fairness guard let "
                     "the reduction reorder (261 cuts)") != std::string::npos);
  CHECK(cut.out.find("verdict: no violation in 2827 executions (NOT exhaustive: 261 times the fairness guard "
                     "(bound 24) ran the cpu it owed a turn where the reduction needed another, so orders of steps "
                     "may be missed, up to a renaming of its interchangeable cpus; --reduction none explores every "
                     "F-fair schedule, or raise oracle.fairness)") != std::string::npos);
  CHECK(cut.out.find("refines") == cut.out.find("refines lock spec?"));
  CHECK(cut.out.find("result     no violation in any checked layer (1 layer not explored exhaustively)") !=
        std::string::npos);
  Command json = RunStrata("check f24.toml --json", dir.path());
  CHECK(json.out.find("\"verdict\":\"no-violation\"") != std::string::npos);
  CHECK(json.out.find("\"fairness_cuts\":261") != std::string::npos);
  // The same count on more threads.
  Command two = RunStrata("check f24.toml --jobs 2", dir.path());
  CHECK(two.out.find("(261 cuts)") != std::string::npos);
  // Sleep sets are cut where the guard chose among several cpus.
  Command sleep = RunStrata("check f24.toml --reduction sleep", dir.path());
  CHECK(sleep.out.find("the fairness guard (bound 24) ran the cpu it owed a turn where the reduction needed "
                       "another") != std::string::npos);
  // Every schedule, with no reduction, is not cut: the guard's choices are
  // what makes a schedule F-fair.
  Command every = RunStrata("check f24.toml --cpus 2 --reduction none --no-symmetry", dir.path());
  CHECK(every.out.find("space exhausted,") != std::string::npos);
  CHECK(every.out.find("verdict: refines (exhaustive") != std::string::npos);
}

TEST_CASE("a dfs that ran one schedule per class says its waits were checked in those only") {
  // A wait counts every cpu's steps between a call and its return, so
  // reordering independent steps changes it; renaming the cpus renames
  // the waits with them, so symmetry alone keeps them all.
  const std::string ticket = "check '" + Source("configs/check/ticket-dpor-symmetry.toml") + "' --cpus 2";
  struct Case {
    std::string args, waits;
    bool every;
  };
  const Case cases[] = {
      {"",
       "waits: checked in one schedule per order of dependent steps, not in every interleaving (--reduction "
       "none: in every one, up to a renaming of the cpus)\n",
       false},
      {" --no-symmetry",
       "waits: checked in one schedule per order of dependent steps, not in every interleaving (--reduction "
       "none: in every one)\n",
       false},
      {" --reduction sleep --no-symmetry",
       "waits: checked in one schedule per order of dependent steps, not in every interleaving (--reduction "
       "none: in every one)\n",
       false},
      {" --reduction none", "", true},
      {" --reduction none --no-symmetry", "", true},
  };
  TempDir dir;
  for (const Case& c : cases) {
    CAPTURE(c.args);
    Command r = RunStrata(ticket + c.args, dir.path());
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("verdict: refines (exhaustive") != std::string::npos);
    if (c.every) {
      CHECK(r.out.find("waits:") == std::string::npos);
    } else {
      CHECK(r.out.find(c.waits) != std::string::npos);
    }
    Command json = RunStrata(ticket + c.args + " --json", dir.path());
    CHECK(json.out.find(c.every ? "\"waits_on_every_schedule\":true" : "\"waits_on_every_schedule\":false") !=
          std::string::npos);
  }
}

TEST_CASE("DPOR runs as many executions as sleep sets where waits block on an object that is not a word") {
  // The spec lock's WAIT_LOCK waits on the lock object itself (no word
  // whose value dfs could set back): DPOR raced it only with the holder's
  // REL_LOCK, before which it could not run, and dropped that race, so
  // every layer over the spec lock ran 1 execution and said exhaustive.
  TempDir dir;
  struct Case {
    std::string name, layer, stack, client;
    int iterations;
    std::string expect;  // executions under both reductions, or a verdict
  };
  const Case cases[] = {
      {"queue", "queue", "queue = \"module\"", "fixed", 1, "6 executions, 0 skipped"},
      {"tcb", "tcb", "tcb = \"module\"", "general", 1, "56 executions, 0 skipped"},
      {"sched", "sched", "sched = \"module\"", "ping-pong", 1, "28 executions, "},
      {"bad-queue", "queue", "queue = \"module-full-overwrites\"", "general", 2, "relation-broken"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    dir.Write(c.name + ".toml", fmt::format("[machine]\ncpus = 2\n[oracle]\nfairness = 100000\n[stack]\n"
                                            "lock = \"spec\"\n{}\n[check]\nlayer = \"{}\"\nstrategy = \"dfs\"\n"
                                            "runs = 1000000\nclient = \"{}\"\niterations = {}\ncapacity = 3\n",
                                            c.stack, c.layer, c.client, c.iterations));
    for (const char* reduction : {"dpor", "sleep"}) {
      CAPTURE(reduction);
      Command r = RunStrata(fmt::format("check {}.toml --reduction {} --no-shrink", c.name, reduction), dir.path());
      INFO(r.out);
      if (c.expect.find("executions") != std::string::npos) {
        CHECK(r.exit_code == 0);
        CHECK(r.out.find(c.expect) != std::string::npos);
        CHECK(r.out.find("space exhausted, ") != std::string::npos);
      } else {
        CHECK(r.exit_code == 1);
        CHECK(r.out.find("  verdict    " + c.expect + ": ") != std::string::npos);
      }
    }
  }
}

TEST_CASE("bad check flags are one-line errors with exit status 2") {
  TempDir dir;
  const std::string config = "'" + Source("configs/check/ticket.toml") + "'";
  struct Case {
    std::string args, error;
  };
  const Case cases[] = {
      {"--layer vm", "strata: error: --layer: expected one of all, lock, queue, tcb, sched, thread, got \"vm\""},
      {"--strategy bfs",
       "strata: error: --strategy: expected one of random, pct, dfs, portfolio, got \"bfs\""},
      {"--lock rw", "strata: error: --lock: expected one of spec, ticket, mcs, tas, "
                    "ticket-load-store, ticket-no-bump, ticket-double-bump, ticket-leaky, "
                    "mcs-no-wait-next, mcs-keep-busy, got \"rw\""},
      {"--queue stack", "strata: error: --queue: expected one of spec, module, module-no-lock, "
                        "module-no-pull, module-lifo, module-full-overwrites, module-off-by-one, got \"stack\""},
      {"--runs 0", "strata: error: --runs: expected an integer from 1 to 1000000000000, got 0"},
      {"--runs -1", "strata: error: --runs: expected an integer from 1 to 1000000000000, got -1"},
      {"--runs 18446744073709551616",
       "strata: error: --runs: expected an integer from 1 to 1000000000000, got "
       "\"18446744073709551616\""},
      {"--runs 12x", "strata: error: --runs: expected an integer from 1 to 1000000000000, got \"12x\""},
      {"--preemption-bound -3",
       "strata: error: --preemption-bound: expected an integer from -1 to 1000000, got -3"},
      {"--sched fifo", "strata: error: --sched: expected one of module, spec, module-yield-drops, "
                       "module-wrong-cpu, module-lose-sleeper, module-leak-tcb, module-lifo, "
                       "got \"fifo\""},
  };
  for (const Case& k : cases) {
    CAPTURE(k.args);
    Command c = RunStrata("check " + config + " " + k.args, dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err == k.error + "\n");
    CHECK(c.out.empty());
  }
  // A sched client that needs more CPUs than the machine has.
  Command c = RunStrata("check '" + Source("configs/check/sched.toml") + "' --cpus 1", dir.path());
  CHECK(c.exit_code == 2);
  CHECK(c.err == "strata: error: " + Source("configs/check/sched.toml") +
                     ": machine.cpus: check.client \"ping-pong\" needs at least 2 cpus, got 1\n");
  CHECK(c.out.empty());
}

TEST_CASE("a check schedule file that names an unknown layer or verdict is bad input") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/ticket-no-bump.toml") + "' --schedule s.schedule",
                        dir.path());
  REQUIRE(c.exit_code == 1);
  std::ifstream in(dir.File("s.schedule"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  dir.Write("layer.schedule", std::regex_replace(text, std::regex("format = 1\nlayer = \"lock\""),
                                                          "format = 1\nlayer = \"vm\""));
  Command r = RunStrata("replay layer.schedule", dir.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("strata: error: layer.schedule:") == 0);
  CHECK(r.err.find("schedule.layer: expected one of lock, queue, tcb, sched") != std::string::npos);
  dir.Write("verdict.schedule",
            std::regex_replace(text, std::regex("outcome = \"refinement-violation\""), "outcome = \"meh\""));
  Command v = RunStrata("replay verdict.schedule", dir.path());
  CHECK(v.exit_code == 2);
  CHECK(v.err.find("schedule.outcome: expected a check verdict") != std::string::npos);
  // A clean run's "ok" is no verdict of `strata check` (tlink-mismatch is:
  // the thread layer's).
  for (const char* other : {"ok"}) {
    CAPTURE(other);
    dir.Write("other.schedule",
              std::regex_replace(text, std::regex("outcome = \"refinement-violation\""),
                                 fmt::format("outcome = \"{}\"", other)));
    Command o = RunStrata("replay other.schedule", dir.path());
    CHECK(o.exit_code == 2);
    CHECK(o.err.find("schedule.outcome: expected a check verdict") != std::string::npos);
  }
}

TEST_CASE("strata layers prints the stack top down with each side") {
  TempDir dir;
  Command c = RunStrata("layers '" + Source("configs/check/queue.toml") + "'", dir.path());
  CHECK(c.exit_code == 0);
  CHECK(c.out.find("  queue    runs as module `module` over the lock layer (ticket)\n"
                   "             enq(queue, value) -> 1|0\n") != std::string::npos);
  CHECK(c.out.find("  lock     runs as module `ticket` over the machine\n") != std::string::npos);
  Command spec = RunStrata("check '" + Source("configs/check/queue.toml") + "' --lock spec --runs 50",
                           dir.path());
  CHECK(spec.exit_code == 0);
  CHECK(spec.out.find("lock       runs as its spec: nothing to check") != std::string::npos);
}


TEST_CASE("a shrunk failure found after the run says how long the schedule it writes is") {
  TempDir dir;
  Command c = RunStrata(
      "check '" + Source("configs/check/bad/queue-off-by-one.toml") + "' --schedule f.schedule",
      dir.path());
  REQUIRE(c.exit_code == 1);
  std::smatch m;
  REQUIRE(std::regex_search(c.out, m,
                            std::regex("shrunk     ([0-9]+) steps to the failure with [0-9]+ context "
                                       "switches \\(was [0-9]+ steps; [0-9]+ tries\\); the schedule "
                                       "replays the whole run, ([0-9]+) steps\n")));
  CHECK(std::stoul(m[1]) < std::stoul(m[2]));
  std::ifstream in(dir.File("f.schedule"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.find("\nsteps = " + std::string(m[2]) + "\n") != std::string::npos);
}


TEST_CASE("a spec that refuses a mapped event says why, in the layer's terms") {
  TempDir dir;
  Command c = RunStrata(
      "check '" + Source("configs/check/bad/sched-leak-tcb.toml") + "'", dir.path());
  REQUIRE(c.exit_code == 1);
  CHECK(std::regex_search(c.out, std::regex("verdict    impossible-upper-log: the spec does not allow "
                                            "`cpu=[0-9]+ \\| ret spawn sched \\(0, 0\\) -> [0-9]+` "
                                            "\\(from lower event t=[0-9]+\\): ret spawn returns "
                                            "[0-9]+, the spec [0-9]+\n")));
}

}  // namespace
}  // namespace strata::boot
