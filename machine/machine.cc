#include "machine/machine.h"

#include <algorithm>
#include <exception>
#include <cstdlib>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "machine/buffer_cache.h"
#include "machine/check.h"
#include "machine/escape.h"

#if defined(STRATA_SANITIZED)
#include <sanitizer/common_interface_defs.h>
#endif

namespace strata::machine {
namespace {

namespace ctx = boost::context;

// The SIGSEGV handler must find the running machine without arguments; this
// is its only use, and it is set only while Machine::Run is on the stack.
thread_local Machine* g_running_machine = nullptr;

// The SIGSEGV handler is installed once per process and stays installed, so
// that a run costs one system call for it (a check) instead of four (install
// and restore a handler and an alternate stack). Faults that are not a
// simulated stack overflow go to the handler that was installed before.
using SegvHandler = void (*)(int, siginfo_t*, void*);
struct sigaction g_previous_segv;
std::mutex g_install_mutex;

// The handler runs on an alternate stack (the faulting stack has no room).
// Alternate stacks are per thread; a thread that already has one of at
// least half this size (ASan's) keeps it, else it gets this one, which is
// removed and freed when the thread ends.
constexpr std::size_t kAltStackBytes = 64 * 1024;
class AltStack {
 public:
  ~AltStack() {
    if (memory_ == nullptr) return;
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && current.ss_sp == memory_.get()) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
    }
  }
  // Makes sure this thread has a usable alternate signal stack.
  void Ensure() {
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0 &&
        current.ss_size >= kAltStackBytes / 2) {
      return;
    }
    if (memory_ == nullptr) memory_ = std::make_unique<char[]>(kAltStackBytes);
    stack_t ours{};
    ours.ss_sp = memory_.get();
    ours.ss_size = kAltStackBytes;
    STRATA_CHECK(sigaltstack(&ours, nullptr) == 0, "sigaltstack failed");
  }
  // Set once this thread's alternate stack was checked while our handler
  // was installed; cleared when the handler had to be installed again (who
  // replaced it may have replaced the alternate stack too).
  bool checked = false;

 private:
  std::unique_ptr<char[]> memory_;
};
thread_local AltStack g_altstack;
// How many OverflowHandlerScopes live on this thread.
thread_local int g_handler_scopes = 0;

// Makes sure `handler` is the SIGSEGV handler and this thread has an
// alternate signal stack. Someone else (a test framework that installs its
// own handler around each test) may have replaced the handler since the last
// run, so the handler is checked on every run.
void PrepareForOverflow(SegvHandler handler) {
  struct sigaction current {};
  sigaction(SIGSEGV, nullptr, &current);
  const bool ours = (current.sa_flags & SA_SIGINFO) != 0 && current.sa_sigaction == handler;
  if (ours && g_altstack.checked) return;
  g_altstack.Ensure();
  g_altstack.checked = true;
  if (ours) return;
  std::lock_guard<std::mutex> lock(g_install_mutex);
  struct sigaction action {};
  action.sa_sigaction = handler;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  sigaction(SIGSEGV, &action, &previous);
  // Another thread may have installed it meanwhile; never chain to ourselves.
  if (!((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction == handler)) {
    g_previous_segv = previous;
  }
}

}  // namespace

std::int64_t BlockHash(std::span<const std::int64_t> words) {
  std::uint64_t h = 0;
  for (std::size_t i = 0; i < words.size(); ++i) h += BlockWordHash(i, words[i]);
  return static_cast<std::int64_t>(h);
}

// ---------------------------------------------------------------- the hot path

// Defined first, inline, so that Cpu::StepWith inlines them.
[[gnu::always_inline]] inline CpuId Machine::Decide() {
  // One comparison for the four reasons to stop (UpdateFastPath).
  if (step_ >= fast_until_) [[unlikely]] return DecideSlow();
  const CpuId overdue = guard_.Overdue(step_, runnable_);
  CpuId chosen = oracle_->Pick(Decision{step_, runnable_, last_, overdue, this});
  if (!chosen.valid() || (overdue.valid() && chosen != overdue)) [[unlikely]] {
    chosen = Overrule(chosen, overdue);
    if (!chosen.valid()) return chosen;
  }
  if (step_ == schedule_room_) [[unlikely]] GrowSchedule();
  schedule_[step_] = chosen;
  // Recorded even when it waited too long: the schedule replays to it.
  const bool too_long = guard_.Ran(chosen, step_);
  last_ = chosen;
  ++step_;
  if (too_long) [[unlikely]] return WaitedTooLong(chosen);
  return chosen;
}

[[gnu::always_inline]] inline void Machine::TransferTo(ctx::fiber& target, ctx::fiber* self) {
  Cpu* me = running_;
  from_ = self;
  ctx::fiber resumer = std::move(target).resume();
  // Someone chose us; they said where their own handle goes.
  *from_ = std::move(resumer);
  running_ = me;
}

// The hot path of the simulator: one call per shared event, so the switch
// point, the oracle's decision and the fiber switch are inlined here.
template <class Apply>
inline std::int64_t Cpu::StepWith(const Op& op, Apply&& apply, std::source_location where) {
  Machine& m = *machine_;
  pending_ = &op;
  bool ready = true;
  if (op.ready != nullptr) [[unlikely]] {
    m.objects_[op.object.index()].watchers.push_back(id_);
    ready = (*op.ready)();
  }
  state_ = ready ? State::kRunnable : State::kBlocked;
  if (runnable_ != ready) m.SetRunnable(*this, ready);
  // The switch point: decide who takes the next step.
  if (m.starting_) [[unlikely]] {
    m.TransferTo(m.main_, &fiber_);
  } else {
    const CpuId next = m.Decide();
    if (next != id_) {
      m.TransferTo(next.valid() ? m.cpus_[next.index()]->fiber_ : m.main_, &fiber_);
    }
  }
  // Chosen by the oracle: the op is enabled and executes atomically now.
  if (op.ready != nullptr) [[unlikely]] {
    auto& w = m.objects_[op.object.index()].watchers;
    w.erase(std::find(w.begin(), w.end(), id_));
  }
  pending_ = nullptr;
  const std::int64_t result = apply();
  const Event& e =
      m.log_.Append(id_, thread_, op.object, op.kind, op.arg0, op.arg1, result, op.code, where);
  Machine::Object& object = m.objects_[op.object.index()];
  if (object.monitor != nullptr || !m.global_monitors_.empty()) m.Observe(*this, e);
  if (!object.watchers.empty()) m.Reevaluate(op.object, *this);
  return result;
}

std::int64_t Cpu::Step(const Op& op) { return StepWith(op, op.apply, op.where); }

// ---------------------------------------------------------------- Cpu

void Cpu::Start() {
  fiber_ = ctx::fiber(std::allocator_arg, PooledStack(machine_->stacks_, &stack_),
                      [this](ctx::fiber&& resumer) {
                        // A CPU that never started, destroyed with its machine
                        // (a run that failed before it got going): run nothing.
                        if (machine_->tearing_down_) return std::move(resumer);
                        *machine_->from_ = std::move(resumer);
                        machine_->running_ = this;
                        return Body();
                      });
}

ctx::fiber Cpu::Body() {
  const std::optional<std::string> escaped = Escaped([this] { machine_->program_(*this); });
  const bool threw = escaped.has_value();
  if (threw) {
    machine_->Fail(Outcome::kException, {id_}, fmt::format("cpu {} threw: {}", id_, *escaped));
  }
  state_ = threw ? State::kFailed : State::kFinished;
  machine_->SetRunnable(*this, false);
  --machine_->unfinished_;
  // This fiber ends; whoever runs next receives an empty handle for it.
  machine_->from_ = &fiber_;
  machine_->running_ = nullptr;
  return std::move(machine_->Next(*this));
}

void Cpu::Annotate(ObjectId object, const EventKind& kind, std::int64_t arg0, std::int64_t arg1,
                   std::int64_t result, OpCode op, std::source_location where) {
  if (op < OpCode::kCall) [[unlikely]] AnnotateFailed(kind);
  if (op == OpCode::kCall) call_site_ = where;  // as MarkCall
  machine_->Observe(
      *this, machine_->log_.Append(id_, thread_, object, kind, arg0, arg1, result, op, where));
}

// Misuse of the layer API by simulated code is a report, not a crash.
void Cpu::AnnotateFailed(EventKind kind) {
  Fail(Outcome::kException,
       fmt::format("cpu {} annotates `{}` with the op code of a shared step (Cpu::Annotate takes "
                   "call, ret or ghost)",
                   id_, kind));
}

void Cpu::FlagAsRecorded(std::uint8_t marks) {
  Log& log = machine_->log_;
  STRATA_CHECK(!log.empty() && log.back().cpu == id_ && log.back().linearizes == 0,
               "cpu {} flags an event that is not its own unflagged last one", id_);
  for (std::uint8_t k = 0; k < marks; ++k) log.FlagLinearization();
}

void Cpu::LinearizeFailed() {
  const Log& log = machine_->log_;
  if (log.empty() || log.back().cpu != id_ || log.back().thread != thread_) {
    Fail(Outcome::kException,
         fmt::format("cpu {} (thread {}) declares a linearization point, but the last event is "
                     "not its own (Cpu::Linearize follows one of its own steps)",
                     id_, thread_));
  }
  if (log.back().linearizes != 0) {
    Fail(Outcome::kException,
         fmt::format("cpu {} declares `{}` a linearization point a second time (Cpu::Linearize "
                     "once per step; Cpu::AdoptLinearization shares a lower call's point)",
                     id_, log.back().kind));
  }
  Fail(Outcome::kException,
       fmt::format("cpu {} declares its marker `{}` a linearization point (Cpu::Linearize "
                   "follows a step or a ghost)",
                   id_, log.back().kind));
}

void Cpu::AdoptLinearization() {
  Log& log = machine_->log_;
  if (log.empty() || log.back().cpu != id_ || log.back().thread != thread_ ||
      log.back().op != OpCode::kReturn) {
    AdoptFailed("the last event is not the return marker of its own call");
  }
  // Back from the return to its call marker, over this agent's events:
  // the call's own linearization point is the event flagged for more calls
  // than it is nested in below the returned call (`inner`).
  const Event& ret = log.back();
  std::uint64_t i = ret.seq;
  int inner = 0;
  while (i-- > 0) {
    const Event& e = log[i];
    if (e.cpu != id_ || e.thread != thread_) continue;
    if (e.op == OpCode::kReturn) {
      ++inner;
    } else if (e.op == OpCode::kCall) {
      if (inner-- == 0) break;
    } else if (e.linearizes > inner) {
      if (e.linearizes == 0xff) AdoptFailed("its point is adopted 255 times already");
      log.FlagLinearization(i);
      return;
    }
  }
  AdoptFailed(fmt::format("its call `{}` had no linearization point", ret.kind));
}

void Cpu::AdoptFailed(std::string_view why) {
  Fail(Outcome::kException,
       fmt::format("cpu {} (thread {}) adopts a linearization point, but {} "
                   "(Cpu::AdoptLinearization follows the return of a call that linearized)",
                   id_, thread_, why));
}

void Machine::Observe(Cpu& cpu, const Event& e) {
  auto refused = [&](Outcome outcome, std::string message) {
    if (!failed_) report_.event = e.seq;
    // In a per-CPU machine, what the environment appended is its fault.
    if (!options_.focus.valid() || e.cpu == options_.focus) cpu.Fail(outcome, std::move(message));
    cpu.Fail(Outcome::kInvalidEnvironment,
             fmt::format("the environment of cpu {} appended an event it may not: {}",
                         options_.focus, message));
  };
  Monitor* monitor = e.object.valid() ? objects_[e.object.index()].monitor.get() : nullptr;
  if (monitor != nullptr && !monitor->Observe(e)) {
    refused(Outcome::kImpossibleLog,
            fmt::format("event `{}` is impossible for `{}` (state after it: {})",
                        log_.RenderText(e), log_.object_name(e.object), monitor->Describe()));
  }
  for (auto& g : global_monitors_) {
    if (!g->Observe(e)) {
      if (g->outcome() != Outcome::kImpossibleLog) {
        refused(g->outcome(), fmt::format("at `{}`: {}", log_.RenderText(e), g->Describe()));
      }
      refused(Outcome::kImpossibleLog, fmt::format("event `{}` is impossible ({})",
                                                   log_.RenderText(e), g->Describe()));
    }
  }
}

std::span<const std::int64_t> Machine::pushed(std::uint64_t seq) const {
  auto it = std::lower_bound(pushes_.begin(), pushes_.end(), seq,
                             [](const auto& p, std::uint64_t s) { return p.first < s; });
  if (it == pushes_.end() || it->first != seq) return {};
  const std::size_t end = it + 1 == pushes_.end() ? pushed_words_.size() : (it + 1)->second;
  return std::span<const std::int64_t>(pushed_words_).subspan(it->second, end - it->second);
}

PendingStep Machine::pending(CpuId cpu) const {
  const Op* op = cpus_[cpu.index()]->pending_;
  STRATA_CHECK(op != nullptr, "cpu {} is not at a switch point", cpu);
  return {op->object, op->kind, op->read_only, op->ready != nullptr};
}

bool Machine::ReadyWith(CpuId cpu, std::int64_t value) const {
  const Op* op = cpus_[cpu.index()]->pending_;
  STRATA_CHECK(op != nullptr && op->ready != nullptr && type(op->object) == ObjectType::kWord,
               "ReadyWith: cpu {} does not wait on a word", cpu);
  // `ready` reads the word in place; it is put back before anyone else runs.
  std::int64_t& word = const_cast<std::int64_t&>(objects_[op->object.index()].value);
  const std::int64_t now = word;
  word = value;
  const bool ready = (*op->ready)();
  word = now;
  return ready;
}

void Machine::AddGlobalMonitor(std::unique_ptr<Monitor> monitor) {
  global_monitors_.push_back(std::move(monitor));
}

ObjectId Machine::FindObject(std::string_view name) const {
  for (std::size_t i = 0; i < log_.object_count(); ++i) {
    if (log_.object_name(ObjectId(static_cast<ObjectId::Rep>(i))) == name) {
      return ObjectId(static_cast<ObjectId::Rep>(i));
    }
  }
  return ObjectId();
}

void Cpu::Fail(Outcome outcome, std::string message, std::vector<CpuId> others) {
  others.insert(others.begin(), id_);
  state_ = State::kFailed;
  machine_->SetRunnable(*this, false);
  machine_->Fail(outcome, std::move(others), std::move(message));
  machine_->TransferTo(machine_->main_, &fiber_);
  // Never resumed: destroying the fiber unwinds it from inside TransferTo.
  STRATA_CHECK(false, "a failed cpu was resumed");
  std::abort();
}

std::int64_t Cpu::FetchAdd(Word w, std::int64_t delta, const EventKind& kind, std::int64_t note,
                           std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto apply = [&] {
    std::int64_t old = v;
    v = old + delta;
    return old;
  };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kFaa,
                   .arg0 = delta,
                   .arg1 = note,
                   .apply = apply},
                  apply, where);
}

std::int64_t Cpu::CompareSwap(Word w, std::int64_t expected, std::int64_t desired,
                              const EventKind& kind, std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto apply = [&] {
    std::int64_t old = v;
    if (old == expected) v = desired;
    return old;
  };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kCas,
                   .arg0 = expected,
                   .arg1 = desired,
                   .apply = apply},
                  apply, where);
}

std::int64_t Cpu::Swap(Word w, std::int64_t value, const EventKind& kind, std::int64_t note,
                       std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto apply = [&] { return std::exchange(v, value); };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kSwap,
                   .arg0 = value,
                   .arg1 = note,
                   .apply = apply},
                  apply, where);
}

std::int64_t Cpu::Load(Word w, const EventKind& kind, std::int64_t note,
                       std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto apply = [&] { return v; };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kLoad,
                   .arg1 = note,
                   .apply = apply,
                   .read_only = true},
                  apply, where);
}

void Cpu::Store(Word w, std::int64_t value, const EventKind& kind, std::int64_t note,
                std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto apply = [&] {
    v = value;
    return std::int64_t{0};
  };
  StepWith({.object = w.id,
            .kind = kind,
            .code = OpCode::kStore,
            .arg0 = value,
            .arg1 = note,
            .apply = apply},
           apply, where);
}

std::int64_t Cpu::LoadWhenChanged(Word w, std::int64_t old, const EventKind& kind,
                                  std::int64_t note, std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto changed = [&] { return v != old; };
  absl::FunctionRef<bool()> ready(changed);
  auto apply = [&] { return v; };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kLoad,
                   .arg1 = note,
                   .apply = apply,
                   .ready = &ready,
                   .read_only = true},
                  apply, where);
}

std::int64_t Cpu::AwaitValue(Word w, std::int64_t value, const EventKind& kind, std::int64_t note,
                             std::source_location where) {
  std::int64_t& v = machine_->objects_[w.id.index()].value;
  auto reached = [&] { return v == value; };
  absl::FunctionRef<bool()> ready(reached);
  auto apply = [&] { return v; };
  return StepWith({.object = w.id,
                   .kind = kind,
                   .code = OpCode::kLoad,
                   .arg0 = value,
                   .arg1 = note,
                   .apply = apply,
                   .ready = &ready,
                   .read_only = true},
                  apply, where);
}

void Cpu::Pull(Block b, std::source_location where) {
  Machine::Object& o = machine_->objects_[b.id.index()];
  auto apply = [&] {
    if (o.owner.valid()) {
      Fail(Outcome::kDataRace,
           fmt::format("cpu {} pulls block `{}` while cpu {} owns it", id_,
                       machine_->log_.object_name(b.id), o.owner),
           {o.owner});
    }
    o.owner = id_;
    return o.version;
  };
  StepWith({.object = b.id, .kind = kinds::kPull, .code = OpCode::kPull, .apply = apply}, apply,
           where);
}

void Cpu::Push(Block b, std::int64_t note, std::source_location where) {
  Machine::Object& o = machine_->objects_[b.id.index()];
  auto apply = [&] {
    if (o.owner != id_) {
      Fail(Outcome::kDataRace,
           o.owner.valid()
               ? fmt::format("cpu {} pushes block `{}`, which cpu {} owns", id_,
                             machine_->log_.object_name(b.id), o.owner)
               : fmt::format("cpu {} pushes block `{}`, which it never pulled", id_,
                             machine_->log_.object_name(b.id)),
           o.owner.valid() ? std::vector<CpuId>{o.owner} : std::vector<CpuId>{});
    }
    o.owner = CpuId();
    if (machine_->keep_pushes_) {
      machine_->pushes_.emplace_back(machine_->log_.size(), machine_->pushed_words_.size());
      machine_->pushed_words_.insert(machine_->pushed_words_.end(), o.data.begin(), o.data.end());
    }
    return ++o.version;
  };
  StepWith({.object = b.id, .kind = kinds::kPush, .code = OpCode::kPush,
            .arg0 = static_cast<std::int64_t>(o.hash), .arg1 = note, .apply = apply},
           apply, where);
}

std::int64_t Cpu::Read(Block b, std::size_t i) {
  Machine::Object& o = machine_->objects_[b.id.index()];
  STRATA_CHECK(i < o.data.size(), "read of word {} of a {}-word block", i, o.data.size());
  if (o.owner != id_) {
    Fail(Outcome::kDataRace,
         fmt::format("cpu {} reads block `{}` without owning it (owner: {})", id_,
                     machine_->log_.object_name(b.id), o.owner),
         o.owner.valid() ? std::vector<CpuId>{o.owner} : std::vector<CpuId>{});
  }
  return o.data[i];
}

void Cpu::Write(Block b, std::size_t i, std::int64_t value) {
  Machine::Object& o = machine_->objects_[b.id.index()];
  STRATA_CHECK(i < o.data.size(), "write of word {} of a {}-word block", i, o.data.size());
  if (o.owner != id_) {
    Fail(Outcome::kDataRace,
         fmt::format("cpu {} writes block `{}` without owning it (owner: {})", id_,
                     machine_->log_.object_name(b.id), o.owner),
         o.owner.valid() ? std::vector<CpuId>{o.owner} : std::vector<CpuId>{});
  }
  o.hash += BlockWordHash(i, value) - BlockWordHash(i, o.data[i]);
  o.data[i] = value;
}

// ---------------------------------------------------------------- Machine

Machine::Machine(MachineOptions options)
    : options_(options),
      guard_(options.cpus, options.fairness != 0
                               ? options.fairness
                               : 8 * static_cast<std::uint64_t>(options.cpus)) {
  STRATA_CHECK(options_.cpus >= 1 && options_.cpus <= kMaxCpus, "cpus = {}", options_.cpus);
  STRATA_CHECK(options_.stack_bytes >= 16 * 1024, "stack of {} bytes", options_.stack_bytes);
  STRATA_CHECK(!options_.focus.valid() || options_.focus.value() < options_.cpus,
               "focus on cpu {} of {}", options_.focus, options_.cpus);
  if (options_.stacks != nullptr && options_.stacks->stack_bytes() == options_.stack_bytes) {
    stacks_ = options_.stacks;
  } else {
    own_stacks_ = std::make_unique<StackPool>(options_.stack_bytes);
    stacks_ = own_stacks_.get();
  }
  // Sized once: a checker makes two machines per execution.
  cpus_.reserve(static_cast<std::size_t>(options_.cpus));
  runnable_.reserve(static_cast<std::size_t>(options_.cpus));
  objects_.reserve(Log::kFewObjects);
  for (int i = 0; i < options_.cpus; ++i) {
    cpus_.push_back(std::unique_ptr<Cpu>(new Cpu(this, CpuId(i))));
  }
}

Machine::~Machine() {
  tearing_down_ = true;
  for (auto it = teardown_.rbegin(); it != teardown_.rend(); ++it) (*it)();
  // Abandoned fibers cannot be unwound; free their stacks by hand. The rest
  // are unwound by their fiber's destructor.
  for (auto& cpu : cpus_) {
    if (cpu->abandoned_ && cpu->stack_.sp != nullptr) {
      stacks_->Discard(cpu->stack_);
    }
  }
  cpus_.clear();
  GiveBuffer(schedule_.release(), schedule_room_ * sizeof(CpuId));
}

ObjectId Machine::AddObject(std::string name, Object::Type type) {
  STRATA_CHECK(!ran_, "objects must be made before the run");
  objects_.push_back(Object{.type = type});
  return log_.AddObject(std::move(name));
}

Word Machine::NewWord(std::string name, std::int64_t initial, CpuId mine) {
  STRATA_CHECK(!mine.valid() || mine.value() < cpus(), "word {}: cpu {} of {}", name, mine, cpus());
  Word w{AddObject(std::move(name), Object::Type::kWord)};
  objects_.back().value = initial;
  objects_.back().mine = mine;
  return w;
}

Block Machine::NewBlock(std::string name, std::size_t words, CpuId mine) {
  STRATA_CHECK(!mine.valid() || mine.value() < cpus(), "block {}: cpu {} of {}", name, mine, cpus());
  Block b{AddObject(std::move(name), Object::Type::kBlock)};
  Object& o = objects_.back();
  o.mine = mine;
  o.data.assign(words, 0);
  o.hash = static_cast<std::uint64_t>(BlockHash(o.data));
  return b;
}

ObjectId Machine::NewObject(std::string name) {
  return AddObject(std::move(name), Object::Type::kAbstract);
}

void Machine::AddMonitor(ObjectId object, std::unique_ptr<Monitor> monitor) {
  objects_[object.index()].monitor = std::move(monitor);
}

const Event& Machine::Append(Cpu& cpu, const Op& op, std::int64_t result) {
  return log_.Append(cpu.id_, cpu.thread_, op.object, op.kind, op.arg0, op.arg1, result, op.code,
                     op.where);
}

void Machine::Fail(Outcome outcome, std::vector<CpuId> cpus, std::string message) {
  if (failed_) return;  // the first failure is the one reported
  failed_ = true;
  UpdateFastPath();
  report_.outcome = outcome;
  report_.cpus = std::move(cpus);
  report_.message = std::move(message);
}

void Machine::SetRunnable(Cpu& cpu, bool runnable) {
  if (cpu.runnable_ == runnable) return;
  cpu.runnable_ = runnable;
  auto it = std::lower_bound(runnable_.begin(), runnable_.end(), cpu.id_);
  if (runnable) {
    runnable_.insert(it, cpu.id_);
    guard_.AddRunnable(cpu.id_, step_);
  } else {
    runnable_.erase(it);
  }
  // UpdateFastPath, knowing that only runnable_ changed.
  if (runnable_.empty()) {
    fast_until_ = 0;
  } else if (fast_until_ == 0 && !failed_ && input_error_.ok()) {
    fast_until_ = options_.max_steps;
  }
}

void Machine::Reevaluate(ObjectId object, const Cpu& except) {
  for (CpuId w : objects_[object.index()].watchers) {
    Cpu& other = *cpus_[w.index()];
    if (&other == &except) continue;
    bool ready = other.Ready();
    other.state_ = ready ? Cpu::State::kRunnable : Cpu::State::kBlocked;
    SetRunnable(other, ready);
  }
}

std::string Machine::DescribeWait(const Cpu& cpu) const {
  const Op& op = *cpu.pending_;
  const Object& o = objects_[op.object.index()];
  std::string what = fmt::format("cpu {} waits at `{}` on `{}`", cpu.id_, op.kind,
                                 log_.object_name(op.object));
  if (o.type == Object::Type::kWord) what += fmt::format(" (value {})", o.value);
  if (o.monitor != nullptr) what += fmt::format(" ({})", o.monitor->Describe());
  return what;
}

CpuId Machine::DecideSlow() {
  if (failed_ || !input_error_.ok()) return CpuId();
  if (runnable_.empty()) {
    if (unfinished_ == 0) return CpuId();
    std::vector<CpuId> waiting;
    std::string detail;
    for (auto& cpu : cpus_) {
      if (cpu->state_ != Cpu::State::kBlocked) continue;
      waiting.push_back(cpu->id_);
      detail += (detail.empty() ? "" : "; ") + DescribeWait(*cpu);
    }
    Fail(Outcome::kDeadlock, waiting,
         fmt::format("{} cpus wait and none can run: {}", waiting.size(), detail));
    return CpuId();
  }
  STRATA_CHECK(step_ >= options_.max_steps, "no reason to stop at step {}", step_);
  Fail(Outcome::kStepBudget, {runnable_.begin(), runnable_.end()},
       fmt::format("{} cpus still running after the step budget of {} steps (livelock, "
                   "or raise run.max_steps)",
                   runnable_.size(), options_.max_steps));
  return CpuId();
}

void Machine::GrowSchedule() {
  // Small at first: most runs of a checker are short.
  static_assert(std::is_trivially_copyable_v<CpuId> && std::is_trivially_destructible_v<CpuId>);
  std::uint64_t room = std::max<std::uint64_t>(256, 2 * schedule_room_);
  void* p;
  if (schedule_ == nullptr) {
    std::size_t bytes;
    std::tie(p, bytes) = TakeBuffer(room * sizeof(CpuId));  // an earlier machine's, if one fits
    room = bytes / sizeof(CpuId);
  } else {
    p = std::realloc(schedule_.get(), room * sizeof(CpuId));
    STRATA_CHECK(p != nullptr, "cannot grow the schedule to {} steps", room);
  }
  static_cast<void>(schedule_.release());
  schedule_.reset(static_cast<CpuId*>(p));
  schedule_room_ = room;
}

CpuId Machine::Overrule(CpuId chosen, CpuId overdue) {
  if (!chosen.valid()) {
    input_error_ = oracle_->error();
    STRATA_CHECK(!input_error_.ok(), "oracle {} picked no cpu", oracle_->Describe());
    UpdateFastPath();
    return CpuId();
  }
  if (oracle_->replays()) {
    Fail(Outcome::kUnfairSchedule, {overdue, chosen},
         fmt::format("the schedule runs cpu {} at step {} where cpu {} (waiting {} steps) must "
                     "run for every cpu to keep the fairness bound {}",
                     chosen, step_, overdue, guard_.Waited(overdue, step_), guard_.bound()));
    return CpuId();
  }
  return overdue;
}

CpuId Machine::WaitedTooLong(CpuId cpu) {
  Fail(Outcome::kUnfairSchedule, {cpu},
       fmt::format("cpu {} waited {} steps for step {}, above the fairness bound {} (a bound "
                   "below the number of runnable cpus cannot be kept)",
                   cpu, guard_.worst_wait(), step_ - 1, guard_.bound()));
  return CpuId();
}

ctx::fiber& Machine::Next(Cpu& self) {
  if (starting_) return main_;
  CpuId next = Decide();
  if (!next.valid()) return main_;
  return next == self.id_ ? self.fiber_ : cpus_[next.index()]->fiber_;
}


absl::StatusOr<RunReport> Machine::Run(const Program& program, Oracle& oracle) {
  STRATA_CHECK(!ran_, "Machine::Run is called once");
  ran_ = true;
  program_ = program;  // a copy: unwinding suspended CPUs may still touch its captures
  oracle_ = &oracle;
  unfinished_ = options_.cpus;
  for (auto& cpu : cpus_) cpu->Start();

  // Turn a hit on a guard page into a report: the handler runs on its own
  // stack and jumps back here. A machine run from inside another's CPU
  // hands the handler back to the outer one when it ends.
  if (g_handler_scopes == 0) PrepareForOverflow(&Machine::HandleSegv);
  Machine* const outer = g_running_machine;
  g_running_machine = this;
#if defined(BOOST_USE_UCONTEXT)
  main_record_ = ctx::detail::fiber_activation_record::current();
#endif

  // No signal mask is saved (that would be a system call per run); the one
  // change the jump leaves, SIGSEGV blocked, is undone by OnOverflow.
  if (sigsetjmp(overflow_env_, 0) == 0) {
    // Each CPU runs its private prefix up to its first shared op, in id order.
    starting_ = true;
    for (auto& cpu : cpus_) {
      TransferTo(cpu->fiber_, &main_);
      if (failed_) break;
    }
    starting_ = false;
    // From here the CPUs hand control to each other; it comes back here
    // when the run is over.
    CpuId first = Decide();
    if (first.valid()) TransferTo(cpus_[first.index()]->fiber_, &main_);
  } else {
    starting_ = false;
    OnOverflow();
  }

  g_running_machine = outer;

  report_.steps = step_;
  absl::Status finish = oracle.Finish(step_);
  if (!input_error_.ok()) return input_error_;
  if (report_.outcome != Outcome::kUnfairSchedule && !finish.ok()) return finish;
  return report_;
}

OverflowHandlerScope::OverflowHandlerScope() {
  PrepareForOverflow(&Machine::HandleSegv);
  ++g_handler_scopes;
}

OverflowHandlerScope::~OverflowHandlerScope() { --g_handler_scopes; }

void Machine::HandleSegv(int sig, siginfo_t* info, void* context) {
  Machine* m = g_running_machine;
  const ctx::stack_context* stack = nullptr;
  if (m != nullptr && m->running_ != nullptr) {
    stack = m->running_->running_stack_ != nullptr ? m->running_->running_stack_
                                                   : &m->running_->stack_;
  }
  if (stack != nullptr && stack->sp != nullptr) {
    auto* addr = static_cast<char*>(info->si_addr);
    char* base = static_cast<char*>(stack->sp) - stack->size;
    // The guard page is the lowest page of the mapping; a large frame may
    // step a little past it.
    if (addr >= base - 256 * 1024 && addr < base + 4096) {
#if defined(STRATA_SANITIZED)
      auto* main = static_cast<ctx::detail::fiber_activation_record*>(m->main_record_);
      __sanitizer_start_switch_fiber(nullptr, main->stack_bottom, main->stack_size);
#endif
      siglongjmp(m->overflow_env_, 1);
    }
  }
  // Not a simulated stack overflow: the previous handler deals with it, or,
  // if there was none, the default action when the fault recurs.
  const struct sigaction& previous = g_previous_segv;
  if ((previous.sa_flags & SA_SIGINFO) != 0) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  sigaction(SIGSEGV, &previous, nullptr);
}

void Machine::OnOverflow() {
  // The kernel blocked SIGSEGV while the handler ran and the jump out of it
  // did not restore the mask; it was unblocked before (a synchronous fault
  // with SIGSEGV blocked kills the process), so unblock it for the next run.
  sigset_t segv;
  sigemptyset(&segv);
  sigaddset(&segv, SIGSEGV);
  pthread_sigmask(SIG_UNBLOCK, &segv, nullptr);
  Cpu& cpu = *running_;
  running_ = nullptr;
#if defined(BOOST_USE_UCONTEXT)
  auto* main = static_cast<ctx::detail::fiber_activation_record*>(main_record_);
  ctx::detail::fiber_activation_record::current() = main;
#if defined(STRATA_SANITIZED)
  __sanitizer_finish_switch_fiber(main->fake_stack, nullptr, nullptr);
#endif
#endif
  new (&parked_.handle) ctx::fiber(std::move(main_));
  cpu.state_ = Cpu::State::kFailed;
  SetRunnable(cpu, false);
  if (cpu.running_stack_ != nullptr) {
    // A thread's stack: its owner frees it; the CPU's own fiber (suspended
    // elsewhere) unwinds as usual.
    const ctx::stack_context& s = *cpu.running_stack_;
    Fail(Outcome::kStackOverflow, {cpu.id_},
         fmt::format("thread {} on cpu {} overflowed its stack (hit the guard page)",
                     cpu.thread_, cpu.id_));
    if (cpu.on_overflow_) cpu.on_overflow_(s);
    return;
  }
  cpu.abandoned_ = true;
  Fail(Outcome::kStackOverflow, {cpu.id_},
       fmt::format("cpu {} overflowed its {} KiB stack (hit the guard page)", cpu.id_,
                   options_.stack_bytes / 1024));
}

}  // namespace strata::machine
