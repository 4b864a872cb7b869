// The per-CPU machine Boot[cid, ε]: a focused CPU against its environment
// context; what the environment appends is its own fault; a recorded
// environment replays another run's events at their positions.
#include "machine/environment.h"

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/machine.h"
#include "machine/replay.h"

namespace strata::machine {
namespace {

// Refuses a store of 7 to its word.
class NoSevens final : public Monitor {
 public:
  bool Observe(const Event& e) override { return !(e.op == OpCode::kStore && e.arg0 == 7); }
  std::string Describe() const override { return "no word may hold 7"; }
};

RunReport RunSevens(CpuId focus) {
  Machine m(MachineOptions{.cpus = 2, .focus = focus});
  const Word w = m.NewWord("w");
  m.AddMonitor(w.id, std::make_unique<NoSevens>());
  auto oracle = MakeOracle({.kind = OracleKind::kRoundRobin, .cpus = 2});
  auto report = m.Run(
      [w](Cpu& cpu) {
        cpu.Store(w, 1);
        if (cpu.id() == CpuId(1)) cpu.Store(w, 7);  // cpu 1 breaks the word's replay
      },
      *oracle);
  REQUIRE(report.ok());
  return *report;
}

TEST_CASE("an event the environment appends that a monitor refuses is an invalid environment") {
  // The multicore machine: cpu 1's failure.
  const RunReport multicore = RunSevens(CpuId());
  CHECK(multicore.outcome == Outcome::kImpossibleLog);
  // Focused on cpu 0, cpu 1 is its environment: not cpu 0's fault.
  const RunReport env = RunSevens(CpuId(0));
  CHECK(env.outcome == Outcome::kInvalidEnvironment);
  CHECK(env.message.find("the environment of cpu 0 appended an event it may not: event `") == 0);
  CHECK(env.message.find("store w (7, 0)") != std::string::npos);
  // Focused on cpu 1, the step is the focused CPU's own.
  CHECK(RunSevens(CpuId(1)).outcome == Outcome::kImpossibleLog);
}

// Each CPU adds its id + 1 to a counter, waits for its turn, and writes a
// block in turn: a fetch-and-add, a wait, a pull, a push and a store.
void Program(Cpu& cpu, Word counter, Word turn, Block b) {
  cpu.FetchAdd(counter, cpu.id().value() + 1);
  cpu.AwaitValue(turn, cpu.id().value());
  cpu.Pull(b);
  cpu.Write(b, 0, cpu.Read(b, 0) * 10 + cpu.id().value());
  cpu.Push(b, cpu.id().value());
  cpu.Store(turn, cpu.id().value() + 1);
}

TEST_CASE("a recorded environment puts the other CPUs' events at their recorded positions") {
  for (int cpus : {1, 2, 3, 8}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);
      auto set_up = [](Machine& m) {
        const Word counter = m.NewWord("counter");
        const Word turn = m.NewWord("turn");
        const Block b = m.NewBlock("b", 1);
        return [=](Cpu& cpu) { Program(cpu, counter, turn, b); };
      };
      Machine recorded(MachineOptions{.cpus = cpus});
      recorded.KeepPushedContents();
      auto program = set_up(recorded);
      auto oracle = MakeOracle({.kind = OracleKind::kRandom, .seed = seed, .cpus = cpus});
      auto recorded_report = recorded.Run(program, *oracle);
      REQUIRE(recorded_report.ok());
      REQUIRE(recorded_report->outcome == Outcome::kOk);
      // The machine's own schedule is the one its log implies (which a log
      // file's recording has).
      const Recording recording = RecordingOf(recorded);
      CHECK(ScheduleOf(recording.events) == recording.schedule);
      const RecordedEnvironment env(recording);
      CHECK(env.log_hash() == recorded.log().hash());
      for (int focus = 0; focus < cpus; ++focus) {
        CAPTURE(focus);
        MachineOptions o{.cpus = cpus, .fairness = 1'000'000, .focus = CpuId(focus)};
        Machine m(o);
        auto live = set_up(m);
        auto replay = MakeOracle({.kind = OracleKind::kReplay, .cpus = cpus,
                                  .replay = env.schedule(), .replay_source = "the recording"});
        auto report = m.Run(
            [&](Cpu& cpu) {
              if (cpu.id() == CpuId(focus)) {
                live(cpu);
              } else {
                env.Run(cpu);
              }
            },
            *replay);
        INFO(report.status().message());
        REQUIRE(report.ok());
        CHECK(report->outcome == Outcome::kOk);
        // The same log, event for event (the wait's value, the pushes'
        // contents), so the same hash.
        REQUIRE(m.log().size() == recorded.log().size());
        for (std::size_t i = 0; i < m.log().size(); ++i) CHECK(m.log()[i] == recorded.log()[i]);
        CHECK(m.log().hash() == recorded.log().hash());
      }
    }
  }
}

TEST_CASE("equal logs have equal hashes however their linearization marks were set") {
  // A mark set when the event is appended, and one set later (as
  // AdoptLinearization does), give the same hash as a copy of the log.
  Log a;
  const ObjectId o = a.AddObject("o");
  a.Append(CpuId(0), ThreadId(), o, kinds::kFaa, 1, 0, 0, OpCode::kFaa);
  a.Append(CpuId(0), ThreadId(), o, kinds::kFaa, 1, 0, 1, OpCode::kFaa);
  a.FlagLinearization(1);
  a.FlagLinearization(0);  // later, on an earlier event
  a.FlagLinearization(1);
  Log b;
  b.AddObject("o");
  for (const Event& e : a.events()) b.Append(e);
  CHECK(a.hash() == b.hash());
  CHECK(b[1].linearizes == 2);
  // And different marks, different hashes.
  Log c;
  c.AddObject("o");
  c.Append(a[0]);
  Event moved = a[1];
  moved.linearizes = 1;
  c.Append(moved);
  CHECK(c.hash() != a.hash());
}

}  // namespace
}  // namespace strata::machine
