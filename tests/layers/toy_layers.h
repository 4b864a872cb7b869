// A toy layer pair for testing the generic layer calculus (layers/) on the
// bare machine, with no kernel code: an atomic counter.
//
// Upper layer ("counter spec"): one primitive inc() -> the old value, one
// atomic step INC on the abstract object `counter`. Its replay
// (CounterSpecReplay) is the count; it rejects a return value that the
// counter never had (negative, or not below the count) and any event on the
// module's hidden word (the word does not exist above the border).
//
// Lower layer: a shared word `counter.word`. Its replay (kept by
// CounterAbstraction) is the word's value; it rejects a load or fetch-and-add
// whose result is not the value, and a write to the word by an agent (thread,
// else CPU) that is not inside an inc call: the word is the module's.
//
// The log map f: an inc's linearization point is its write of the word
// (INC_WORD, a fetch-and-add, or SET_WORD, a store), which the module flags
// with Cpu::Linearize. R: the word holds the
// spec's count. Liveness: an inc returns within 2 * F steps.
//
// Modules: kFaa is correct; the others are the known-bad corpus, each with
// the one verdict it must get (see ModuleName for what each does wrong).
//
// Clients: kIncs (every CPU does `iterations` incs and stores each result in
// its own word out[cpu]) and kPreemptedCall (CPU 0 opens an inc as thread
// `thread_a`, is preempted by thread `thread_b`, which does a whole inc, then
// finishes thread_a's inc; the other CPUs run kIncs).
//
// Simulated code must not use doctest's REQUIRE (it throws on a fiber); the
// toy never asserts inside a run.
#ifndef STRATA_TESTS_LAYERS_TOY_LAYERS_H_
#define STRATA_TESTS_LAYERS_TOY_LAYERS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "layers/layer.h"
#include "layers/refinement.h"
#include "machine/event.h"
#include "machine/ids.h"
#include "machine/machine.h"
#include "machine/replay.h"
#include "machine/schedule.h"

// Ids print as their number in doctest's failure messages.
namespace doctest {
template <class Tag>
struct StringMaker<strata::machine::StrongId<Tag>> {
  static String convert(strata::machine::StrongId<Tag> id) {
    return fmt::format("{}", id).c_str();
  }
};
}  // namespace doctest

namespace strata::layers::toy {

using machine::ThreadId;
using machine::Word;

namespace kinds {
inline constexpr EventKind kCallInc{"call inc"};
inline constexpr EventKind kRetInc{"ret inc"};
inline constexpr EventKind kInc{"INC"};            // the spec's one step
inline constexpr EventKind kIncWord{"INC_WORD"};   // fetch-and-add of the word
inline constexpr EventKind kGetWord{"GET_WORD"};   // load of the word
inline constexpr EventKind kSetWord{"SET_WORD"};   // store of the word
inline constexpr EventKind kSpinWord{"SPIN_WORD"}; // a wait on the word
inline constexpr EventKind kOut{"OUT"};            // the client's store of a result
}  // namespace kinds

inline constexpr Primitive kInc{"inc", kinds::kCallInc, kinds::kRetInc, kinds::kInc};
inline constexpr Primitive kPrimitives[] = {kInc};

enum class Module {
  kFaa,                // correct: one fetch-and-add
  kLoadStore,          // lost update: load, then store load + 1
  kNoLinearization,    // loads the word and returns it, never writes
  kTwoLinearizations,  // two fetch-and-adds of 1, returns the first's old value
  kByTwo,              // fetch-and-add of 2
  kReturnsNew,         // fetch-and-add, returns the new value
  kReturnsZero,        // fetch-and-add, returns 0
  kEarlyStep,          // takes its fetch-and-add before its call marker
  kReentrant,          // calls inc (the correct one) inside its own inc
  kDoubleReturn,       // returns twice
  kSlow,               // 40 loads before its fetch-and-add
  kAwaitNever,         // waits for the word to be -1, which it never is
  kSpin,               // loads the word forever
  kLeaky,              // correct, but tags its step with state kept across runs
  kWrongArgument,      // correct steps, but marks its call with argument 7
  kLastCpuFirst,       // fetch-and-add, but the highest cpu's returns 1 where it reads 0: wrong
                       // only when it increments before every other cpu (dfs's last branch)
  kStaleRead,          // loads the word, then fetch-and-adds, and returns what it loaded: a
                       // return mismatch (the spec run's) only when another cpu's inc came
                       // in between, in a mapped log otherwise like a correct run's
};

inline const char* ModuleName(Module m) {
  switch (m) {
    case Module::kFaa: return "faa";
    case Module::kLoadStore: return "load-store";
    case Module::kNoLinearization: return "no-linearization";
    case Module::kTwoLinearizations: return "two-linearizations";
    case Module::kByTwo: return "by-two";
    case Module::kReturnsNew: return "returns-new";
    case Module::kReturnsZero: return "returns-zero";
    case Module::kEarlyStep: return "early-step";
    case Module::kReentrant: return "reentrant";
    case Module::kDoubleReturn: return "double-return";
    case Module::kSlow: return "slow";
    case Module::kAwaitNever: return "await-never";
    case Module::kSpin: return "spin";
    case Module::kLeaky: return "leaky";
    case Module::kWrongArgument: return "wrong-argument";
    case Module::kLastCpuFirst: return "last-cpu-first";
    case Module::kStaleRead: return "stale-read";
  }
  return "?";
}

enum class Client { kIncs, kPreemptedCall };

struct CounterOptions {
  Module module = Module::kFaa;
  Client client = Client::kIncs;
  int iterations = 2;
  // kPreemptedCall: the threads of the preempted and the preempting call on
  // CPU 0 (-1: none, the events then carry no thread).
  int thread_a = 0;
  int thread_b = 1;
  // A client that expects this many incs more than it makes (its final check
  // then fails although the module may refine).
  std::int64_t expect_extra = 0;
  // LayerPair::seeded: the client draws nothing, so this is true only to
  // test what the default gives.
  bool seeded = true;
};

inline constexpr int kSlowLoads = 40;
inline constexpr std::uint64_t kIncCost = 2;  // steps of F-fair waiting an inc may take

// The counter spec's replay of the upper log.
struct CounterSpecReplay {
  using State = std::int64_t;  // the count
  ObjectId counter;
  ObjectId hidden;  // the module's word, or none (on the spec side)
  State Init() const { return 0; }
  bool Step(State& count, const Event& e) const {
    if (hidden.valid() && e.object == hidden) return false;
    if (e.object != counter) return true;  // the client's own objects
    if (e.kind == kinds::kInc && !e.marker()) {
      ++count;
      return true;
    }
    if (e.kind == kinds::kRetInc) return e.marker() && e.result >= 0 && e.result < count;
    return e.kind == kinds::kCallInc && e.marker();
  }
};

// The check's state for one module run: the word's replay, the spec's
// replay, R and the liveness bound.
class CounterAbstraction final : public Observer {
 public:
  CounterAbstraction(ObjectId counter, ObjectId word, std::uint64_t fairness)
      : counter_(counter),
        word_(word),
        bound_(kIncCost * fairness),
        spec_{.counter = counter, .hidden = word},
        count_(spec_.Init()) {}

  bool ObserveLower(const Event& e) override {
    const std::int64_t agent = e.thread.valid() ? 1'000'000 + e.thread.value() : e.cpu.value();
    if (e.marker() && e.object == counter_) {
      if (e.kind == kinds::kCallInc) ++depth_[agent];
      if (e.kind == kinds::kRetInc && depth_[agent] > 0) --depth_[agent];
      return true;
    }
    if (e.object != word_) return true;
    if (e.kind == kinds::kGetWord || e.kind == kinds::kSpinWord) return e.result == value_;
    if (depth_[agent] == 0) return false;  // a write of the word outside an inc
    if (e.kind == kinds::kIncWord) {
      if (e.result != value_) return false;
      value_ += e.arg0;
      return true;
    }
    if (e.kind == kinds::kSetWord) {
      value_ = e.arg0;
      return true;
    }
    return false;
  }

  bool ObserveUpper(const Event& e) override { return spec_.Step(count_, e); }

  std::optional<std::string> Relation() const override {
    if (value_ == count_) return std::nullopt;
    return fmt::format("the word holds {} but the spec's count is {}", value_, count_);
  }
  std::string DescribeLower() const override { return fmt::format("word={}", value_); }
  std::string DescribeUpper() const override { return fmt::format("count={}", count_); }
  std::optional<std::uint64_t> WaitBound(CpuId, const Primitive&) const override {
    return bound_;
  }

 private:
  ObjectId counter_, word_;
  std::uint64_t bound_;
  CounterSpecReplay spec_;
  std::int64_t count_;
  std::int64_t value_ = 0;
  std::map<std::int64_t, int> depth_;  // open inc calls per agent
};

// The module's writes of the word: each is its inc's linearization point.
inline std::int64_t IncWord(Cpu& cpu, Word word, std::int64_t delta, std::int64_t note = 0) {
  const std::int64_t old = cpu.FetchAdd(word, delta, kinds::kIncWord, note);
  cpu.Linearize();
  return old;
}
inline void SetWord(Cpu& cpu, Word word, std::int64_t value) {
  cpu.Store(word, value, kinds::kSetWord);
  cpu.Linearize();
}

// The module's inc, markers included.
inline std::int64_t ModuleInc(Cpu& cpu, Module module, ObjectId counter, Word word) {
  std::int64_t old = 0;
  if (module == Module::kEarlyStep) {
    old = IncWord(cpu, word, 1);
    MarkCall(cpu, counter, kInc);
    MarkReturn(cpu, counter, kInc, old);
    return old;
  }
  MarkCall(cpu, counter, kInc, module == Module::kWrongArgument ? 7 : 0);
  std::int64_t result = 0;
  switch (module) {
    case Module::kFaa:
    case Module::kEarlyStep:
    case Module::kWrongArgument:
      old = IncWord(cpu, word, 1);
      result = old;
      break;
    case Module::kLoadStore:
      old = cpu.Load(word, kinds::kGetWord);
      SetWord(cpu, word, old + 1);
      result = old;
      break;
    case Module::kNoLinearization:
      result = cpu.Load(word, kinds::kGetWord);
      break;
    case Module::kTwoLinearizations:
      result = IncWord(cpu, word, 1);
      IncWord(cpu, word, 1);
      break;
    case Module::kByTwo:
      result = IncWord(cpu, word, 2);
      break;
    case Module::kReturnsNew:
      result = IncWord(cpu, word, 1) + 1;
      break;
    case Module::kReturnsZero:
      IncWord(cpu, word, 1);
      result = 0;
      break;
    case Module::kLastCpuFirst:
      result = IncWord(cpu, word, 1);
      if (result == 0 && cpu.id().value() + 1 == cpu.machine().cpus()) result = 1;
      break;
    case Module::kStaleRead:
      result = cpu.Load(word, kinds::kGetWord);
      IncWord(cpu, word, 1);
      break;
    case Module::kReentrant:
      result = ModuleInc(cpu, Module::kFaa, counter, word);
      break;
    case Module::kDoubleReturn:
      result = IncWord(cpu, word, 1);
      MarkReturn(cpu, counter, kInc, result);
      break;
    case Module::kSlow:
      for (int i = 0; i < kSlowLoads; ++i) cpu.Load(word, kinds::kGetWord);
      result = IncWord(cpu, word, 1);
      break;
    case Module::kAwaitNever:
      cpu.AwaitValue(word, -1, kinds::kSpinWord);
      result = IncWord(cpu, word, 1);
      break;
    case Module::kSpin:
      for (;;) cpu.Load(word, kinds::kSpinWord);
    case Module::kLeaky: {
      static std::int64_t leaked = 0;  // survives from run to run: the flaw
      result = IncWord(cpu, word, 1, ++leaked);
      break;
    }
  }
  MarkReturn(cpu, counter, kInc, result);
  return result;
}

// The spec's inc: one atomic step.
inline std::int64_t SpecInc(Cpu& cpu, ObjectId counter, std::int64_t& count) {
  MarkCall(cpu, counter, kInc);
  std::int64_t old = 0;
  cpu.Step({.object = counter, .kind = kinds::kInc, .apply = [&] {
              old = count++;
              return std::int64_t{0};
            }});
  MarkReturn(cpu, counter, kInc, old);
  return old;
}

class CounterPair final : public LayerPair {
 public:
  explicit CounterPair(CounterOptions o) : o_(o) {}
  std::string name() const override { return "counter"; }
  std::string lower() const override {
    return fmt::format("{} over the machine", ModuleName(o_.module));
  }
  std::string upper() const override { return "counter spec"; }
  std::span<const Primitive> primitives() const override { return kPrimitives; }
  bool seeded() const override { return o_.seeded; }

  // Incs the client makes on a machine of `cpus` CPUs.
  std::int64_t Calls(int cpus) const {
    const std::int64_t plain = static_cast<std::int64_t>(cpus) * o_.iterations;
    if (o_.client == Client::kPreemptedCall) return plain - o_.iterations + 2;
    return plain;
  }

  SideRun SetUp(Machine& m, Side side) const override {
    const ObjectId counter = m.NewObject("counter");
    std::vector<Word> out;
    for (int c = 0; c < m.cpus(); ++c) out.push_back(m.NewWord(fmt::format("out[{}]", c)));
    const bool module = side == Side::kModule;
    const Word word = module ? m.NewWord("counter.word") : Word{};
    auto count = std::make_shared<std::int64_t>(0);
    if (!module) {
      m.AddMonitor(counter, std::make_unique<machine::ReplayMonitor<CounterSpecReplay>>(
                                CounterSpecReplay{.counter = counter}));
    }
    const CounterOptions o = o_;
    SideRun run;
    run.program = [=](Cpu& cpu) {
      auto inc = [&](Cpu& c) {
        return module ? ModuleInc(c, o.module, counter, word) : SpecInc(c, counter, *count);
      };
      const std::size_t me = cpu.id().index();
      if (o.client == Client::kPreemptedCall && cpu.id() == CpuId(0)) {
        auto thread = [](int t) { return t >= 0 ? ThreadId(t) : ThreadId(); };
        cpu.set_thread(thread(o.thread_a));
        MarkCall(cpu, counter, kInc);
        if (module) cpu.Load(word, kinds::kGetWord);  // inside the call, not its point
        cpu.set_thread(thread(o.thread_b));
        cpu.Store(out[me], inc(cpu), kinds::kOut);
        cpu.set_thread(thread(o.thread_a));
        std::int64_t old = 0;
        if (module) {
          old = IncWord(cpu, word, 1);
        } else {
          cpu.Step({.object = counter, .kind = kinds::kInc, .apply = [&] {
                      old = (*count)++;
                      return std::int64_t{0};
                    }});
        }
        MarkReturn(cpu, counter, kInc, old);
        cpu.Store(out[me], old, kinds::kOut);
        cpu.set_thread(ThreadId());
        return;
      }
      for (int i = 0; i < o.iterations; ++i) cpu.Store(out[me], inc(cpu), kinds::kOut);
    };
    if (module) {
      run.observe = [counter, word, &m]() -> std::unique_ptr<Observer> {
        return std::make_unique<CounterAbstraction>(counter, word.id, m.fairness_bound());
      };
    }
    const std::int64_t want = Calls(m.cpus()) + o.expect_extra;
    run.final_check = [&m, module, word, count, want]() -> std::optional<std::string> {
      const std::int64_t got = module ? m.value(word) : *count;
      if (got == want) return std::nullopt;
      return fmt::format("the counter is {} at the end, expected {}", got, want);
    };
    return run;
  }

 private:
  CounterOptions o_;
};

// ------------------------------------------------------------ test helpers

inline std::unique_ptr<machine::Oracle> OracleOf(machine::OracleKind kind, int cpus,
                                                 std::uint64_t seed = 1) {
  return machine::MakeOracle(
      {.kind = kind, .seed = seed, .cpus = cpus, .pct_depth = 3, .pct_horizon = 40});
}

inline Execution Check(const CounterOptions& o, const machine::MachineOptions& options,
                       machine::Oracle& oracle, Checking checking = Checking::kCheck) {
  CounterPair pair(o);
  return CheckExecution(pair, options, oracle, checking);
}

// "relation-broken at t=7: ... [word=1 | count=2] schedule 0 1 0 1", for INFO.
inline std::string Show(const Execution& x) {
  if (!x.input.ok()) return x.input.ToString();
  const Verdict& v = x.verdict;
  return fmt::format("{} at t={}: {} [{} | {}] (run: {} {}) schedule {}", v.name(),
                     v.event ? fmt::format("{}", *v.event) : std::string("-"), v.message,
                     v.lower_state, v.upper_state, machine::OutcomeName(x.report.outcome),
                     x.report.message, machine::EncodeChoices(x.machine->schedule()));
}

inline std::vector<CpuId> ScheduleOf(const Execution& x) {
  return {x.machine->schedule().begin(), x.machine->schedule().end()};
}

}  // namespace strata::layers::toy

#endif  // STRATA_TESTS_LAYERS_TOY_LAYERS_H_
