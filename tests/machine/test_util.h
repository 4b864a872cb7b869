// Helpers shared by the machine tests: running a program on a fresh Machine
// and keeping copies of what the tests compare (report, log, schedule), a
// CAS spinlock for simulated code, and readable renderings of ids and
// reports for failure messages.
//
// Simulated code (a Machine::Program) runs on a fiber: it must not use
// REQUIRE (it throws). Programs record what they see into host variables and
// the test asserts after Run returns.
#ifndef STRATA_TESTS_MACHINE_TEST_UTIL_H_
#define STRATA_TESTS_MACHINE_TEST_UTIL_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "absl/status/statusor.h"
#include "machine/event.h"
#include "machine/ids.h"
#include "machine/machine.h"
#include "machine/oracle.h"
#include "machine/report.h"

// Ids print as their number in doctest's failure messages.
namespace doctest {
template <class Tag>
struct StringMaker<strata::machine::StrongId<Tag>> {
  static String convert(strata::machine::StrongId<Tag> id) {
    return fmt::format("{}", id).c_str();
  }
};
}  // namespace doctest

namespace strata::machine::testing {

// The oracles that run live code (everything but replay).
inline constexpr std::array<OracleKind, 3> kLiveOracles = {
    OracleKind::kRoundRobin, OracleKind::kRandom, OracleKind::kPct};

// "1,0" for {cpu 1, cpu 0}.
inline std::string Cpus(std::span<const CpuId> cpus) {
  std::string out;
  for (CpuId c : cpus) out += fmt::format("{}{}", out.empty() ? "" : ",", c);
  return out;
}

// "data-race cpus=[1,0] steps=2: cpu 1 pulls ...", for INFO(...).
inline std::string Show(const RunReport& r) {
  return fmt::format("{} cpus=[{}] steps={}: {}", OutcomeName(r.outcome), Cpus(r.cpus), r.steps,
                     r.message);
}
inline std::string Show(const absl::StatusOr<RunReport>& r) {
  return r.ok() ? Show(*r) : r.status().ToString();
}

// A test-and-set spinlock over one word: 0 is free, cpu + 1 names the holder.
// A waiter blocks in LoadWhenChanged, so waiting costs no steps.
inline void Lock(Cpu& cpu, Word lock) {
  const std::int64_t me = cpu.id().value() + 1;
  for (;;) {
    std::int64_t holder = cpu.CompareSwap(lock, 0, me);
    if (holder == 0) return;
    cpu.LoadWhenChanged(lock, holder);
  }
}
inline void Unlock(Cpu& cpu, Word lock) { cpu.Store(lock, 0); }

// Makes the shared objects of a program on `m` and returns the program.
using Setup = std::function<Machine::Program(Machine&)>;
// Looks at the machine after its run (final values, monitors).
using Inspect = std::function<void(const Machine&)>;

// Everything a test compares about one run, copied out of the Machine.
struct Recorded {
  absl::StatusOr<RunReport> report;
  std::uint64_t hash = 0;
  std::vector<CpuId> schedule;
  std::vector<Event> events;
  std::uint64_t worst_wait = 0;

  // The run ended (no bad oracle input) with `o`.
  bool Is(Outcome o) const { return report.ok() && report->outcome == o; }
};

inline Recorded RunWith(const MachineOptions& options, Oracle& oracle, const Setup& setup,
                        const Inspect& inspect = {}) {
  Machine m(options);
  // The program outlives the machine's fibers: ~Machine unwinds them.
  const Machine::Program program = setup(m);
  Recorded r{.report = m.Run(program, oracle)};
  r.hash = m.log().hash();
  r.schedule.assign(m.schedule().begin(), m.schedule().end());
  r.events.assign(m.log().events().begin(), m.log().events().end());
  r.worst_wait = m.worst_wait();
  if (inspect) inspect(m);
  return r;
}

// Runs with a fresh oracle from `oracle` (its cpus set to the machine's).
inline Recorded RunWith(const MachineOptions& options, OracleOptions oracle, const Setup& setup,
                        const Inspect& inspect = {}) {
  oracle.cpus = options.cpus;
  std::unique_ptr<Oracle> o = MakeOracle(oracle);
  return RunWith(options, *o, setup, inspect);
}

// A replay oracle over `choices`, named "test" in its errors.
inline std::unique_ptr<Oracle> ReplayOf(std::span<const CpuId> choices) {
  return MakeOracle({.kind = OracleKind::kReplay,
                     .replay = std::vector<CpuId>(choices.begin(), choices.end()),
                     .replay_source = "test"});
}

// The events of one CPU.
inline std::vector<Event> EventsOf(std::span<const Event> events, CpuId cpu) {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (e.cpu == cpu) out.push_back(e);
  }
  return out;
}

// ------------------------------------------------------------ programs

// A program that uses every shared operation: a spinlock, a block under it,
// a counter and a swap word. Its objects are lock = 0, data = 1, counter = 2,
// last = 3. Whatever the schedule, at the end data[0] = rounds * cpus and
// counter = rounds * (1 + 2 + ... + cpus).
inline Setup Mixed(int rounds) {
  return [=](Machine& m) {
    Word lock = m.NewWord("lock");
    Block data = m.NewBlock("data", 4);
    Word counter = m.NewWord("counter");
    Word last = m.NewWord("last", -1);
    return [=](Cpu& cpu) {
      const int id = cpu.id().value();
      for (int r = 0; r < rounds; ++r) {
        Lock(cpu, lock);
        cpu.Pull(data);
        cpu.Write(data, 0, cpu.Read(data, 0) + 1);
        const std::size_t slot = 1 + static_cast<std::size_t>(id % 3);
        cpu.Write(data, slot, cpu.Read(data, slot) + id);
        cpu.Push(data);
        Unlock(cpu, lock);
        cpu.FetchAdd(counter, id + 1);
        std::int64_t prev = cpu.Swap(last, id);
        if (cpu.Load(counter) % 2 == 0) cpu.CompareSwap(last, id, prev);
      }
    };
  };
}

// Each cpu pulls, bumps and pushes a block with no lock: racy with 2+ cpus.
inline Setup RacyPush() {
  return [](Machine& m) {
    Block data = m.NewBlock("data", 1);
    return [=](Cpu& cpu) {
      cpu.Pull(data);
      cpu.Write(data, 0, cpu.Read(data, 0) + 1);
      cpu.Push(data);
    };
  };
}

// cpu 0 takes lock_a then lock_b, cpu 1 the other way round; others idle.
inline Setup OppositeOrder() {
  return [](Machine& m) {
    Word a = m.NewWord("lock_a");
    Word b = m.NewWord("lock_b");
    return [=](Cpu& cpu) {
      if (cpu.id().value() > 1) return;
      Word first = cpu.id().value() == 0 ? a : b;
      Word second = cpu.id().value() == 0 ? b : a;
      Lock(cpu, first);
      Lock(cpu, second);
      Unlock(cpu, second);
      Unlock(cpu, first);
    };
  };
}

}  // namespace strata::machine::testing

#endif  // STRATA_TESTS_MACHINE_TEST_UTIL_H_
