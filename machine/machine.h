// The multicore machine Asm_mc: n CPUs, each a fiber on a guard-paged stack,
// sharing words, blocks and one append-only log, on one host thread.
//
// Simulated code runs on a CPU and calls the shared operations of `Cpu`.
// Each shared operation is a switch point: the CPU stops just before it and
// the oracle (wrapped in the fairness guard) picks which runnable CPU takes
// the next step. Code between shared operations is private and never
// switches. Every shared operation appends exactly one event.
//
// A CPU may block in a shared operation that is not enabled yet (for example
// `LoadWhenChanged` while the word still holds the old value); it then adds
// no events and is not runnable until an event on that object enables it, so
// spinning costs neither steps nor log entries.
//
// Failures of the simulated code end the run with a RunReport (report.h) and
// never crash the simulator.
#ifndef STRATA_MACHINE_MACHINE_H_
#define STRATA_MACHINE_MACHINE_H_

#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include <boost/context/fiber.hpp>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "machine/event.h"
#include "machine/fairness.h"
#include "machine/log.h"
#include "machine/oracle.h"
#include "machine/replay.h"
#include "machine/report.h"
#include "machine/rng.h"
#include "machine/stack_pool.h"

namespace strata::machine {

inline constexpr int kMaxCpus = 1024;

struct MachineOptions {
  int cpus = 4;                          // 1 to kMaxCpus
  std::size_t stack_bytes = 64 * 1024;   // per CPU (StackPool maps 2 pages more)
  std::uint64_t max_steps = 1'000'000;   // shared steps before "step-budget"
  std::uint64_t fairness = 0;            // F; 0 means 8 * cpus
  // The seed of the simulated code's own random choices (a most-general
  // client's calls and arguments): with the schedule, it determines a run.
  // The machine only carries it; code draws from ClientRng.
  std::uint64_t client_seed = 0;
  // Where stacks come from; null (or a pool of another size) means a pool of
  // the machine's own. A shared pool must outlive the machine.
  StackPool* stacks = nullptr;
  // The per-CPU machine Boot[focus, ε] (DESIGN §2.2): the focused CPU runs
  // its code live and the others are its environment context ε
  // (environment.h). An event of another CPU that a monitor refuses ends
  // the run as invalid-environment, never as the focused CPU's failure.
  // None: the multicore machine, where every CPU is live.
  CpuId focus;
  // How the environment CPUs' clients draw (ClientDraws): an adversarial
  // environment's at the edges. Only with a focus.
  Draws environment_draws = Draws::kUniform;
};

// How CPU `cpu`'s client draws on a machine made with `o`: as
// o.environment_draws says on an environment CPU, else uniformly.
inline Draws DrawsOf(const MachineOptions& o, CpuId cpu) {
  return o.focus.valid() && cpu != o.focus ? o.environment_draws : Draws::kUniform;
}

// Handles to shared memory, made by Machine::NewWord / NewBlock.
struct Word {
  ObjectId id;
};
struct Block {
  ObjectId id;
};

// One shared operation as the machine schedules it. `apply` performs it
// atomically and returns the event's result; `ready`, if set, says whether it
// is enabled now (re-evaluated after every event on `object`).
// `ready` must depend only on the state of `object`. `read_only` says the op
// does not change any state (the explorer treats two reads as independent).
struct Op {
  ObjectId object;
  EventKind kind;
  OpCode code = OpCode::kAtomic;  // the machine operation the event records
  std::int64_t arg0 = 0;
  std::int64_t arg1 = 0;
  absl::FunctionRef<std::int64_t()> apply;
  const absl::FunctionRef<bool()>* ready = nullptr;
  bool read_only = false;
  // The code that made the step (Log::where): by default where the Op was
  // written. Cpu::Step records it; the machine's own operations (FetchAdd,
  // Pull, ...) record their caller's location instead.
  std::source_location where = std::source_location::current();
};

// What the explorer may know of a CPU's next step.
struct PendingStep {
  ObjectId object;
  EventKind kind;
  bool read_only = false;
  bool blocking = false;  // the op has a `ready`: it waits until its object lets it run
};

class Machine;

// The hash a push event carries of its block's contents (arg0): the sum of
// BlockWordHash(i, words[i]) over the words, so a write updates it in O(1)
// and a push of a large block costs no more than of a small one.
inline std::uint64_t BlockWordHash(std::size_t i, std::int64_t value) {
  std::uint64_t z = (static_cast<std::uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ull ^
                    static_cast<std::uint64_t>(value);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
std::int64_t BlockHash(std::span<const std::int64_t> words);

// A simulated CPU as its code sees it. The shared operations (FetchAdd ...
// Push, Step) are switch points and append one event each; Read and Write
// are private; Annotate, MarkCall and MarkReturn append a private event; and
// Linearize flags the last one. The word operations
// take an optional event kind and note (stored in arg1), so a layer can name
// its steps in the log (`INC_TICKET(bound)` is a fetch-and-add of the ticket
// word) while using only the machine's primitives.
class Cpu {
 public:
  CpuId id() const { return id_; }
  Machine& machine() { return *machine_; }

  // Returns the old value.
  std::int64_t FetchAdd(Word w, std::int64_t delta, const EventKind& kind = kinds::kFaa,
                        std::int64_t note = 0,
                        std::source_location where = std::source_location::current());
  // Sets w to `desired` if it holds `expected`; returns the old value either way.
  std::int64_t CompareSwap(Word w, std::int64_t expected, std::int64_t desired,
                           const EventKind& kind = kinds::kCas,
                           std::source_location where = std::source_location::current());
  // Returns the old value.
  std::int64_t Swap(Word w, std::int64_t value, const EventKind& kind = kinds::kSwap,
                    std::int64_t note = 0,
                    std::source_location where = std::source_location::current());
  std::int64_t Load(Word w, const EventKind& kind = kinds::kLoad, std::int64_t note = 0,
                    std::source_location where = std::source_location::current());
  void Store(Word w, std::int64_t value, const EventKind& kind = kinds::kStore,
             std::int64_t note = 0, std::source_location where = std::source_location::current());
  // Blocks (no events, not runnable) while w == old, then loads it.
  std::int64_t LoadWhenChanged(Word w, std::int64_t old, const EventKind& kind = kinds::kLoad,
                               std::int64_t note = 0,
                               std::source_location where = std::source_location::current());
  // Blocks (no events, not runnable) until w == value, then loads it. This is
  // how strata models a spin loop: a failed check changes nothing, so it is
  // not a step and adds no event, and exhaustive exploration stays finite.
  std::int64_t AwaitValue(Word w, std::int64_t value, const EventKind& kind = kinds::kLoad,
                          std::int64_t note = 0,
                          std::source_location where = std::source_location::current());

  // Takes ownership of a block; pulling a block another CPU owns is a data race.
  void Pull(Block b, std::source_location where = std::source_location::current());
  // Gives the block back; pushing a block this CPU does not own is a data
  // race. `note` is stored in the event's arg1 (a layer's summary of the change).
  void Push(Block b, std::int64_t note = 0,
            std::source_location where = std::source_location::current());
  // Private access to a pulled block (no event, no switch); touching a block
  // this CPU does not own is a data race. Precondition: i < block size.
  std::int64_t Read(Block b, std::size_t i);
  void Write(Block b, std::size_t i, std::int64_t value);

  // The generic shared step, for layers that define their own atomic
  // operations. Returns op.apply()'s result.
  std::int64_t Step(const Op& op);

  // Appends a private event (no switch point, not a step): the call and
  // return markers at layer borders (op kCall / kReturn) and ghosts (kGhost).
  // Monitors see it like any other event. Precondition: `op` is one of those.
  void Annotate(ObjectId object, const EventKind& kind, std::int64_t arg0, std::int64_t arg1,
                std::int64_t result, OpCode op = OpCode::kGhost,
                std::source_location where = std::source_location::current());

  // A layer border's call and return markers (Annotate with kCall /
  // kReturn), on the hot path of every primitive. A call marker's `where`
  // (the code that called the primitive) becomes the CPU's call_site(), as
  // an Annotate with kCall's does.
  inline void MarkCall(ObjectId object, EventKind kind, std::int64_t arg0, std::int64_t arg1,
                       std::source_location where = std::source_location::current());
  inline void MarkReturn(ObjectId object, EventKind kind, std::int64_t result,
                         std::source_location where = std::source_location::current());

  // Declares the event this CPU appended last (a shared step or a ghost) the
  // linearization point of the innermost call of its agent (its thread, else
  // the CPU) that is open: the log map of the refinement check maps exactly
  // the flagged events to the upper layer's atomic events. A module calls
  // it right after the step, before its next switch point, so it may decide
  // on the step's result (a compare-and-swap that succeeded). Not a switch
  // point. If the log's last event is not this agent's own step or ghost,
  // or is flagged already, the run ends with an `exception` report naming
  // the CPU.
  inline void Linearize();
  // Where the primitive this CPU called last was called from (MarkCall's
  // `where`), none before any. A spec's atomic step records it as its own
  // location (Op::where): a spec's one step stands for its caller's call,
  // and its own line in the spec would be the same for every call. A spec
  // steps right after its call marker, before any other call.
  std::source_location call_site() const { return call_site_; }
  // Declares that the call this agent just returned from (the log's last
  // event is its return marker) took effect at its linearization point,
  // and that this point is the linearization point of the agent's
  // innermost open call too: a module whose call takes effect exactly where
  // a lower layer's call does (a scheduler's spawn where the TCB pool's
  // allocation it calls linearizes) says so instead of adding a step of its
  // own after it, at which other CPUs could already have seen the effect.
  // Not a switch point. If the last event is not this agent's return marker,
  // or the call had no linearization point of this agent's, the run ends
  // with an `exception` report.
  void AdoptLinearization();
  // A recorded environment's replayed event carries its recorded marks at
  // once, those adopted later in the recording included: flags the log's
  // last event, this agent's own, `marks` times. Not a switch point.
  // Precondition: the last event is this CPU's and unflagged.
  void FlagAsRecorded(std::uint8_t marks);

  // The kernel thread this CPU runs now (none on the bare machine); events
  // carry it.
  ThreadId thread() const { return thread_; }
  void set_thread(ThreadId t) { thread_ = t; }
  // The stack the CPU runs on now, when it is not its own (a thread's fiber
  // stack; null: its own). An overflow of that stack is reported like the
  // CPU's own, and `on_overflow` (set by whoever owns the stack) is called
  // with it: that fiber can be neither resumed nor unwound.
  void set_running_stack(const boost::context::stack_context* s) { running_stack_ = s; }
  void set_on_overflow(std::function<void(const boost::context::stack_context&)> f) {
    on_overflow_ = std::move(f);
  }

  // Ends the run with a report naming this CPU (and `others`). Never returns.
  [[noreturn]] void Fail(Outcome outcome, std::string message, std::vector<CpuId> others = {});

 private:
  friend class Machine;
  enum class State { kIdle, kRunnable, kBlocked, kFinished, kFailed };

  Cpu(Machine* m, CpuId id) : machine_(m), id_(id) {}
  void Start();
  boost::context::fiber Body();
  // Step with `apply` called directly (the built-in operations pass their
  // lambda, so the hot path has no indirect call); `op.apply` is not used.
  template <class Apply>
  std::int64_t StepWith(const Op& op, Apply&& apply, std::source_location where);
  bool Ready() const { return pending_->ready == nullptr || (*pending_->ready)(); }
  [[noreturn]] void LinearizeFailed();
  [[noreturn]] void AdoptFailed(std::string_view why);
  [[noreturn]] void AnnotateFailed(EventKind kind);

  Machine* machine_;
  CpuId id_;
  ThreadId thread_;
  State state_ = State::kIdle;
  std::source_location call_site_{};
  const Op* pending_ = nullptr;
  bool runnable_ = false;
  bool abandoned_ = false;  // its stack overflowed; the fiber cannot be resumed or unwound
  const boost::context::stack_context* running_stack_ = nullptr;
  std::function<void(const boost::context::stack_context&)> on_overflow_;
  // The handle that resumes this CPU; empty while it runs and once it ended.
  boost::context::fiber fiber_;
  boost::context::stack_context stack_{};
};

// Machine::Run turns a simulated stack overflow into a report with a SIGSEGV
// handler that is installed once and stays installed; as something else (a
// test framework, around each test) may replace it, every run checks that it
// is still there, at the cost of one system call. While a scope of this
// class lives, runs on its thread skip that check: code that runs many
// machines in a row (the explorer) holds one. The constructor installs the
// handler. Precondition: nothing replaces the SIGSEGV handler or this
// thread's alternate signal stack while the scope lives.
class OverflowHandlerScope {
 public:
  OverflowHandlerScope();
  ~OverflowHandlerScope();
  OverflowHandlerScope(const OverflowHandlerScope&) = delete;
  OverflowHandlerScope& operator=(const OverflowHandlerScope&) = delete;
};

class Machine {
 public:
  using Program = std::function<void(Cpu&)>;

  // Precondition: options validated (1 <= cpus <= kMaxCpus, stack >= 16 KiB).
  explicit Machine(MachineOptions options);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Shared objects; make them before Run. `mine`: the cpu whose own object
  // it is, one of a family with one object per cpu that code picks by its
  // cpu's id (an MCS lock's queue nodes); none for an object of all cpus.
  // Renaming the cpus of a symmetric module's run renames their own objects
  // with them: dfs's symmetry reduction (layers/dfs.cc) lets a cpu step on
  // its own objects before its turn to start.
  Word NewWord(std::string name, std::int64_t initial = 0, CpuId mine = CpuId());
  Block NewBlock(std::string name, std::size_t words, CpuId mine = CpuId());
  // An object with no memory of its own, for layers whose state is their log.
  ObjectId NewObject(std::string name);
  // Checks every event on `object` with `monitor`; a rejected event ends the
  // run as "impossible-log".
  void AddMonitor(ObjectId object, std::unique_ptr<Monitor> monitor);
  // Checks every event of the run (layers whose state spans objects, such as
  // a lock holder's budget of events).
  void AddGlobalMonitor(std::unique_ptr<Monitor> monitor);
  ObjectId FindObject(std::string_view name) const;
  // Runs `hook` first in the destructor, while the CPUs still exist (hooks
  // in reverse order of adding): a layer that keeps fibers of its own (the
  // scheduler's threads) unwinds them there, before the CPU fibers they run
  // on are destroyed.
  void AtTeardown(std::function<void()> hook) { teardown_.push_back(std::move(hook)); }

  // Runs `program` on every CPU until all finish or the run fails. Call once.
  // Returns the report; an error Status only when the oracle's input does not
  // fit this run (a replayed schedule from another config).
  absl::StatusOr<RunReport> Run(const Program& program, Oracle& oracle);

  const MachineOptions& options() const { return options_; }
  int cpus() const { return options_.cpus; }
  const Log& log() const { return log_; }
  // Keeps the contents of every pushed block by the push's position in the
  // log (for replaying a block's writer as a recorded environment). Call
  // before Run.
  void KeepPushedContents() { keep_pushes_ = true; }
  // The contents pushed at log position `seq`; empty if none were kept.
  std::span<const std::int64_t> pushed(std::uint64_t seq) const;
  // The CPU chosen at each shared step, in order.
  std::span<const CpuId> schedule() const { return {schedule_.get(), step_}; }
  std::uint64_t fairness_bound() const { return guard_.bound(); }
  // The longest a runnable CPU waited for a step, in steps.
  std::uint64_t worst_wait() const { return guard_.worst_wait(); }

  // The next step of a runnable or blocked CPU, for oracles that reason about
  // independence. Precondition: the CPU is at a switch point.
  PendingStep pending(CpuId cpu) const;
  // Whether the pending step of `cpu`, a blocking step on a word, would be
  // enabled if the word held `value` instead (its `ready` evaluated against
  // it; the word is left as it is). For the explorer, which asks it of
  // reorderings it considers. Precondition: pending(cpu).blocking and the
  // step's object is a word.
  bool ReadyWith(CpuId cpu, std::int64_t value) const;

  std::int64_t value(Word w) const { return objects_[w.id.index()].value; }
  std::span<const std::int64_t> contents(Block b) const { return objects_[b.id.index()].data; }
  CpuId owner(Block b) const { return objects_[b.id.index()].owner; }

  // What object `id` is: a word (NewWord), a block (NewBlock) or a layer's
  // abstract object (NewObject: a spec's state, a border's markers), which
  // says what a replayed event may do to it. Precondition: id <
  // log().object_count().
  enum class ObjectType : std::uint8_t { kWord, kBlock, kAbstract };
  ObjectType type(ObjectId id) const { return objects_[id.index()].type; }
  // The cpu whose own object `id` is (NewWord's `mine`), or none.
  // Precondition: id < log().object_count().
  CpuId own_cpu(ObjectId id) const { return objects_[id.index()].mine; }

 private:
  friend class Cpu;
  struct Object {
    using Type = ObjectType;
    Type type;
    std::int64_t value = 0;
    std::vector<std::int64_t> data;
    std::uint64_t hash = 0;  // a block's BlockHash, kept up to date by every write
    CpuId owner;
    CpuId mine;  // the cpu whose own object it is (NewWord)
    std::int64_t version = 0;
    std::unique_ptr<Monitor> monitor;
    // CPUs whose pending op on this object has a `ready`. Inline: a
    // checker makes a machine per execution, and these small blocks were
    // most of what overflowed the allocator's per-thread cache.
    absl::InlinedVector<CpuId, 4> watchers;
  };

  ObjectId AddObject(std::string name, Object::Type type);
  const Event& Append(Cpu& cpu, const Op& op, std::int64_t result);
  void Reevaluate(ObjectId object, const Cpu& except);
  void Observe(Cpu& cpu, const Event& e);
  void SetRunnable(Cpu& cpu, bool runnable);
  // Recomputes fast_until_ after failed_, input_error_ or runnable_ changed.
  void UpdateFastPath() {
    fast_until_ = failed_ || !input_error_.ok() || runnable_.empty() ? 0 : options_.max_steps;
  }
  void Fail(Outcome outcome, std::vector<CpuId> cpus, std::string message);
  std::string DescribeWait(const Cpu& cpu) const;

  // The scheduler. There is no scheduler fiber: the CPU at a switch point
  // asks the oracle itself and transfers straight to the chosen CPU, so a
  // step costs one fiber switch, or none when the oracle picks the same CPU.
  // Decide returns the CPU that takes the next step, or none when the run is
  // over (finished, failed, or the oracle's input does not fit).
  CpuId Decide();
  // Decide's rare cases: the run is over, deadlock, step budget.
  CpuId DecideSlow();
  // Decide's rare case: the oracle picked none, or not the overdue CPU.
  CpuId Overrule(CpuId chosen, CpuId overdue);
  // Decide's rare case: `cpu` waited more than F steps (F below the number
  // of runnable CPUs); ends the run.
  CpuId WaitedTooLong(CpuId cpu);
  void GrowSchedule();
  // The handle of whoever runs next: the chosen CPU, or Run's own context.
  boost::context::fiber& Next(Cpu& self);
  // Suspends the running context (whose handle will land in `*self`) and
  // resumes `target`.
  void TransferTo(boost::context::fiber& target, boost::context::fiber* self);
  void OnOverflow();
  static void HandleSegv(int sig, siginfo_t* info, void* context);
  friend class OverflowHandlerScope;

  MachineOptions options_;
  std::unique_ptr<StackPool> own_stacks_;  // declared first: destroyed after the fibers
  StackPool* stacks_ = nullptr;
  Log log_;
  std::vector<Object> objects_;
  std::vector<std::unique_ptr<Monitor>> global_monitors_;
  std::vector<std::function<void()>> teardown_;
  bool keep_pushes_ = false;
  // Kept pushes, in log order: (seq, first word in pushed_words_), and the
  // words of all of them one after another.
  std::vector<std::pair<std::uint64_t, std::size_t>> pushes_;
  std::vector<std::int64_t> pushed_words_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  absl::InlinedVector<CpuId, 8> runnable_;  // sorted; inline, as Object::watchers
  // Holds the schedule in its first step_ of schedule_room_ entries; grown
  // in large chunks by GrowSchedule with realloc and left uninitialized (a
  // slot is written before it is read), so that recording a step is one
  // store and growing it copies and zeroes nothing the kernel need not.
  struct FreeDeleter {
    void operator()(CpuId* p) const { std::free(p); }
  };
  std::unique_ptr<CpuId[], FreeDeleter> schedule_;
  std::uint64_t schedule_room_ = 0;
  FairnessGuard guard_;
  Program program_;  // owned, so it outlives the fibers that run it
  Oracle* oracle_ = nullptr;
  absl::Status input_error_;
  RunReport report_;
  bool failed_ = false;
  // Decide's fast path holds while step_ < fast_until_: options_.max_steps
  // while the run goes on with a CPU runnable; 0 once it failed, the
  // oracle's input did not fit or no CPU is runnable (UpdateFastPath).
  std::uint64_t fast_until_ = 0;
  bool ran_ = false;
  bool tearing_down_ = false;  // set by the destructor: unstarted CPUs must not start
  bool starting_ = false;  // CPUs are running their private prefixes, one by one
  int unfinished_ = 0;
  std::uint64_t step_ = 0;
  CpuId last_;
  Cpu* running_ = nullptr;  // the CPU whose fiber runs now, if any
  boost::context::fiber main_;                   // resumes Run's context
  boost::context::fiber* from_ = nullptr;        // where the switching context's handle goes
  // After an overflow, main_ refers to a context that the jump back already
  // left; destroying it would unwind Run's stack, so it is parked here.
  union Parked {
    Parked() {}
    ~Parked() {}
    boost::context::fiber handle;
  } parked_;
  sigjmp_buf overflow_env_;
  void* main_record_ = nullptr;  // Boost's main-context record (ucontext builds)
};

inline void Cpu::MarkCall(ObjectId object, EventKind kind, std::int64_t arg0, std::int64_t arg1,
                          std::source_location where) {
  call_site_ = where;
  machine_->Observe(*this, machine_->log_.Append(id_, thread_, object, kind, arg0, arg1, 0,
                                                 OpCode::kCall, where));
}

inline void Cpu::MarkReturn(ObjectId object, EventKind kind, std::int64_t result,
                            std::source_location where) {
  machine_->Observe(*this, machine_->log_.Append(id_, thread_, object, kind, 0, 0, result,
                                                 OpCode::kReturn, where));
}

// Inline: modules call it on their hot paths (a yield's fast path).
inline void Cpu::Linearize() {
  Log& log = machine_->log_;
  if (log.empty() || log.back().cpu != id_ || log.back().thread != thread_ ||
      log.back().op == OpCode::kCall || log.back().op == OpCode::kReturn ||
      log.back().linearizes != 0) [[unlikely]] {
    LinearizeFailed();
  }
  log.FlagLinearization();
}

// The client stream of `cpu` under `seed` (ClientRng), drawing as its
// machine's options say for it (DrawsOf).
inline ClientRng ClientDraws(Cpu& cpu, std::uint64_t seed) {
  return ClientRng(seed, cpu.id().value(), DrawsOf(cpu.machine().options(), cpu.id()));
}
// ... under the machine's client_seed.
inline ClientRng ClientDraws(Cpu& cpu) {
  return ClientDraws(cpu, cpu.machine().options().client_seed);
}

}  // namespace strata::machine

#endif  // STRATA_MACHINE_MACHINE_H_
