// The refinement check of one execution (layers/refinement.h) on the toy
// counter pair of toy_layers.h: the correct module refines under every
// oracle, and every known-bad module gets its exact verdict at its first bad
// event.
#include "layers/refinement.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/machine.h"
#include "machine/oracle.h"
#include "tests/layers/toy_layers.h"

namespace strata::layers::toy {
namespace {

using machine::MachineOptions;
using machine::OracleKind;
using machine::Outcome;

// The position of the `n`th (from 0) event of `kind` in the lower log.
std::optional<std::uint64_t> Nth(const Execution& x, EventKind kind, int n) {
  const machine::Log& log = x.machine->log();
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log[i].kind == kind && n-- == 0) return i;
  }
  return std::nullopt;
}

int CountKind(std::span<const Event> events, EventKind kind) {
  int n = 0;
  for (const Event& e : events) n += e.kind == kind;
  return n;
}

// What must hold of a run of the correct module that refines.
void CheckRefines(const Execution& x, const CounterPair& pair, int cpus) {
  INFO(Show(x));
  REQUIRE(x.input.ok());
  CHECK(x.verdict.kind == machine::Outcome::kRefines);
  CHECK(x.verdict.ok());
  CHECK(x.report.ok());
  const machine::Log& log = x.machine->log();
  const std::int64_t calls = pair.Calls(cpus);
  // One call marker, one return marker and one atomic INC per call; the
  // module's own steps are gone from the mapped log.
  CHECK(CountKind(log.events(), kinds::kCallInc) == calls);
  CHECK(CountKind(log.events(), kinds::kRetInc) == calls);
  CHECK(CountKind(x.mapped, kinds::kInc) == calls);
  CHECK(CountKind(x.mapped, kinds::kCallInc) == calls);
  CHECK(CountKind(x.mapped, kinds::kRetInc) == calls);
  CHECK(CountKind(x.mapped, kinds::kIncWord) == 0);
  CHECK(CountKind(x.mapped, kinds::kGetWord) == 0);
  // The image: every linearization point maps to an INC on the counter,
  // internal steps to nothing, the rest to an equal event.
  REQUIRE(x.image.size() == log.size());
  std::int64_t last = -1;
  for (std::size_t i = 0; i < log.size(); ++i) {
    CAPTURE(i);
    const Event& e = log[i];
    const std::int64_t at = x.image[i];
    if (e.kind == kinds::kGetWord) {
      CHECK(at == -1);
      continue;
    }
    REQUIRE(at >= 0);
    REQUIRE(static_cast<std::size_t>(at) < x.mapped.size());
    CHECK(at > last);  // f keeps the order of the log
    last = at;
    const Event& u = x.mapped[static_cast<std::size_t>(at)];
    CHECK(u.seq == static_cast<std::uint64_t>(at));
    CHECK(u.cpu == e.cpu);
    CHECK(u.thread == e.thread);
    if (e.kind == kinds::kIncWord || e.kind == kinds::kSetWord) {
      CHECK(u.kind == kinds::kInc);
      CHECK(u.object == x.machine->FindObject("counter"));
      CHECK_FALSE(u.marker());
      CHECK(u.result == 0);
    } else {
      CHECK(u.kind == e.kind);
      CHECK(u.object == e.object);
      CHECK(u.marker() == e.marker());
      CHECK(u.result == e.result);
    }
  }
  CHECK(x.wait_bound > 0);
  CHECK(x.worst_wait <= x.wait_bound);
}

TEST_CASE("the fetch-and-add counter refines the counter spec under every oracle on 1 to 4 cpus") {
  const CounterPair pair({.module = Module::kFaa, .iterations = 3});
  for (int cpus = 1; cpus <= 4; ++cpus) {
    CAPTURE(cpus);
    {
      auto oracle = OracleOf(OracleKind::kRoundRobin, cpus);
      CheckRefines(CheckExecution(pair, {.cpus = cpus}, *oracle), pair, cpus);
    }
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      CAPTURE(seed);
      for (OracleKind kind : {OracleKind::kRandom, OracleKind::kPct}) {
        CAPTURE(machine::OracleKindName(kind));
        auto oracle = OracleOf(kind, cpus, seed);
        CheckRefines(CheckExecution(pair, {.cpus = cpus}, *oracle), pair, cpus);
      }
    }
  }
}

TEST_CASE("the load-then-store counter refines alone but loses an update with two cpus") {
  const CounterPair pair({.module = Module::kLoadStore, .iterations = 2});
  {
    // One CPU: no interleaving, and the load is an internal step f drops.
    auto oracle = OracleOf(OracleKind::kRoundRobin, 1);
    const Execution x = CheckExecution(pair, {.cpus = 1}, *oracle);
    CheckRefines(x, pair, 1);
    CHECK(CountKind(x.machine->log().events(), kinds::kGetWord) == 2);
  }
  // Round-robin runs the two loads before either store: cpu 1's store writes
  // the 1 that cpu 0 already wrote, and its return finds R broken.
  auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
  const Execution x = CheckExecution(pair, {.cpus = 2}, *oracle);
  INFO(Show(x));
  REQUIRE(x.input.ok());
  CHECK(x.verdict.kind == machine::Outcome::kRelationBroken);
  CHECK(x.verdict.name() == "relation-broken");
  CHECK(x.verdict.message.find("the word holds 1 but the spec's count is 2") !=
        std::string::npos);
  CHECK(x.verdict.event == Nth(x, kinds::kRetInc, 1));
  CHECK(x.verdict.lower_state == "word=1");
  CHECK(x.verdict.upper_state == "count=2");
}

struct Bad {
  Module module;
  int cpus;
  machine::Outcome kind;
  const char* name;
  const char* message_part;
  // The kind and occurrence (from 0 in the lower log; -1: any, it depends on
  // the schedule) of the lower event the verdict must name. An empty kind:
  // the verdict names no event (a failure of the whole lower run).
  EventKind event_kind;
  int occurrence = 0;
  std::uint64_t max_steps = 1'000'000;
  // Found by comparing the whole mapped log with the spec's (a return value
  // or an argument that differs), after the walk: it names the lower event
  // the differing one came from, but the walk went on past it.
  bool at_end = false;
};

TEST_CASE("every known-bad counter module gets its exact verdict at its first bad event") {
  const Bad corpus[] = {
      {Module::kNoLinearization, 1, machine::Outcome::kRefinementViolation, "refinement-violation",
       "returned without its linearization point", kinds::kRetInc, 0},
      {Module::kNoLinearization, 3, machine::Outcome::kRefinementViolation, "refinement-violation",
       "returned without its linearization point", kinds::kRetInc, 0},
      {Module::kTwoLinearizations, 1, machine::Outcome::kRefinementViolation, "refinement-violation",
       "has a second linearization point", kinds::kIncWord, 1},
      {Module::kTwoLinearizations, 2, machine::Outcome::kRefinementViolation, "refinement-violation",
       "has a second linearization point", kinds::kIncWord, -1},
      {Module::kReentrant, 2, machine::Outcome::kRefinementViolation, "refinement-violation",
       "calls `call inc` inside its call of `inc`", kinds::kCallInc, 1},
      {Module::kDoubleReturn, 2, machine::Outcome::kRefinementViolation, "refinement-violation",
       "returns from `inc` it never called", kinds::kRetInc, 1},
      {Module::kByTwo, 1, machine::Outcome::kRelationBroken, "relation-broken",
       "the word holds 2 but the spec's count is 1", kinds::kRetInc, 0},
      {Module::kByTwo, 4, machine::Outcome::kRelationBroken, "relation-broken",
       "the word holds 2 but the spec's count is 1", kinds::kRetInc, 0},
      {Module::kReturnsNew, 1, machine::Outcome::kImpossibleUpperLog, "impossible-upper-log",
       "the spec does not allow `cpu=0 | ret inc counter (0, 0) -> 1`", kinds::kRetInc, 0},
      {Module::kReturnsNew, 3, machine::Outcome::kImpossibleUpperLog, "impossible-upper-log",
       "the spec does not allow", kinds::kRetInc, 0},
      {Module::kReturnsZero, 1, machine::Outcome::kReturnMismatch, "return-mismatch",
       "cpu 0's `inc` on `counter` returned 0, the spec returns 1", kinds::kRetInc, 1, 1'000'000, true},
      {Module::kReturnsZero, 3, machine::Outcome::kReturnMismatch, "return-mismatch",
       "returned 0, the spec returns", kinds::kRetInc, -1, 1'000'000, true},
      {Module::kWrongArgument, 1, machine::Outcome::kRefinementViolation, "refinement-violation",
       "cpu 0's event 0 differs: module `cpu=0 | call inc counter (7, 0) -> 0`, spec `cpu=0 | "
       "call inc counter (0, 0) -> 0`",
       kinds::kCallInc, 0, 1'000'000, true},
      {Module::kWrongArgument, 3, machine::Outcome::kRefinementViolation, "refinement-violation",
       "cpu 0's event 0 differs", kinds::kCallInc, -1, 1'000'000, true},
      {Module::kEarlyStep, 1, machine::Outcome::kImpossibleLowerLog, "impossible-lower-log",
       "the module's replay rejects", kinds::kIncWord, 0},
      {Module::kEarlyStep, 2, machine::Outcome::kImpossibleLowerLog, "impossible-lower-log",
       "the module's replay rejects", kinds::kIncWord, 0},
      {Module::kSlow, 1, machine::Outcome::kStarvation, "starvation",
       "cpu 0's `inc` took 41 steps, more than its bound of 16", kinds::kRetInc, 0},
      {Module::kSlow, 2, machine::Outcome::kStarvation, "starvation", "more than its bound of 32",
       kinds::kRetInc, 0},
      {Module::kAwaitNever, 1, machine::Outcome::kDeadlock, "deadlock",
       "1 cpus wait and none can run", EventKind(), 0},
      {Module::kAwaitNever, 3, machine::Outcome::kDeadlock, "deadlock",
       "3 cpus wait and none can run", EventKind(), 0},
      {Module::kSpin, 2, machine::Outcome::kStepBudget, "step-budget",
       "still running after the step budget of 300 steps", EventKind(), 0, 300},
  };
  for (const Bad& b : corpus) {
    for (std::uint64_t seed = 0; seed <= 10; ++seed) {
      CAPTURE(ModuleName(b.module));
      CAPTURE(b.cpus);
      CAPTURE(seed);  // 0: round-robin, else random
      const CounterPair pair({.module = b.module, .iterations = 2});
      auto oracle = seed == 0 ? OracleOf(OracleKind::kRoundRobin, b.cpus)
                              : OracleOf(OracleKind::kRandom, b.cpus, seed);
      const Execution x = CheckExecution(pair, {.cpus = b.cpus, .max_steps = b.max_steps}, *oracle);
      INFO(Show(x));
      REQUIRE(x.input.ok());
      const Verdict& v = x.verdict;
      CHECK_FALSE(v.ok());
      CHECK(v.kind == b.kind);
      CHECK(v.name() == b.name);
      CHECK_FALSE(v.message.empty());
      CHECK(v.message.find(b.message_part) != std::string::npos);
      CHECK_FALSE(v.lower_state.empty());
      CHECK_FALSE(v.upper_state.empty());
      if (b.kind == x.report.outcome) {  // a failure of the lower run itself
        CHECK(v.message == x.report.message);
      }
      if (b.event_kind == EventKind()) {
        CHECK_FALSE(v.event.has_value());
        continue;
      }
      REQUIRE(v.event.has_value());
      REQUIRE(*v.event < x.machine->log().size());
      const Event& bad = x.machine->log()[*v.event];
      CHECK(bad.kind == b.event_kind);
      if (b.occurrence >= 0) CHECK(v.event == Nth(x, b.event_kind, b.occurrence));
      CHECK(bad.cpu == v.cpus.at(0));
      if (b.at_end) continue;
      // The walk stops at the first bad event: nothing after it is mapped.
      CHECK(x.image.size() == x.machine->log().size());
      for (std::size_t i = *v.event + 1; i < x.image.size(); ++i) CHECK(x.image[i] == -1);
    }
  }
}

TEST_CASE("the two-linearization module is caught at the second step of the call that takes it") {
  // With several CPUs which call first reaches its second fetch-and-add
  // depends on the schedule; it is always that CPU's second INC_WORD since
  // its own call marker.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    auto oracle = OracleOf(OracleKind::kRandom, 3, seed);
    const Execution x = Check({.module = Module::kTwoLinearizations}, {.cpus = 3}, *oracle);
    INFO(Show(x));
    REQUIRE(x.input.ok());
    CHECK(x.verdict.kind == machine::Outcome::kRefinementViolation);
    REQUIRE(x.verdict.event.has_value());
    const machine::Log& log = x.machine->log();
    const Event& bad = log[*x.verdict.event];
    CHECK(bad.kind == kinds::kIncWord);
    CHECK(x.verdict.message.find(fmt::format("cpu {}'s `inc` has a second linearization point",
                                             bad.cpu)) != std::string::npos);
    int own_steps = 0;
    bool found_call = false;
    for (std::size_t i = *x.verdict.event; i-- > 0;) {
      if (log[i].cpu != bad.cpu) continue;
      if (log[i].kind == kinds::kCallInc) {
        found_call = true;
        break;
      }
      own_steps += log[i].kind == kinds::kIncWord;
    }
    CHECK(found_call);
    CHECK(own_steps == 1);
  }
}

TEST_CASE("run outcomes and check verdicts are one vocabulary with one name table") {
  const std::string all = machine::OutcomeNames();
  std::vector<std::string> names;
  for (std::size_t from = 0;;) {
    const std::size_t comma = all.find(", ", from);
    names.push_back(all.substr(from, comma - from));
    if (comma == std::string::npos) break;
    from = comma + 2;
  }
  // Twelve ways a run ends plus ten ways a check ends.
  CHECK(names.size() == 22);
  std::set<std::string> distinct(names.begin(), names.end());
  CHECK(distinct.size() == names.size());
  for (const std::string& name : names) {
    CAPTURE(name);
    std::optional<machine::Outcome> o = machine::ParseOutcome(name);
    REQUIRE(o.has_value());
    CHECK(machine::OutcomeName(*o) == name);
    const Verdict v{.kind = *o};
    CHECK(v.name() == name);
    CHECK(v.ok() == (name == "refines"));
  }
  CHECK_FALSE(machine::ParseOutcome("bogus").has_value());
  CHECK_FALSE(machine::ParseOutcome("").has_value());
  CHECK_FALSE(machine::ParseOutcome("Deadlock").has_value());
  // What shrinking preserves: the kind.
  const Verdict deadlock{.kind = machine::Outcome::kDeadlock};
  CHECK(deadlock.SameKind(Verdict{.kind = machine::Outcome::kDeadlock, .message = "other"}));
  CHECK_FALSE(deadlock.SameKind(Verdict{.kind = machine::Outcome::kStepBudget}));
  CHECK_FALSE(Verdict{.kind = machine::Outcome::kStarvation}.SameKind(
      Verdict{.kind = machine::Outcome::kRelationBroken}));
}

TEST_CASE("with check off only the module side runs, and the final check still applies") {
  auto run = [](Module module, bool check) {
    auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
    return Check({.module = module, .iterations = 2}, {.cpus = 2}, *oracle,
                 check ? Checking::kCheck : Checking::kRun);
  };
  {
    // The lost update leaves the word short of the 4 incs made.
    const Execution x = run(Module::kLoadStore, false);
    INFO(Show(x));
    REQUIRE(x.input.ok());
    CHECK(x.report.outcome == Outcome::kWrongResult);
    CHECK(x.report.message == "the counter is 2 at the end, expected 4");
    CHECK(x.verdict.ok());  // nothing was checked
    CHECK(x.mapped.empty());
    CHECK(x.image.empty());
    CHECK(x.worst_wait == 0);
    CHECK(x.machine->value(Word{x.machine->FindObject("counter.word")}) == 2);
  }
  {
    // Checked, the same run fails earlier, at the event that breaks R.
    const Execution x = run(Module::kLoadStore, true);
    INFO(Show(x));
    CHECK(x.verdict.kind == machine::Outcome::kRelationBroken);
    CHECK_FALSE(x.mapped.empty());
  }
  {
    const Execution x = run(Module::kFaa, false);
    INFO(Show(x));
    CHECK(x.report.ok());
    CHECK(x.verdict.ok());
    CHECK(x.mapped.empty());
  }
}

TEST_CASE("a client whose final check fails is a wrong-result lower failure after a refining run") {
  for (bool check : {false, true}) {
    CAPTURE(check);
    auto oracle = OracleOf(OracleKind::kRandom, 2, 5);
    const Execution x =
        Check({.module = Module::kFaa, .iterations = 2, .expect_extra = 1}, {.cpus = 2}, *oracle,
              check ? Checking::kCheck : Checking::kRun);
    INFO(Show(x));
    REQUIRE(x.input.ok());
    CHECK(x.report.outcome == Outcome::kWrongResult);
    CHECK(x.report.message == "the counter is 4 at the end, expected 5");
    if (check) {
      CHECK(x.verdict.kind == Outcome::kWrongResult);
      CHECK(x.verdict.name() == "wrong-result");
      CHECK(x.verdict.message == x.report.message);
      CHECK_FALSE(x.verdict.event.has_value());
      // Everything before the final check passed: the whole log was mapped.
      CHECK(CountKind(x.mapped, kinds::kInc) == 4);
    } else {
      CHECK(x.verdict.ok());
    }
  }
}

TEST_CASE("calls are open per thread: a thread's call may span another thread's call on its cpu") {
  // cpu 0: thread a calls inc and loads the word; thread b (same cpu) makes
  // a whole inc; thread a takes its fetch-and-add and returns. The other
  // cpus make plain incs.
  for (int cpus = 1; cpus <= 3; ++cpus) {
    for (std::uint64_t seed = 0; seed <= 10; ++seed) {
      CAPTURE(cpus);
      CAPTURE(seed);  // 0: round-robin, else random
      const CounterPair pair({.client = Client::kPreemptedCall, .iterations = 2});
      auto oracle = seed == 0 ? OracleOf(OracleKind::kRoundRobin, cpus)
                              : OracleOf(OracleKind::kRandom, cpus, seed);
      const Execution x = CheckExecution(pair, {.cpus = cpus}, *oracle);
      CheckRefines(x, pair, cpus);
      // The two calls were open at once on cpu 0.
      const machine::Log& log = x.machine->log();
      const std::optional<std::uint64_t> a_call = Nth(x, kinds::kCallInc, 0);
      REQUIRE(a_call.has_value());
      CHECK(log[*a_call].cpu == CpuId(0));
      CHECK(log[*a_call].thread == ThreadId(0));
      std::vector<machine::ThreadId> order;  // cpu 0's call and return markers
      for (const Event& e : log.events()) {
        if (e.cpu == CpuId(0) && e.marker()) order.push_back(e.thread);
      }
      CHECK(order == std::vector<machine::ThreadId>{ThreadId(0), ThreadId(1), ThreadId(1),
                                                    ThreadId(0)});
      // Thread a's inc returned after thread b's: b got 0 or more, a more.
      std::vector<std::int64_t> cpu0_returns;
      for (const Event& e : log.events()) {
        if (e.cpu == CpuId(0) && e.kind == kinds::kRetInc) cpu0_returns.push_back(e.result);
      }
      REQUIRE(cpu0_returns.size() == 2);
      CHECK(cpu0_returns[0] < cpu0_returns[1]);
    }
  }
}

TEST_CASE("without distinct threads the same nesting is a call inside a call") {
  // The same program with both calls made by one thread, or by no thread
  // (the cpu is the agent), must still be caught.
  for (int thread : {-1, 3}) {
    CAPTURE(thread);
    auto oracle = OracleOf(OracleKind::kRoundRobin, 2);
    const Execution x = Check(
        {.client = Client::kPreemptedCall, .iterations = 2, .thread_a = thread, .thread_b = thread},
        {.cpus = 2}, *oracle);
    INFO(Show(x));
    REQUIRE(x.input.ok());
    CHECK(x.verdict.kind == machine::Outcome::kRefinementViolation);
    CHECK(x.verdict.message == "cpu 0 calls `call inc` inside its call of `inc`");
    // The first two call markers of cpu 0: the second one is the bad event.
    std::vector<std::uint64_t> calls;
    const machine::Log& log = x.machine->log();
    for (std::size_t i = 0; i < log.size(); ++i) {
      if (log[i].cpu == CpuId(0) && log[i].kind == kinds::kCallInc) calls.push_back(i);
    }
    REQUIRE(calls.size() >= 2);
    CHECK(x.verdict.event == calls[1]);
  }
}

TEST_CASE("a memo of passed spec runs gives every execution the verdict it has without one") {
  // A stale read returns the wrong value only where another inc came
  // between its load and its fetch-and-add: a return mismatch found by the
  // spec run, in a mapped log that differs from a passing one only in the
  // value returned.
  for (const Module module : {Module::kFaa, Module::kStaleRead}) {
    CAPTURE(ModuleName(module));
    const CounterPair pair({.module = module, .iterations = 1});
    SpecRunMemo memo;
    int passed = 0, failed = 0;
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
      CAPTURE(seed);
      auto plain_oracle = OracleOf(OracleKind::kRandom, 2, seed);
      auto memo_oracle = OracleOf(OracleKind::kRandom, 2, seed);
      const Execution plain = CheckExecution(pair, {.cpus = 2}, *plain_oracle);
      const Execution with = CheckExecution(pair, {.cpus = 2}, *memo_oracle, Checking::kCheck, &memo);
      CHECK(with.verdict.kind == plain.verdict.kind);
      CHECK(with.verdict.message == plain.verdict.message);
      CHECK(with.verdict.event == plain.verdict.event);
      if (!plain.verdict.ok()) CHECK(plain.verdict.kind == machine::Outcome::kReturnMismatch);
      (plain.verdict.ok() ? passed : failed) += 1;

    }
    CHECK(passed > 0);
    CHECK(memo.lookups() == static_cast<std::uint64_t>(passed + failed));
    CHECK(memo.hits() > 0);
    CHECK(memo.hits() < static_cast<std::uint64_t>(passed));  // each log's first run made its spec run
    if (module == Module::kStaleRead) CHECK(failed > 0);
  }
}

TEST_CASE("a memo of passed spec runs does not pass a mapped log that differs only in a returned value") {
  // Two cpus, each: load, fetch-and-add, its client's OUT of what the inc
  // returned. Both schedules map to call 0, call 1, INC 1, ret 1, INC 0,
  // ret 0, OUT 1, OUT 0; cpu 0 returns (and outputs) 1 after loading behind
  // cpu 1's inc, and a stale 0 before it.
  const CounterPair pair({.module = Module::kStaleRead, .iterations = 1});
  auto run = [&](std::vector<CpuId> schedule, SpecRunMemo* memo) {
    auto oracle = machine::MakeOracle({.kind = OracleKind::kReplay, .cpus = 2, .replay = std::move(schedule)});
    return CheckExecution(pair, {.cpus = 2}, *oracle, Checking::kCheck, memo);
  };
  SpecRunMemo memo;
  const Execution fresh = run({CpuId(1), CpuId(1), CpuId(0), CpuId(0), CpuId(1), CpuId(0)}, &memo);
  INFO(Show(fresh));
  REQUIRE(fresh.verdict.ok());
  const Execution stale = run({CpuId(0), CpuId(1), CpuId(1), CpuId(0), CpuId(1), CpuId(0)}, &memo);
  INFO(Show(stale));
  REQUIRE(stale.mapped.size() == fresh.mapped.size());
  for (std::size_t i = 0; i < fresh.mapped.size(); ++i) {
    CAPTURE(i);
    CHECK(stale.mapped[i].cpu == fresh.mapped[i].cpu);
    CHECK(stale.mapped[i].kind == fresh.mapped[i].kind);
    CHECK((stale.mapped[i].result == fresh.mapped[i].result) == (i != 5));
    CHECK((stale.mapped[i].arg0 == fresh.mapped[i].arg0) == (i != 7));
  }
  CHECK(memo.lookups() == 2);
  CHECK(memo.hits() == 0);
  CHECK(stale.verdict.kind == machine::Outcome::kReturnMismatch);
  CHECK(stale.verdict.message == "cpu 0's `inc` on `counter` returned 0, the spec returns 1");
  // The passing one is found again.
  CHECK(run({CpuId(1), CpuId(1), CpuId(0), CpuId(0), CpuId(1), CpuId(0)}, &memo).verdict.ok());
  CHECK(memo.hits() == 1);
}

TEST_CASE("a memo of spec runs holds a mapped log for its pair, options and objects only") {
  const CounterPair pair({.iterations = 1});
  const CounterPair other({.iterations = 1});
  auto run = [&](const CounterPair& p, std::uint64_t seed, const machine::MachineOptions& options) {
    auto oracle = OracleOf(OracleKind::kRandom, options.cpus, seed);
    return CheckExecution(p, options, *oracle);
  };
  const MachineOptions two{.cpus = 2};
  const Execution x = run(pair, 1, two);
  REQUIRE(x.verdict.ok());
  // A run whose mapped log differs from x's.
  std::optional<Execution> y;
  for (std::uint64_t seed = 2; seed < 100 && !y; ++seed) {
    Execution z = run(pair, seed, two);
    bool differs = z.mapped.size() != x.mapped.size();
    for (std::size_t i = 0; !differs && i < x.mapped.size(); ++i) {
      differs = z.mapped[i].cpu != x.mapped[i].cpu || z.mapped[i].kind != x.mapped[i].kind ||
                z.mapped[i].result != x.mapped[i].result;
    }
    if (differs) y = std::move(z);
  }
  REQUIRE(y.has_value());
  SpecRunMemo memo;
  CHECK_FALSE(memo.Passed(pair, two, x));
  memo.Add(pair, two, x);
  CHECK(memo.Passed(pair, two, x));
  CHECK(memo.hits() == 1);
  CHECK_FALSE(memo.Passed(pair, two, *y));
  CHECK_FALSE(memo.Passed(other, two, x));  // another pair
  CHECK_FALSE(memo.Passed(pair, {.cpus = 2, .max_steps = 5000}, x));
  CHECK_FALSE(memo.Passed(pair, {.cpus = 2, .client_seed = 9}, x));  // a seeded pair's run depends on it
  {
    // A pair whose runs never read the seed shares logs across seeds.
    const CounterPair unseeded({.iterations = 1, .seeded = false});
    SpecRunMemo shared;
    const Execution u = run(unseeded, 1, two);
    shared.Add(unseeded, two, u);
    CHECK(shared.Passed(unseeded, {.cpus = 2, .client_seed = 9}, u));
    CHECK_FALSE(shared.Passed(unseeded, {.cpus = 3, .client_seed = 9}, u));
  }
  // Not on a per-CPU machine, where it neither finds nor keeps logs.
  const MachineOptions focused{.cpus = 2, .focus = CpuId(0)};
  CHECK_FALSE(memo.Passed(pair, focused, x));
  memo.Add(pair, focused, *y);
  CHECK_FALSE(memo.Passed(pair, two, *y));
  CHECK(memo.Passed(pair, two, x));
  // A memo that few executions find anything in turns itself off.
  for (int i = 0; i < 5000; ++i) memo.Passed(pair, two, *y);
  CHECK_FALSE(memo.Passed(pair, two, x));
}

}  // namespace
}  // namespace strata::layers::toy
