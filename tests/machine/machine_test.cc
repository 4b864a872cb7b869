// The multicore machine: determinism over seeds, CPU counts and oracles; the
// known-bad programs and the exact report each one gets; blocking operations
// that cost no steps; fibers that are cleaned up whatever way the run ended.
#include "machine/machine.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <source_location>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/context/stack_traits.hpp>
#include <doctest/doctest.h>

#include "machine/replay.h"
#include "machine/schedule.h"
#include "machine/stack_pool.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

using testing::Cpus;
using testing::EventsOf;
using testing::Recorded;
using testing::RunWith;
using testing::Show;

// ------------------------------------------------------------ determinism

TEST_CASE("the same program, oracle and seed give the same run on fresh machines") {
  // The distinct schedules and log hashes over all seeds, by oracle and cpus.
  std::map<OracleKind, std::map<int, std::set<std::string>>> schedules;
  std::map<OracleKind, std::map<int, std::set<std::uint64_t>>> hashes;
  constexpr int rounds = 2;
  for (int cpus : {1, 2, 3, 8, 64}) {
    for (OracleKind kind : testing::kLiveOracles) {
      for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        CAPTURE(cpus);
        CAPTURE(OracleKindName(kind));
        CAPTURE(seed);
        const OracleOptions oracle{
            .kind = kind, .seed = seed, .pct_horizon = 10 * static_cast<std::uint64_t>(cpus)};
        std::int64_t data0 = 0, counter = 0;
        auto inspect = [&](const Machine& m) {
          data0 = m.contents(Block{ObjectId(1)})[0];
          counter = m.value(Word{ObjectId(2)});
        };
        Recorded a = RunWith({.cpus = cpus}, oracle, testing::Mixed(rounds), inspect);
        Recorded b = RunWith({.cpus = cpus}, oracle, testing::Mixed(rounds));
        INFO(Show(a.report));
        REQUIRE(a.Is(Outcome::kOk));
        REQUIRE(b.Is(Outcome::kOk));
        CHECK(a.hash == b.hash);
        CHECK(a.schedule == b.schedule);
        CHECK(a.events == b.events);
        CHECK(a.report->steps == b.report->steps);
        // One event per step, and the schedule names the cpu of each.
        CHECK(a.report->steps == a.schedule.size());
        CHECK(a.events.size() == a.schedule.size());
        bool cpu_matches = true;
        for (std::size_t i = 0; i < a.events.size(); ++i) {
          cpu_matches = cpu_matches && a.events[i].cpu == a.schedule[i] && a.events[i].seq == i;
        }
        CHECK(cpu_matches);
        CHECK(data0 == rounds * cpus);
        CHECK(counter == rounds * cpus * (cpus + 1) / 2);
        schedules[kind][cpus].insert(EncodeChoices(a.schedule));
        hashes[kind][cpus].insert(a.hash);
      }
    }
  }
  // Round-robin has one schedule per cpu count; seeds of random and pct explore.
  for (int cpus : {1, 2, 3, 8, 64}) {
    CAPTURE(cpus);
    CHECK(schedules[OracleKind::kRoundRobin][cpus].size() == 1);
    CHECK(hashes[OracleKind::kRoundRobin][cpus].size() == 1);
    if (cpus == 1) {
      CHECK(schedules[OracleKind::kRandom][cpus].size() == 1);
      CHECK(schedules[OracleKind::kPct][cpus].size() == 1);
      continue;
    }
    for (OracleKind kind : {OracleKind::kRandom, OracleKind::kPct}) {
      CAPTURE(OracleKindName(kind));
      CHECK(schedules[kind][cpus].size() >= 40);
      CHECK(hashes[kind][cpus].size() >= 40);
    }
  }
}

TEST_CASE("misusing Linearize or Annotate ends the run with a report naming the cpu") {
  struct Case {
    const char* what;
    std::function<void(Cpu&, Word)> body;
    const char* message;
  };
  const Case cases[] = {
      {"a flag before any step", [](Cpu& cpu, Word) { cpu.Linearize(); },
       "cpu 0 (thread -) declares a linearization point, but the last event is not its own"},
      {"a flag on a marker",
       [](Cpu& cpu, Word w) {
         cpu.MarkCall(w.id, EventKind("call f"), 0, 0);
         cpu.Linearize();
       },
       "cpu 0 declares its marker `call f` a linearization point"},
      {"a flag on another thread's step",
       [](Cpu& cpu, Word w) {
         cpu.set_thread(machine::ThreadId(1));
         cpu.FetchAdd(w, 1);
         cpu.set_thread(machine::ThreadId(2));
         cpu.Linearize();
       },
       "cpu 0 (thread 2) declares a linearization point, but the last event is not its own"},
      {"a second flag on one step",
       [](Cpu& cpu, Word w) {
         cpu.FetchAdd(w, 1);
         cpu.Linearize();
         cpu.Linearize();
       },
       "cpu 0 declares `faa` a linearization point a second time"},
      {"an adoption after a step, not a return",
       [](Cpu& cpu, Word w) {
         cpu.FetchAdd(w, 1);
         cpu.AdoptLinearization();
       },
       "the last event is not the return marker of its own call"},
      {"an adoption of a call with no point of its own",
       [](Cpu& cpu, Word w) {
         cpu.MarkCall(w.id, EventKind("call outer"), 0, 0);
         cpu.MarkCall(w.id, EventKind("call inner"), 0, 0);
         cpu.MarkCall(w.id, EventKind("call innermost"), 0, 0);
         cpu.FetchAdd(w, 1);
         cpu.Linearize();  // the innermost call's point, not the inner one's
         cpu.MarkReturn(w.id, EventKind("ret innermost"), 0);
         cpu.MarkReturn(w.id, EventKind("ret inner"), 0);
         cpu.AdoptLinearization();
       },
       "its call `ret inner` had no linearization point"},
      {"an annotation with a step's op code",
       [](Cpu& cpu, Word w) { cpu.Annotate(w.id, EventKind("x"), 0, 0, 0, OpCode::kFaa); },
       "cpu 0 annotates `x` with the op code of a shared step"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Recorded r = RunWith({.cpus = 1}, {.kind = OracleKind::kRoundRobin}, [&](Machine& m) {
      const Word w = m.NewWord("w");
      return Machine::Program([&c, w](Cpu& cpu) { c.body(cpu, w); });
    });
    REQUIRE(r.Is(Outcome::kException));
    CHECK(r.report->message.find(c.message) != std::string::npos);
    CHECK(r.report->cpus == std::vector<CpuId>{CpuId(0)});
  }
}

TEST_CASE("an adopted linearization point counts once more for the call that adopted it") {
  Recorded r = RunWith({.cpus = 1}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    const Word w = m.NewWord("w");
    return Machine::Program([w](Cpu& cpu) {
      cpu.MarkCall(w.id, EventKind("call outer"), 0, 0);
      cpu.MarkCall(w.id, EventKind("call inner"), 0, 0);
      cpu.FetchAdd(w, 1);  // t=2: a step of the inner call before its point
      cpu.FetchAdd(w, 1);  // t=3: the inner call's point
      cpu.Linearize();
      cpu.MarkCall(w.id, EventKind("call nested"), 0, 0);  // a deeper call's own point
      cpu.FetchAdd(w, 1);  // t=5
      cpu.Linearize();
      cpu.MarkReturn(w.id, EventKind("ret nested"), 0);
      cpu.MarkReturn(w.id, EventKind("ret inner"), 0);
      cpu.AdoptLinearization();
      cpu.MarkReturn(w.id, EventKind("ret outer"), 0);
    });
  });
  REQUIRE(r.Is(Outcome::kOk));
  REQUIRE(r.events.size() == 9);
  CHECK(r.events[2].linearizes == 0);
  CHECK(r.events[3].linearizes == 2);  // the inner call's and the outer one's
  CHECK(r.events[5].linearizes == 1);  // the nested call's only
}

TEST_CASE("every step and marker records the line of the code that made it") {
  // The lines each operation below is written on, in log order.
  std::vector<std::uint_least32_t> lines;
  std::vector<std::string> where;
  Recorded r = RunWith({.cpus = 1}, {.kind = OracleKind::kRoundRobin}, [&](Machine& m) {
    const Word w = m.NewWord("w");
    const Block b = m.NewBlock("b", 1);
    return Machine::Program([w, b, &lines](Cpu& cpu) {
      auto here = [&](std::source_location at = std::source_location::current()) {
        lines.push_back(at.line());
      };
      here(), cpu.MarkCall(w.id, EventKind("call f"), 0, 0);
      here(), cpu.FetchAdd(w, 1);
      here(), cpu.CompareSwap(w, 1, 2);
      here(), cpu.Swap(w, 3);
      here(), cpu.Load(w);
      here(), cpu.Store(w, 4);
      here(), cpu.AwaitValue(w, 4);
      here(), cpu.LoadWhenChanged(w, 0);
      here(), cpu.Pull(b);
      here(), cpu.Push(b);
      here(), cpu.Annotate(w.id, EventKind("ghost"), 0, 0, 0);
      here(), cpu.MarkReturn(w.id, EventKind("ret f"), 0);
    });
  }, [&](const Machine& m) {
    for (std::size_t i = 0; i < m.log().size(); ++i) {
      where.push_back(FormatWhere(m.log().where(i)));
    }
  });
  REQUIRE(r.Is(Outcome::kOk));
  REQUIRE(where.size() == lines.size());
  for (std::size_t i = 0; i < where.size(); ++i) {
    CAPTURE(i);
    CHECK(where[i] == fmt::format("tests/machine/machine_test.cc:{}", lines[i]));
  }
  // An event copied into a log without a location has none.
  Log log;
  log.AddObject("w");
  log.Append(r.events[1]);
  CHECK(FormatWhere(log.where(0)).empty());
  CHECK(log.RenderTextWhere(0) == log.RenderText(log[0]));
}

TEST_CASE("the log hash is a function of the events alone") {
  // Two machines whose runs append the same events have the same hash, even
  // when their objects have other names.
  auto setup = [](std::string name) {
    return [name](Machine& m) {
      Word w = m.NewWord(name);
      return [=](Cpu& cpu) { cpu.FetchAdd(w, cpu.id().value() + 1); };
    };
  };
  Recorded a = RunWith({.cpus = 3}, {.kind = OracleKind::kRoundRobin}, setup("a"));
  Recorded b = RunWith({.cpus = 3}, {.kind = OracleKind::kRoundRobin}, setup("b"));
  CHECK(a.hash == b.hash);
  Log log;
  log.AddObject("x");
  for (const Event& e : a.events) log.Append(e);
  CHECK(log.hash() == a.hash);
}

// ------------------------------------------------------------ known-bad programs

TEST_CASE("a cpu that pulls a block another cpu owns is reported as a data race") {
  Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, testing::RacyPush());
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kDataRace));
  CHECK(Cpus(r.report->cpus) == "1,0");
  CHECK(r.report->message == "cpu 1 pulls block `data` while cpu 0 owns it");
  CHECK(r.report->steps == 2);
  CHECK(Cpus(r.schedule) == "0,1");
  // The racing pull is not in the log.
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == kinds::kPull);
}

TEST_CASE("a racy push is caught under random schedules and names the racing cpus") {
  for (int cpus : {2, 3, 8}) {
    int races = 0;
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      std::optional<BlockState> block;
      Recorded r = RunWith({.cpus = cpus}, {.kind = OracleKind::kRandom, .seed = seed},
                           testing::RacyPush(), [&](const Machine& m) {
                             block = Replay(BlockReplay{}, m.log().events(), ObjectId(0));
                           });
      INFO(Show(r.report));
      REQUIRE(r.report.ok());
      REQUIRE(block.has_value());  // the log itself is always possible
      if (r.Is(Outcome::kOk)) {
        CHECK(block->version == cpus);
        continue;
      }
      ++races;
      REQUIRE(r.Is(Outcome::kDataRace));
      // The cpu that took the last step pulled; the block's owner had it.
      REQUIRE(r.report->cpus.size() == 2);
      CHECK(r.report->cpus[0] == r.schedule.back());
      CHECK(r.report->cpus[1] == block->owner);
      CHECK(r.report->message == fmt::format("cpu {} pulls block `data` while cpu {} owns it",
                                             r.report->cpus[0], r.report->cpus[1]));
    }
    CAPTURE(cpus);
    CHECK(races >= 10);
  }
}

TEST_CASE("the same pull, write and push under a lock never races") {
  for (int cpus : {2, 3, 8}) {
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      std::int64_t total = 0;
      Recorded r = RunWith(
          {.cpus = cpus}, {.kind = OracleKind::kRandom, .seed = seed},
          [](Machine& m) {
            Word lock = m.NewWord("lock");
            Block data = m.NewBlock("data", 1);
            return [=](Cpu& cpu) {
              testing::Lock(cpu, lock);
              cpu.Pull(data);
              cpu.Write(data, 0, cpu.Read(data, 0) + 1);
              cpu.Push(data);
              testing::Unlock(cpu, lock);
            };
          },
          [&](const Machine& m) { total = m.contents(Block{ObjectId(1)})[0]; });
      INFO(Show(r.report));
      CHECK(r.Is(Outcome::kOk));
      CHECK(total == cpus);
    }
  }
}

TEST_CASE("pushing a block that was never pulled is a data race naming the pusher") {
  Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    Word w = m.NewWord("w");
    Block data = m.NewBlock("data", 2);
    return [=](Cpu& cpu) {
      cpu.Load(w);
      if (cpu.id().value() == 1) cpu.Push(data);
    };
  });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kDataRace));
  CHECK(Cpus(r.report->cpus) == "1");
  CHECK(r.report->message == "cpu 1 pushes block `data`, which it never pulled");
}

TEST_CASE("pushing a block another cpu owns is a data race naming both cpus") {
  Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    Block data = m.NewBlock("data", 2);
    return [=](Cpu& cpu) {
      if (cpu.id().value() == 0) {
        cpu.Pull(data);
        cpu.Push(data);
      } else {
        cpu.Push(data);
      }
    };
  });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kDataRace));
  CHECK(Cpus(r.report->cpus) == "1,0");
  CHECK(r.report->message == "cpu 1 pushes block `data`, which cpu 0 owns");
}

TEST_CASE("reading or writing a block the cpu does not own is a data race") {
  struct Case {
    std::string name;
    bool write;
    bool other_owns;
    std::string cpus;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"read unowned", false, false, "1", "cpu 1 reads block `data` without owning it (owner: -)"},
      {"read owned", false, true, "1,0", "cpu 1 reads block `data` without owning it (owner: 0)"},
      {"write unowned", true, false, "1",
       "cpu 1 writes block `data` without owning it (owner: -)"},
      {"write owned", true, true, "1,0",
       "cpu 1 writes block `data` without owning it (owner: 0)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::int64_t steps_before_touch = -1;
    Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, [&](Machine& m) {
      Word w = m.NewWord("w");
      Block data = m.NewBlock("data", 2);
      return [=, &steps_before_touch](Cpu& cpu) {
        if (cpu.id().value() == 0) {
          if (c.other_owns) cpu.Pull(data);
          cpu.Load(w);
          cpu.Load(w);
          if (c.other_owns) cpu.Push(data);
          return;
        }
        cpu.Load(w);  // round-robin: after cpu 0's pull
        steps_before_touch = static_cast<std::int64_t>(cpu.machine().log().size());
        if (c.write) {
          cpu.Write(data, 1, 5);
        } else {
          cpu.Read(data, 1);
        }
        cpu.Load(w);  // not reached
      };
    });
    INFO(Show(r.report));
    REQUIRE(r.Is(Outcome::kDataRace));
    CHECK(Cpus(r.report->cpus) == c.cpus);
    CHECK(r.report->message == c.message);
    // Private accesses are not steps: the run stopped right after cpu 1's load.
    CHECK(r.report->steps == static_cast<std::uint64_t>(steps_before_touch));
  }
}

TEST_CASE("two spinlocks taken in opposite order deadlock, naming both cpus and both words") {
  for (int cpus : {2, 4}) {
    CAPTURE(cpus);
    std::int64_t side_work = 0;
    Recorded r = RunWith(
        {.cpus = cpus}, {.kind = OracleKind::kRoundRobin},
        [](Machine& m) {
          auto program = testing::OppositeOrder()(m);
          Word side = m.NewWord("side");
          return [=](Cpu& cpu) {
            program(cpu);
            // cpus 2 and 3 keep working and finish; only 0 and 1 are stuck.
            if (cpu.id().value() > 1) {
              for (int i = 0; i < 10; ++i) cpu.FetchAdd(side, 1);
            }
          };
        },
        [&](const Machine& m) { side_work = m.value(Word{ObjectId(2)}); });
    INFO(Show(r.report));
    REQUIRE(r.Is(Outcome::kDeadlock));
    CHECK(Cpus(r.report->cpus) == "0,1");
    CHECK(r.report->message ==
          "2 cpus wait and none can run: cpu 0 waits at `load` on `lock_b` (value 2); cpu 1 "
          "waits at `load` on `lock_a` (value 1)");
    CHECK(side_work == 10 * (cpus - 2));
    CHECK(r.report->steps == 4 + 10 * static_cast<std::uint64_t>(cpus - 2));
  }
}

TEST_CASE("an exception thrown on a cpu ends the run with its message") {
  for (int thrower : {0, 2}) {
    CAPTURE(thrower);
    Recorded r = RunWith({.cpus = 3}, {.kind = OracleKind::kRandom, .seed = 3}, [=](Machine& m) {
      Word w = m.NewWord("w");
      return [=](Cpu& cpu) {
        cpu.FetchAdd(w, 1);
        if (cpu.id().value() == thrower) throw std::runtime_error("boom");
        cpu.FetchAdd(w, 1);
      };
    });
    INFO(Show(r.report));
    REQUIRE(r.Is(Outcome::kException));
    CHECK(r.report->cpus == std::vector<CpuId>{CpuId(thrower)});
    CHECK(r.report->message == fmt::format("cpu {} threw: boom", thrower));
    CHECK(r.report->message.find("boom") != std::string::npos);
  }
}

TEST_CASE("an exception not derived from std::exception is reported too") {
  Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, [](Machine&) {
    return [](Cpu& cpu) {
      if (cpu.id().value() == 1) throw 42;
    };
  });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kException));
  CHECK(Cpus(r.report->cpus) == "1");
  CHECK(r.report->message == "cpu 1 threw: an exception not derived from std::exception");
  CHECK(r.report->steps == 0);
}

// Needs about 1 KiB of stack per level; the volatile frame keeps the
// compiler from turning the recursion into a loop.
[[gnu::noinline]] std::int64_t Recurse(std::int64_t depth) {
  volatile std::int64_t frame[128];
  frame[depth % 128] = depth;
  if (depth <= 0) return frame[0];
  return Recurse(depth - 1) + frame[depth % 128];
}

// A counter of live objects, to see that fibers unwind their stacks.
struct Alive {
  explicit Alive(int* n) : n_(n) { ++*n_; }
  ~Alive() { --*n_; }
  Alive(const Alive&) = delete;
  Alive& operator=(const Alive&) = delete;
  int* n_;
};

TEST_CASE("a stack pool's stacks hold their bytes, start at staggered offsets and are all unmapped") {
  constexpr std::size_t kBytes = 16 * 1024;
  const std::size_t page = boost::context::stack_traits::page_size();
  // The mapping of each stack: from its base (its guard page) to the next
  // page boundary above its top.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mapped;
  {
    StackPool pool(kBytes);
    std::vector<boost::context::stack_context> taken;
    std::set<std::uintptr_t> offsets;  // where each fiber's record would go, within its page
    for (int i = 0; i < 40; ++i) {
      CAPTURE(i);
      boost::context::stack_context s = pool.Take();
      const auto top = reinterpret_cast<std::uintptr_t>(s.sp);
      CHECK(top % 16 == 0);
      // Usable: everything above the guard page, the lowest of the mapping.
      REQUIRE(s.size >= kBytes + page);
      char* const usable = static_cast<char*>(s.sp) - (s.size - page);
      std::fill(usable, static_cast<char*>(s.sp), char{1});
      CHECK(usable[0] + usable[kBytes - 1] == 2);
      // Boost.Context puts the record 256-byte aligned just below the top.
      offsets.insert((top - 1) / 256 % (page / 256));
      mapped.emplace_back(top - s.size, (top + page - 1) / page * page);
      taken.push_back(s);
    }
    // 40 stacks cover every 256-byte offset of a page (16 of a 4 KiB one).
    CHECK(offsets.size() == std::min<std::size_t>(40, page / 256));
    // Given back and taken again: the same stacks, tops and sizes unchanged.
    for (const auto& s : taken) pool.Give(s);
    std::set<std::pair<void*, std::size_t>> before, after;
    for (const auto& s : taken) before.emplace(s.sp, s.size);
    for (auto& s : taken) {
      s = pool.Take();
      after.emplace(s.sp, s.size);
    }
    CHECK(after == before);
    for (const auto& s : taken) pool.Give(s);
  }
  // The pool unmapped every stack it mapped, guard pages and tops included:
  // no mapping of the process overlaps one.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::uintptr_t lo = 0, hi = 0;
    REQUIRE(std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2);
    for (const auto& [base, end] : mapped) {
      CAPTURE(line);
      CHECK((hi <= base || lo >= end));
    }
  }
}

TEST_CASE("runaway recursion on a cpu is a stack overflow naming it, and the process runs on") {
  for (bool before_any_step : {false, true}) {
    CAPTURE(before_any_step);
    int alive = 0;  // objects on the stacks of the cpus that do not overflow
    std::int64_t shallow = 0;
    {
      Machine m({.cpus = 3, .stack_bytes = 64 * 1024});
      Word w = m.NewWord("w");
      const Machine::Program program = [&](Cpu& cpu) {
        if (cpu.id().value() == 1) {
          if (!before_any_step) cpu.FetchAdd(w, 1);
          cpu.FetchAdd(w, Recurse(1'000'000));
          return;
        }
        Alive a(&alive);
        shallow = Recurse(20);  // a little recursion is fine
        for (int i = 0; i < 5; ++i) cpu.FetchAdd(w, 1);
      };
      auto oracle = MakeOracle({.kind = OracleKind::kRoundRobin, .cpus = 3});
      absl::StatusOr<RunReport> r = m.Run(program, *oracle);
      INFO(Show(r));
      REQUIRE(r.ok());
      CHECK(r->outcome == Outcome::kStackOverflow);
      CHECK(Cpus(r->cpus) == "1");
      CHECK(r->message == "cpu 1 overflowed its 64 KiB stack (hit the guard page)");
      CHECK(r->steps == (before_any_step ? 0u : 2u));
      CHECK(alive == (before_any_step ? 1 : 2));  // cpu 0, and cpu 2 if it started
    }
    CHECK(alive == 0);  // the other cpus' stacks were unwound
    CHECK(shallow == Recurse(20));
    // A fresh machine in the same process runs normally.
    std::int64_t total = 0;
    Recorded fresh = RunWith({.cpus = 4}, {.kind = OracleKind::kRandom, .seed = 9},
                             testing::Mixed(2), [&](const Machine& fm) {
                               total = fm.value(Word{ObjectId(2)});
                             });
    INFO(Show(fresh.report));
    CHECK(fresh.Is(Outcome::kOk));
    CHECK(total == 2 * (1 + 2 + 3 + 4));
  }
}

TEST_CASE("a livelock of cpus loading a flag forever runs out of the step budget") {
  Recorded r = RunWith({.cpus = 2, .max_steps = 1000}, {.kind = OracleKind::kRandom, .seed = 1},
                       [](Machine& m) {
                         Word flag = m.NewWord("flag");
                         return [=](Cpu& cpu) {
                           while (cpu.Load(flag) == 0) {
                           }
                         };
                       });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kStepBudget));
  CHECK(Cpus(r.report->cpus) == "0,1");
  CHECK(r.report->steps == 1000);
  CHECK(r.events.size() == 1000);
  CHECK(r.report->message ==
        "2 cpus still running after the step budget of 1000 steps (livelock, or raise "
        "run.max_steps)");
}

// The protocol of testing::Lock as a replay function: the word is 0 (free) or
// holder + 1; only a cas from 0 by a cpu naming itself takes it, only the
// holder stores 0. State: the holder, or -1.
struct SpinlockReplay {
  using State = std::int64_t;
  State Init() const { return -1; }
  bool Step(State& holder, const Event& e) const {
    if (e.kind == kinds::kLoad) return true;
    if (e.kind == kinds::kCas) {
      if (e.result != e.arg0) return true;  // failed: no change
      if (e.arg0 != 0 || holder != -1 || e.arg1 != e.cpu.value() + 1) return false;
      holder = e.cpu.value();
      return true;
    }
    if (e.kind == kinds::kStore) {
      if (e.arg0 != 0 || holder != e.cpu.value()) return false;
      holder = -1;
      return true;
    }
    return false;
  }
};
static_assert(Replayer<SpinlockReplay>);

TEST_CASE("a store that releases a spinlock the cpu does not hold is an impossible log") {
  Recorded r = RunWith({.cpus = 2}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    Word lock = m.NewWord("lock");
    m.AddMonitor(lock.id, std::make_unique<ReplayMonitor<SpinlockReplay>>());
    return [=](Cpu& cpu) {
      if (cpu.id().value() == 0) {
        testing::Lock(cpu, lock);
        cpu.Load(lock);
        testing::Unlock(cpu, lock);
      } else {
        cpu.Store(lock, 0);  // the bug: releases cpu 0's lock
      }
    };
  });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kImpossibleLog));
  CHECK(Cpus(r.report->cpus) == "1");
  CHECK(r.report->message ==
        "event `t=1 cpu=1 store lock -> 0` is impossible for `lock` (state after it: 0)");
  // The rejected event is in the log, and it is the last one.
  CHECK(r.events.size() == 2);
  CHECK(r.report->steps == 2);
  CHECK(!Replay(SpinlockReplay{}, r.events, ObjectId(0)).has_value());
}

TEST_CASE("a spinlock used correctly passes its monitor under every oracle") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      CAPTURE(OracleKindName(kind));
      CAPTURE(seed);
      const ReplayMonitor<SpinlockReplay>* monitor = nullptr;
      std::int64_t final_holder = 0;
      Recorded r = RunWith(
          {.cpus = 4}, {.kind = kind, .seed = seed, .pct_horizon = 100},
          [&](Machine& m) {
            Machine::Program p = testing::Mixed(3)(m);
            auto owned = std::make_unique<ReplayMonitor<SpinlockReplay>>();
            monitor = owned.get();
            m.AddMonitor(ObjectId(0), std::move(owned));
            return p;
          },
          [&](const Machine&) { final_holder = monitor->state(); });
      INFO(Show(r.report));
      CHECK(r.Is(Outcome::kOk));
      CHECK(final_holder == -1);
      CHECK(Replay(SpinlockReplay{}, r.events, ObjectId(0)) == std::optional<std::int64_t>(-1));
    }
  }
}

TEST_CASE("a cpu that fails its own check names itself first, then the others it blames") {
  Recorded r = RunWith({.cpus = 3}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    Word w = m.NewWord("w");
    return [=](Cpu& cpu) {
      std::int64_t seen = cpu.FetchAdd(w, 1);
      if (cpu.id().value() == 2 && seen != 0) {
        cpu.Fail(Outcome::kWrongResult, fmt::format("saw {}", seen), {CpuId(0), CpuId(1)});
      }
      cpu.FetchAdd(w, 1);
    };
  });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kWrongResult));
  CHECK(Cpus(r.report->cpus) == "2,0,1");
  CHECK(r.report->message == "saw 2");
  CHECK(r.report->steps == 3);
}

TEST_CASE("failed runs of every kind unwind the stacks of the cpus left behind") {
  struct Case {
    std::string name;
    Outcome outcome;
    std::function<void(Cpu&, Word, Block)> body;
  };
  const std::vector<Case> cases = {
      {"data race", Outcome::kDataRace,
       [](Cpu& cpu, Word, Block b) {
         cpu.Pull(b);
         cpu.Push(b);
       }},
      {"deadlock", Outcome::kDeadlock,
       [](Cpu& cpu, Word w, Block) { cpu.LoadWhenChanged(w, 0); }},
      {"exception", Outcome::kException,
       [](Cpu& cpu, Word w, Block) {
         cpu.Load(w);
         if (cpu.id().value() == 1) throw std::runtime_error("boom");
         cpu.Load(w);
       }},
      {"step budget", Outcome::kStepBudget,
       [](Cpu& cpu, Word w, Block) {
         while (cpu.Load(w) == 0) {
         }
       }},
      {"ok", Outcome::kOk, [](Cpu& cpu, Word w, Block) { cpu.FetchAdd(w, 1); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    int alive = 0;
    int peak = 0;
    {
      Recorded r = RunWith({.cpus = 4, .max_steps = 200}, {.kind = OracleKind::kRoundRobin},
                           [&](Machine& m) {
                             Word w = m.NewWord("w");
                             Block b = m.NewBlock("b", 1);
                             return [&, w, b](Cpu& cpu) {
                               Alive a(&alive);
                               peak = std::max(peak, alive);
                               c.body(cpu, w, b);
                             };
                           });
      INFO(Show(r.report));
      CHECK(r.Is(c.outcome));
    }
    CHECK(peak >= 2);
    CHECK(alive == 0);
  }
}

// ------------------------------------------------------------ blocking operations

TEST_CASE("a cpu waiting for a flag adds exactly one load event however long it waits") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (int k : {0, 1, 5, 50}) {
      for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        CAPTURE(OracleKindName(kind));
        CAPTURE(k);
        CAPTURE(seed);
        std::int64_t seen = -1;
        Recorded r = RunWith({.cpus = 2}, {.kind = kind, .seed = seed, .pct_horizon = 60},
                             [&](Machine& m) {
                               Word flag = m.NewWord("flag");
                               Word work = m.NewWord("work");
                               return [=, &seen](Cpu& cpu) {
                                 if (cpu.id().value() == 0) {
                                   seen = cpu.LoadWhenChanged(flag, 0);
                                   return;
                                 }
                                 for (int i = 0; i < k; ++i) cpu.FetchAdd(work, 1);
                                 cpu.Store(flag, 1);
                               };
                             });
        INFO(Show(r.report));
        REQUIRE(r.Is(Outcome::kOk));
        CHECK(seen == 1);
        CHECK(r.events.size() == static_cast<std::size_t>(k) + 2);
        std::vector<Event> waiter = EventsOf(r.events, CpuId(0));
        REQUIRE(waiter.size() == 1);
        CHECK(waiter[0].kind == kinds::kLoad);
        CHECK(waiter[0].result == 1);
        // It ran after the store, which is the step before it.
        CHECK(waiter[0].seq == static_cast<std::uint64_t>(k) + 1);
        CHECK(r.events[static_cast<std::size_t>(k)].kind == kinds::kStore);
        // It did not wait while blocked: blocked steps are not waits.
        CHECK(r.worst_wait == 0);
      }
    }
  }
}

TEST_CASE("a waiter whose word changes back before it runs waits again") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(OracleKindName(kind));
      CAPTURE(seed);
      std::vector<std::int64_t> seen(3, -1);
      Recorded r = RunWith({.cpus = 4}, {.kind = kind, .seed = seed, .pct_horizon = 10},
                           [&](Machine& m) {
                             Word flag = m.NewWord("flag");
                             return [=, &seen](Cpu& cpu) {
                               const int id = cpu.id().value();
                               if (id < 3) {
                                 seen[static_cast<std::size_t>(id)] =
                                     cpu.LoadWhenChanged(flag, 0);
                                 return;
                               }
                               cpu.Store(flag, 1);
                               cpu.Store(flag, 0);
                               cpu.Store(flag, 0);
                               cpu.Store(flag, 2);
                             };
                           });
      INFO(Show(r.report));
      REQUIRE(r.Is(Outcome::kOk));
      for (std::int64_t v : seen) CHECK((v == 1 || v == 2));
      CHECK(r.events.size() == 7);
    }
  }
}

// A counting semaphore as an abstract object: V adds a token, P waits for one.
// Its state lives in the test; the machine only sees the ops and the monitor.
inline constexpr EventKind kV{"V"};
inline constexpr EventKind kP{"P"};
struct SemaphoreReplay {
  using State = std::int64_t;
  State Init() const { return 0; }
  bool Step(State& tokens, const Event& e) const {
    if (e.kind == kV) {
      ++tokens;
    } else if (e.kind == kP) {
      if (tokens == 0) return false;
      --tokens;
    } else {
      return false;
    }
    return tokens == e.result;
  }
};

testing::Setup Semaphore(int v_count, std::int64_t* tokens) {
  return [=](Machine& m) {
    ObjectId sem = m.NewObject("sem");
    m.AddMonitor(sem, std::make_unique<ReplayMonitor<SemaphoreReplay>>());
    return [=](Cpu& cpu) {
      if (cpu.id().value() == 0) {
        for (int i = 0; i < v_count; ++i) {
          cpu.Step({.object = sem, .kind = kV, .apply = [=] { return ++*tokens; }});
        }
        return;
      }
      auto has_token = [=] { return *tokens > 0; };
      absl::FunctionRef<bool()> ready(has_token);
      cpu.Step({.object = sem, .kind = kP, .apply = [=] { return --*tokens; }, .ready = &ready});
    };
  };
}

TEST_CASE("a generic step with a ready condition runs only while it is enabled") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(OracleKindName(kind));
      CAPTURE(seed);
      std::int64_t tokens = 0;
      Recorded r = RunWith({.cpus = 5}, {.kind = kind, .seed = seed, .pct_horizon = 10},
                           Semaphore(4, &tokens));
      INFO(Show(r.report));
      // The monitor rejects a P without a token, so "ok" means none happened.
      REQUIRE(r.Is(Outcome::kOk));
      CHECK(tokens == 0);
      CHECK(r.events.size() == 8);
      for (const Event& e : r.events) CHECK(e.result >= 0);
    }
  }
}

TEST_CASE("waiting on an abstract object nobody enables is a deadlock described by its monitor") {
  std::int64_t tokens = 0;
  Recorded r = RunWith({.cpus = 3}, {.kind = OracleKind::kRoundRobin}, Semaphore(1, &tokens));
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kDeadlock));
  REQUIRE(r.report->cpus.size() == 1);
  const int stuck = r.report->cpus[0].value();
  CHECK(stuck != 0);
  CHECK(r.report->message ==
        fmt::format("1 cpus wait and none can run: cpu {} waits at `P` on `sem` (0)", stuck));
}

// ------------------------------------------------------------ the machine itself

TEST_CASE("a run whose cpus take no shared steps is ok with an empty log") {
  int ran = 0;
  Recorded r = RunWith({.cpus = 3}, {.kind = OracleKind::kRandom}, [&](Machine&) {
    return [&](Cpu&) { ++ran; };
  });
  REQUIRE(r.Is(Outcome::kOk));
  CHECK(ran == 3);
  CHECK(r.report->steps == 0);
  CHECK(r.events.empty());
  CHECK(r.schedule.empty());
  CHECK(r.report->cpus.empty());
  CHECK(r.report->message.empty());
}

TEST_CASE("a machine with the largest cpu count runs every cpu") {
  std::int64_t total = 0;
  Recorded r = RunWith({.cpus = kMaxCpus}, {.kind = OracleKind::kRoundRobin}, [](Machine& m) {
    Word w = m.NewWord("w");
    return [=](Cpu& cpu) { cpu.FetchAdd(w, cpu.id().value()); };
  }, [&](const Machine& m) { total = m.value(Word{ObjectId(0)}); });
  INFO(Show(r.report));
  REQUIRE(r.Is(Outcome::kOk));
  CHECK(total == kMaxCpus * (kMaxCpus - 1) / 2);
  REQUIRE(r.schedule.size() == static_cast<std::size_t>(kMaxCpus));
  bool in_order = true;
  for (int i = 0; i < kMaxCpus; ++i) in_order = in_order && r.schedule[static_cast<std::size_t>(i)] == CpuId(i);
  CHECK(in_order);
}

TEST_CASE("words, blocks and objects start as made and are visible after the run") {
  Machine m({.cpus = 2, .stack_bytes = 32 * 1024});
  CHECK(m.cpus() == 2);
  CHECK(m.options().stack_bytes == 32 * 1024);
  Word w = m.NewWord("w", 41);
  Block b = m.NewBlock("b", 3);
  ObjectId o = m.NewObject("o");
  CHECK(w.id == ObjectId(0));
  CHECK(b.id == ObjectId(1));
  CHECK(o == ObjectId(2));
  CHECK(m.log().object_count() == 3);
  CHECK(m.log().object_name(b.id) == "b");
  CHECK(m.value(w) == 41);
  CHECK(m.contents(b).size() == 3);
  CHECK(!m.owner(b).valid());
  std::vector<std::int64_t> results;
  const Machine::Program program = [&](Cpu& cpu) {
    if (cpu.id().value() == 0) {
      results.push_back(cpu.FetchAdd(w, 1));           // 41 -> 42
      results.push_back(cpu.CompareSwap(w, 42, 50));   // hit: 50
      results.push_back(cpu.CompareSwap(w, 42, 60));   // miss: stays 50
      results.push_back(cpu.Swap(w, 7));               // 50 -> 7
      cpu.Store(w, 8);
      results.push_back(cpu.Load(w));
      cpu.Pull(b);
      cpu.Write(b, 2, 99);
      results.push_back(cpu.Read(b, 2));
    }
  };
  auto oracle = MakeOracle({.kind = OracleKind::kRoundRobin, .cpus = 2});
  auto r = m.Run(program, *oracle);
  REQUIRE(r.ok());
  CHECK(r->ok());
  CHECK(results == std::vector<std::int64_t>{41, 42, 50, 50, 8, 99});
  CHECK(m.value(w) == 8);
  CHECK(m.contents(b)[2] == 99);
  CHECK(m.owner(b) == CpuId(0));  // still pulled: finishing does not push
  REQUIRE(m.log().size() == 7);
  CHECK(m.log()[1].kind == kinds::kCas);
  CHECK(m.log()[1].arg0 == 42);
  CHECK(m.log()[1].arg1 == 50);
  CHECK(m.log()[1].result == 42);
  CHECK(m.log()[4].kind == kinds::kStore);
  CHECK(m.log()[4].arg0 == 8);
  CHECK(m.log()[6].kind == kinds::kPull);
  CHECK(m.log()[6].result == 0);
}

TEST_CASE("outcomes parse from the names they print") {
  const std::vector<std::pair<Outcome, std::string_view>> names = {
      {Outcome::kOk, "ok"},
      {Outcome::kDataRace, "data-race"},
      {Outcome::kImpossibleLog, "impossible-log"},
      {Outcome::kException, "exception"},
      {Outcome::kStackOverflow, "stack-overflow"},
      {Outcome::kDeadlock, "deadlock"},
      {Outcome::kStepBudget, "step-budget"},
      {Outcome::kUnfairSchedule, "unfair-schedule"},
      {Outcome::kWrongResult, "wrong-result"},
  };
  for (auto [outcome, name] : names) {
    CAPTURE(name);
    CHECK(OutcomeName(outcome) == name);
    CHECK(ParseOutcome(name) == outcome);
  }
  CHECK(!ParseOutcome("race").has_value());
  CHECK(RunReport{}.ok());
  CHECK(!RunReport{.outcome = Outcome::kDeadlock}.ok());
}

}  // namespace
}  // namespace strata::machine
