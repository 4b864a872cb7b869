// Replay, both senses: replay functions (an object's state as a fold over the
// log) and replaying a recorded schedule on a fresh machine.
#include "machine/replay.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/machine.h"
#include "machine/rng.h"
#include "machine/schedule.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

using testing::Cpus;
using testing::Recorded;
using testing::ReplayOf;
using testing::RunWith;
using testing::Show;

// ------------------------------------------------------------ replay functions

// Every cpu does a seeded mix of atomic operations on one word.
struct WordMix {
  std::int64_t initial = 7;
  int ops = 12;
  testing::Setup operator()() const {
    return [*this](Machine& m) {
      Word w = m.NewWord("w", initial);
      return [*this, w](Cpu& cpu) {
        Rng rng(static_cast<std::uint64_t>(cpu.id().value()) + 17);
        for (int i = 0; i < ops; ++i) {
          std::int64_t x = static_cast<std::int64_t>(rng.Below(5));
          switch (rng.Below(5)) {
            case 0: cpu.FetchAdd(w, x - 2); break;
            case 1: cpu.CompareSwap(w, cpu.Load(w), x); break;
            case 2: cpu.Swap(w, x * 3); break;
            case 3: cpu.Load(w); break;
            default: cpu.Store(w, -x); break;
          }
        }
      };
    };
  }
};

TEST_CASE("word replay over the log of a random run gives the word's final value") {
  for (int cpus : {1, 2, 3, 8}) {
    for (std::uint64_t seed = 1; seed <= 25; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      std::int64_t final_value = 0;
      std::optional<std::int64_t> replayed;
      Recorded r = RunWith({.cpus = cpus}, {.kind = OracleKind::kRandom, .seed = seed},
                           WordMix{}(), [&](const Machine& m) {
                             final_value = m.value(Word{ObjectId(0)});
                             replayed = Replay(WordReplay{.initial = 7}, m.log().events(),
                                               ObjectId(0));
                           });
      INFO(Show(r.report));
      REQUIRE(r.Is(Outcome::kOk));
      REQUIRE(replayed.has_value());
      CHECK(*replayed == final_value);
      // The replay is a pure function of the events, wherever they are kept.
      CHECK(Replay(WordReplay{.initial = 7}, r.events, ObjectId(0)) == replayed);
      // With the wrong initial value the first event to report it no longer fits
      // (unless a store overwrites it first).
      REQUIRE(!r.events.empty());
      if (!(r.events.front().kind == kinds::kStore)) {
        CHECK(!Replay(WordReplay{.initial = 8}, r.events, ObjectId(0)).has_value());
      }
    }
  }
}

TEST_CASE("a word monitor accepts every event of a run and ends in the final value") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    const ReplayMonitor<WordReplay>* monitor = nullptr;
    std::int64_t final_value = 0;
    std::string described;
    Recorded r = RunWith(
        {.cpus = 4}, {.kind = OracleKind::kPct, .seed = seed, .pct_horizon = 50},
        [&](Machine& m) {
          Machine::Program p = WordMix{}()(m);
          auto owned = std::make_unique<ReplayMonitor<WordReplay>>(WordReplay{.initial = 7});
          monitor = owned.get();
          m.AddMonitor(ObjectId(0), std::move(owned));
          return p;
        },
        [&](const Machine& m) {
          final_value = m.value(Word{ObjectId(0)});
          CHECK(monitor->state() == final_value);
          described = monitor->Describe();
        });
    INFO(Show(r.report));
    REQUIRE(r.Is(Outcome::kOk));
    CHECK(described == std::to_string(final_value));
  }
}

TEST_CASE("block replay ends with no owner and one version per push") {
  for (int cpus : {1, 2, 5}) {
    for (std::uint64_t seed = 1; seed <= 15; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      std::optional<BlockState> state;
      std::int64_t pushes = 0;
      std::vector<std::int64_t> contents;
      CpuId owner(0);
      std::uint64_t last_push_hash = 0;
      Recorded r = RunWith(
          {.cpus = cpus}, {.kind = OracleKind::kRandom, .seed = seed},
          [](Machine& m) {
            Word lock = m.NewWord("lock");
            Block b = m.NewBlock("b", 3);
            return [=](Cpu& cpu) {
              for (int round = 0; round < 3; ++round) {
                testing::Lock(cpu, lock);
                cpu.Pull(b);
                cpu.Write(b, 0, cpu.Read(b, 0) + 1);
                cpu.Write(b, 2, cpu.id().value());
                cpu.Push(b);
                testing::Unlock(cpu, lock);
              }
            };
          },
          [&](const Machine& m) {
            state = Replay(BlockReplay{}, m.log().events(), ObjectId(1));
            for (std::size_t i : m.log().View(ObjectId(1))) {
              if (m.log()[i].kind == kinds::kPush) {
                ++pushes;
                last_push_hash = static_cast<std::uint64_t>(m.log()[i].arg0);
              }
            }
            auto c = m.contents(Block{ObjectId(1)});
            contents.assign(c.begin(), c.end());
            owner = m.owner(Block{ObjectId(1)});
          });
      INFO(Show(r.report));
      REQUIRE(r.Is(Outcome::kOk));
      REQUIRE(state.has_value());
      CHECK(!state->owner.valid());
      CHECK(!owner.valid());
      CHECK(pushes == 3 * cpus);
      CHECK(state->version == pushes);
      CHECK(contents[0] == 3 * cpus);
      // A push carries the hash of the block's contents, kept up to date
      // write by write: the same as hashing the contents from scratch.
      std::uint64_t sum = 0;
      for (std::size_t i = 0; i < contents.size(); ++i) sum += machine::BlockWordHash(i, contents[i]);
      CHECK(last_push_hash == sum);
      CHECK(last_push_hash == static_cast<std::uint64_t>(machine::BlockHash(contents)));
      // Position matters: the same words in another order hash otherwise.
      CHECK(machine::BlockHash(std::vector<std::int64_t>{1, 2}) !=
            machine::BlockHash(std::vector<std::int64_t>{2, 1}));
      CHECK(fmt::format("{}", *state) == fmt::format("owner=- version={}", pushes));
    }
  }
}

// A log of hand-made events on objects 0 ("b", a block) and 1 ("w", a word).
std::vector<Event> Events(std::initializer_list<Event> events) {
  std::vector<Event> out(events);
  for (std::size_t i = 0; i < out.size(); ++i) out[i].seq = i;
  return out;
}
// The machine operation a plain kind names.
OpCode OpOf(EventKind kind) {
  for (OpCode op : {OpCode::kFaa, OpCode::kCas, OpCode::kSwap, OpCode::kLoad, OpCode::kStore,
                    OpCode::kPull, OpCode::kPush}) {
    if (kind.name() == OpCodeName(op)) return op;
  }
  return OpCode::kAtomic;
}

Event On(int cpu, int object, EventKind kind, std::int64_t arg0, std::int64_t result) {
  return Event{.cpu = CpuId(cpu), .object = ObjectId(object), .op = OpOf(kind), .kind = kind,
               .arg0 = arg0, .result = result};
}

TEST_CASE("block replay rejects a pull by cpu 1 while cpu 0 owns the block") {
  const ObjectId b(0);
  auto log = Events({On(0, 0, kinds::kPull, 0, 0), On(1, 0, kinds::kPull, 0, 0)});
  CHECK(!Replay(BlockReplay{}, log, b).has_value());
  // The prefix without the second pull is fine: cpu 0 owns version 0.
  auto prefix = Replay(BlockReplay{}, std::span(log).first(1), b);
  REQUIRE(prefix.has_value());
  CHECK(*prefix == BlockState{.owner = CpuId(0), .version = 0});
}

TEST_CASE("block replay rejects pushes by non-owners, wrong versions and foreign kinds") {
  const ObjectId b(0);
  // A push of a block nobody pulled.
  CHECK(!Replay(BlockReplay{}, Events({On(0, 0, kinds::kPush, 0, 1)}), b).has_value());
  // A push by a cpu that does not own it.
  CHECK(!Replay(BlockReplay{}, Events({On(0, 0, kinds::kPull, 0, 0), On(1, 0, kinds::kPush, 0, 1)}),
                b)
             .has_value());
  // A pull reporting a version the block does not have, and a push reporting a stale one.
  CHECK(!Replay(BlockReplay{}, Events({On(0, 0, kinds::kPull, 0, 3)}), b).has_value());
  CHECK(!Replay(BlockReplay{}, Events({On(0, 0, kinds::kPull, 0, 0), On(0, 0, kinds::kPush, 0, 0)}),
                b)
             .has_value());
  // A word operation on a block.
  CHECK(!Replay(BlockReplay{}, Events({On(0, 0, kinds::kLoad, 0, 0)}), b).has_value());
  // A good history: 0 pulls and pushes, then 1 does.
  auto good = Replay(BlockReplay{},
                     Events({On(0, 0, kinds::kPull, 0, 0), On(0, 0, kinds::kPush, 5, 1),
                             On(1, 0, kinds::kPull, 0, 1), On(1, 0, kinds::kPush, 6, 2)}),
                     b);
  REQUIRE(good.has_value());
  CHECK(*good == BlockState{.owner = CpuId(), .version = 2});
}

TEST_CASE("word replay follows a layer's named steps by their machine operation") {
  const ObjectId w(1);
  Event inc = On(0, 1, kinds::kFaa, 1, 0);
  inc.kind = EventKind("INC_TICKET");  // a named fetch-and-add
  Event get = On(1, 1, kinds::kLoad, 0, 1);
  get.kind = EventKind("GET_NOW");
  auto named = Replay(WordReplay{}, Events({inc, get}), w);
  REQUIRE(named.has_value());
  CHECK(*named == 1);
  get.result = 0;  // a load that saw the value before the increment
  CHECK(!Replay(WordReplay{}, Events({inc, get}), w).has_value());
  // A step of a layer's own (not a machine operation) is not a word's.
  Event atomic = inc;
  atomic.op = OpCode::kAtomic;
  CHECK(!Replay(WordReplay{}, Events({atomic}), w).has_value());
  // Markers and ghosts change nothing.
  Event ghost = inc;
  ghost.op = OpCode::kGhost;
  CHECK(Replay(WordReplay{}, Events({ghost}), w) == std::optional<std::int64_t>(0));
}

TEST_CASE("word replay rejects results that do not match the value and ignores other objects") {
  const ObjectId w(1);
  // faa 2 on 0 returns 0; a load then must see 2.
  auto good = Replay(WordReplay{}, Events({On(0, 1, kinds::kFaa, 2, 0), On(1, 1, kinds::kLoad, 0, 2)}),
                     w);
  REQUIRE(good.has_value());
  CHECK(*good == 2);
  CHECK(!Replay(WordReplay{}, Events({On(0, 1, kinds::kFaa, 2, 0), On(1, 1, kinds::kLoad, 0, 3)}),
                w)
             .has_value());
  CHECK(!Replay(WordReplay{}, Events({On(0, 1, kinds::kFaa, 2, 1)}), w).has_value());
  CHECK(!Replay(WordReplay{}, Events({On(0, 1, kinds::kSwap, 2, 4)}), w).has_value());
  CHECK(!Replay(WordReplay{}, Events({On(0, 1, kinds::kPull, 0, 0)}), w).has_value());
  // cas succeeds only when the value is the expected one.
  Event cas_hit{.cpu = CpuId(0), .object = w, .op = OpCode::kCas, .kind = kinds::kCas, .arg0 = 0, .arg1 = 9,
                .result = 0};
  Event cas_miss{.cpu = CpuId(1), .object = w, .op = OpCode::kCas, .kind = kinds::kCas, .arg0 = 0, .arg1 = 4,
                 .result = 9};
  auto cas = Replay(WordReplay{}, Events({cas_hit, cas_miss}), w);
  REQUIRE(cas.has_value());
  CHECK(*cas == 9);
  // A store sets the value whatever it was; events on another object do not count.
  auto store = Replay(WordReplay{.initial = 5},
                      Events({On(0, 1, kinds::kStore, -3, 0), On(0, 0, kinds::kPull, 0, 99),
                              On(1, 1, kinds::kLoad, 0, -3)}),
                      w);
  REQUIRE(store.has_value());
  CHECK(*store == -3);
  // An empty log is the initial value.
  CHECK(Replay(WordReplay{.initial = 5}, std::span<const Event>(), w) == 5);
}

// ------------------------------------------------------------ replaying schedules

// Replays `original`'s schedule on a fresh machine and checks it is the same run.
void CheckReplaysIdentically(const MachineOptions& options, const Recorded& original,
                             const testing::Setup& setup) {
  REQUIRE(original.report.ok());
  // Through the text form, as a schedule file would carry it.
  auto decoded = DecodeChoices(EncodeChoices(original.schedule), options.cpus);
  REQUIRE(decoded.ok());
  auto oracle = ReplayOf(*decoded);
  Recorded again = RunWith(options, *oracle, setup);
  INFO(Show(again.report));
  REQUIRE(again.report.ok());
  CHECK(again.hash == original.hash);
  CHECK(again.schedule == original.schedule);
  CHECK(again.events == original.events);
  CHECK(again.report->outcome == original.report->outcome);
  CHECK(Cpus(again.report->cpus) == Cpus(original.report->cpus));
  CHECK(again.report->message == original.report->message);
  CHECK(again.report->steps == original.report->steps);
}

TEST_CASE("replaying a good run's schedule on a fresh machine gives the identical log") {
  for (OracleKind kind : testing::kLiveOracles) {
    for (int cpus : {1, 2, 3, 8}) {
      for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        CAPTURE(OracleKindName(kind));
        CAPTURE(cpus);
        CAPTURE(seed);
        const MachineOptions options{.cpus = cpus};
        Recorded r =
            RunWith(options, {.kind = kind, .seed = seed, .pct_horizon = 100}, testing::Mixed(2));
        INFO(Show(r.report));
        REQUIRE(r.Is(Outcome::kOk));
        CheckReplaysIdentically(options, r, testing::Mixed(2));
      }
    }
  }
}

TEST_CASE("replaying a data race's schedule reproduces the same race") {
  int races = 0;
  for (int cpus : {2, 3, 8}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      const MachineOptions options{.cpus = cpus};
      Recorded r = RunWith(options, {.kind = OracleKind::kRandom, .seed = seed}, testing::RacyPush());
      INFO(Show(r.report));
      REQUIRE(r.report.ok());
      if (!r.Is(Outcome::kDataRace)) continue;
      ++races;
      CheckReplaysIdentically(options, r, testing::RacyPush());
    }
  }
  CHECK(races >= 40);
}

TEST_CASE("replaying a deadlock's schedule reproduces the same deadlock") {
  int deadlocks = 0;
  for (OracleKind kind : testing::kLiveOracles) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(OracleKindName(kind));
      CAPTURE(seed);
      const MachineOptions options{.cpus = 3};
      Recorded r = RunWith(options, {.kind = kind, .seed = seed, .pct_horizon = 6},
                           testing::OppositeOrder());
      INFO(Show(r.report));
      REQUIRE(r.report.ok());
      if (r.Is(Outcome::kOk)) continue;
      CHECK(r.report->outcome == Outcome::kDeadlock);
      CHECK(Cpus(r.report->cpus) == "0,1");
      ++deadlocks;
      CheckReplaysIdentically(options, r, testing::OppositeOrder());
    }
  }
  CHECK(deadlocks >= 10);
}

TEST_CASE("a replayed schedule naming a cpu that cannot run is InvalidArgument naming the step") {
  // cpu 0 waits for the flag, so at step 0 only cpu 1 can run.
  testing::Setup waiter = [](Machine& m) {
    Word flag = m.NewWord("flag");
    return [=](Cpu& cpu) {
      if (cpu.id().value() == 0) {
        cpu.LoadWhenChanged(flag, 0);
      } else {
        cpu.Store(flag, 1);
      }
    };
  };
  {
    auto oracle = ReplayOf(std::vector<CpuId>{CpuId(0), CpuId(1)});
    Recorded r = RunWith({.cpus = 2}, *oracle, waiter);
    REQUIRE(!r.report.ok());
    CHECK(r.report.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(r.report.status().message() ==
          "test: schedule step 0 names cpu 0, which cannot run there (expected one of 1)");
  }
  {
    // cpu 1 has finished by step 1.
    auto oracle = ReplayOf(std::vector<CpuId>{CpuId(1), CpuId(1)});
    Recorded r = RunWith({.cpus = 2}, *oracle, waiter);
    REQUIRE(!r.report.ok());
    CHECK(r.report.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(r.report.status().message() ==
          "test: schedule step 1 names cpu 1, which cannot run there (expected one of 0)");
  }
  {
    // The right schedule runs.
    auto oracle = ReplayOf(std::vector<CpuId>{CpuId(1), CpuId(0)});
    Recorded r = RunWith({.cpus = 2}, *oracle, waiter);
    INFO(Show(r.report));
    CHECK(r.Is(Outcome::kOk));
  }
}

TEST_CASE("a replayed schedule that ends early or has steps left over is InvalidArgument") {
  const MachineOptions options{.cpus = 3};
  Recorded r = RunWith(options, {.kind = OracleKind::kRandom, .seed = 5}, testing::Mixed(1));
  REQUIRE(r.Is(Outcome::kOk));
  const std::size_t n = r.schedule.size();
  REQUIRE(n > 2);
  {
    std::vector<CpuId> short_schedule(r.schedule.begin(), r.schedule.end() - 1);
    auto oracle = ReplayOf(short_schedule);
    Recorded s = RunWith(options, *oracle, testing::Mixed(1));
    REQUIRE(!s.report.ok());
    CHECK(s.report.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.report.status().message()) ==
          fmt::format("test: schedule ends after {} steps, but cpus {} can still run (expected "
                      "a schedule recorded from this config)",
                      n - 1, r.schedule.back()));
  }
  {
    std::vector<CpuId> long_schedule = r.schedule;
    long_schedule.push_back(CpuId(0));
    long_schedule.push_back(CpuId(2));
    auto oracle = ReplayOf(long_schedule);
    Recorded s = RunWith(options, *oracle, testing::Mixed(1));
    REQUIRE(!s.report.ok());
    CHECK(s.report.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.report.status().message()) ==
          fmt::format("test: the run ended after {} steps but the schedule has {} (expected a "
                      "schedule recorded from this config)",
                      n, n + 2));
  }
  {
    // A schedule for 3 cpus replayed on a 2-cpu machine fails as input, not as a crash.
    auto oracle = ReplayOf(r.schedule);
    Recorded s = RunWith({.cpus = 2}, *oracle, testing::Mixed(1));
    CHECK(!s.report.ok());
    CHECK(s.report.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace strata::machine
