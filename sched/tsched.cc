#include "sched/tsched.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "layers/layer.h"
#include "machine/check.h"
#include "machine/environment.h"
#include "machine/escape.h"
#include "machine/log.h"

namespace strata::sched {
namespace {

using machine::OpCode;
using machine::Outcome;

// A call or return marker (not a ghost).
bool IsBorder(const Event& e) { return e.op == OpCode::kCall || e.op == OpCode::kReturn; }

class ThreadFairnessMonitor final : public machine::Monitor {
 public:
  // `live`: in a per-thread machine, the spawn instance of the thread that
  // runs live (its own overrun is its fault, not its environment's).
  ThreadFairnessMonitor(ObjectId sched, int cpus, ThreadBounds bounds,
                        std::optional<std::size_t> live = std::nullopt)
      : sched_(sched), bounds_(bounds), live_(live), running_(static_cast<std::size_t>(cpus)),
        steps_(static_cast<std::size_t>(cpus), 0), switching_(static_cast<std::size_t>(cpus)) {}

  bool Observe(const Event& e) override {
    const std::size_t c = e.cpu.index();
    if (running_[c] != e.thread) {  // a dispatch (or the idle context)
      running_[c] = e.thread;
      steps_[c] = 0;
      switching_[c] = false;
      if (Thread* t = Find(e.thread)) t->ready = false;
    }
    if (IsBorder(e) && e.object == sched_) return OnMarker(e, c);
    // The steps of a yield or sleep itself are the scheduler's, not a run's.
    Thread* t = e.marker() || switching_[c] ? nullptr : Find(e.thread);
    if (t == nullptr) return true;
    t->worst_progress = std::max(t->worst_progress, ++steps_[c]);
    if (bounds_.progress > 0 && steps_[c] > bounds_.progress) {
      const bool own = live_ && live_of_.at(e.thread.value()) == *live_;
      why_ = fmt::format("{}: thread {} ran {} steps on cpu {} without yielding, sleeping or "
                         "exiting (progress bound {})",
                         own ? "the live thread breaks the progress bound it owes its environment"
                             : "unfair environment",
                         e.thread, steps_[c], e.cpu, bounds_.progress);
      outcome_ = Outcome::kUnfairSchedule;
      return false;
    }
    return true;
  }

  std::string Describe() const override {
    if (!why_.empty()) return why_;
    std::int64_t q = 0, p = 0;
    for (const Thread& t : spawned_) {
      q = std::max(q, t.worst_queries);
      p = std::max(p, t.worst_progress);
    }
    return fmt::format("worst wait {} queries (limit {}), worst run {} steps (progress {})", q,
                       bounds_.limit, p, bounds_.progress);
  }
  Outcome outcome() const override { return outcome_; }

  // By spawn instance (tids are reused once a thread exits).
  std::int64_t worst_queries(std::size_t instance) const { return spawned_[instance].worst_queries; }
  std::int64_t worst_progress(std::size_t instance) const {
    return spawned_[instance].worst_progress;
  }

 private:
  struct Thread {
    CpuId home;
    bool ready = false;
    std::int64_t queries = 0;  // while READY
    std::int64_t worst_queries = 0;
    std::int64_t worst_progress = 0;
  };

  // The thread instance that has tid `t` now, if any.
  Thread* Find(ThreadId t) {
    if (!t.valid()) return nullptr;
    auto it = live_of_.find(t.value());
    return it == live_of_.end() ? nullptr : &spawned_[it->second];
  }

  bool OnMarker(const Event& e, std::size_t c) {
    if (e.kind == kinds::kRetSpawn) {
      live_of_[static_cast<ThreadId::Rep>(e.result)] = spawned_.size();
      spawned_.push_back(Thread{.home = e.cpu, .ready = true});
      return true;
    }
    if (e.kind == kinds::kRetWakeup && e.result >= 0) {
      if (Thread* t = Find(ThreadId(static_cast<ThreadId::Rep>(e.result)))) {
        t->ready = true;
        t->queries = 0;
      }
      return true;
    }
    if ((e.kind == kinds::kRetYield || e.kind == kinds::kRetSleep) && e.thread.valid()) {
      // Back (a yield may not have switched at all): a new run starts.
      if (Thread* t = Find(e.thread)) t->ready = false;
      steps_[c] = 0;
      switching_[c] = false;
      return true;
    }
    const bool switch_out =
        e.kind == kinds::kCallYield || e.kind == kinds::kCallSleep || e.kind == kinds::kCallExit;
    if (!switch_out || !e.thread.valid()) return true;
    switching_[c] = true;
    // A scheduling query on this CPU: every other READY thread of it waits
    // one more.
    for (const auto& [tid, k] : live_of_) {
      Thread& t = spawned_[k];
      if (!t.ready || t.home != e.cpu || tid == e.thread.value()) continue;
      t.worst_queries = std::max(t.worst_queries, ++t.queries);
      if (bounds_.limit > 0 && t.queries > bounds_.limit) {
        why_ = fmt::format("thread {} on cpu {} has waited READY through {} scheduling queries "
                           "(limit {}): starved",
                           tid, e.cpu, t.queries, bounds_.limit);
        return false;
      }
    }
    if (e.kind == kinds::kCallYield) {
      if (Thread* t = Find(e.thread)) {
        t->ready = true;
        t->queries = 0;
      }
    }
    return true;
  }

  ObjectId sched_;
  ThreadBounds bounds_;
  std::optional<std::size_t> live_;
  std::vector<Thread> spawned_;                    // by spawn instance
  std::map<ThreadId::Rep, std::size_t> live_of_;   // tid -> its instance now
  std::vector<ThreadId> running_;     // per CPU: whose events come now
  std::vector<std::int64_t> steps_;   // per CPU: the running thread's steps since dispatch
  std::vector<bool> switching_;       // per CPU: inside a yield, sleep or exit
  std::string why_;
  Outcome outcome_ = Outcome::kThreadStarved;
};

// The scheduler's replay over every event of a per-thread machine, the
// state TSched's primitives read their results and enabledness from. An
// event it refuses ends the run: as impossible-log when it is the live
// thread's own, as invalid-environment when ε_t appended it.
class ThreadMachineFold final : public machine::Monitor {
 public:
  ThreadMachineFold(SchedReplay replay, ThreadId live, CpuId home)
      : replay_(std::move(replay)), state_(replay_.Init()), live_(live), home_(home) {}
  // Whether the live thread, not ε_t, appends the home CPU's events now.
  void set_home_live(bool live) { home_live_ = live; }
  const std::vector<bool>& live_events() const { return live_events_; }
  std::size_t live_count() const { return live_count_; }
  bool Observe(const Event& e) override {
    live_events_.push_back(e.cpu == home_ && home_live_);
    live_count_ += live_events_.back() ? 1 : 0;
    if (replay_.Step(state_, e, &why_)) return true;
    outcome_ = live_events_.back() ? Outcome::kImpossibleLog : Outcome::kInvalidEnvironment;
    if (outcome_ == Outcome::kInvalidEnvironment) {
      why_ = fmt::format("the environment of thread {} appended an event the scheduler's replay "
                         "refuses: {}",
                         live_, why_);
    }
    return false;
  }
  std::string Describe() const override {
    return why_.empty() ? fmt::format("{}", state_) : why_;
  }
  Outcome outcome() const override { return outcome_; }
  const SchedState& state() const { return state_; }

 private:
  SchedReplay replay_;
  SchedState state_;
  ThreadId live_;
  CpuId home_;
  bool home_live_ = false;
  std::vector<bool> live_events_;
  std::size_t live_count_ = 0;
  std::string why_;
  Outcome outcome_ = Outcome::kImpossibleLog;
};

// TSched[t, ε_t] on one machine: t's primitives as the spec's atomic steps,
// and ε_t replaying the recording's other events, CPU by CPU, in order.
class TSched final : public Threads {
 public:
  TSched(Machine& m, const CSched& setup, const SpecRecording& recording, std::size_t instance,
         Entry entry)
      : machine_(m), setup_(setup), replay_(setup.Replay()), sched_(setup.object()),
        level_(recording.level), recorded_(recording),
        instance_(static_cast<std::int64_t>(instance)), live_(recording.instances[instance]),
        home_(recording.homes[instance]), entry_(std::move(entry)),
        events_(static_cast<std::size_t>(m.cpus())), next_(static_cast<std::size_t>(m.cpus()), 0) {
    for (std::size_t i = 0; i < level_.size(); ++i) events_[level_[i].cpu.index()].push_back(i);
    auto fold = std::make_unique<ThreadMachineFold>(replay_, live_, home_);
    fold_ = fold.get();
    m.AddGlobalMonitor(std::move(fold));
  }

  const std::vector<bool>& live_events() const { return fold_->live_events(); }

  Machine::Program Program() {
    return [this](Cpu& cpu) {
      Act(cpu);
      if (cpu.id() != home_) return;
      ScheduledBack(cpu, "dispatch it");  // its first dispatch
      if (const std::optional<std::string> escaped = machine::Escaped([&] { entry_(*this, cpu); })) {
        cpu.Fail(Outcome::kException,
                 fmt::format("thread {} on cpu {} threw: {}", live_, cpu.id(), *escaped));
      }
      Call(cpu, std::source_location::current(), kExitPrim);
      SkipOwn(cpu, "exit");
      Act(cpu);  // the rest of its CPU
    };
  }

  // The child is ε_t's.
  ThreadId Spawn(Cpu& cpu, Entry,
                 std::source_location where = std::source_location::current()) override {
    return ThreadId(static_cast<ThreadId::Rep>(Call(cpu, where, kSpawnPrim, 0, 0, kReturns)));
  }
  void Yield(Cpu& cpu, std::source_location where = std::source_location::current()) override {
    layers::MarkCall(cpu, sched_, kYieldPrim, 0, 0, where);
    Atomic(cpu, kinds::kYield);
    SwitchOut(cpu, 0);
    layers::MarkReturn(cpu, sched_, kYieldPrim, 0, where);
  }
  void SleepUnlocked(Cpu& cpu, Cv given,
                     std::source_location where = std::source_location::current()) override {
    const Cv cv = OwnCv(cpu, given, "sleep");
    CheckMadeInvariant(cpu, cv.lock, "its release (sleep)");
    layers::MarkCall(cpu, sched_, kSleepPrim, cv.index, cv.lock.index, where);
    Atomic(cpu, kinds::kSleep, cv.index, cv.lock.index);
    SwitchOut(cpu, 1);
    layers::MarkReturn(cpu, sched_, kSleepPrim, 0, where);
  }
  ThreadId Wakeup(Cpu& cpu, Cv given,
                  std::source_location where = std::source_location::current()) override {
    const Cv cv = OwnCv(cpu, given, "wakeup");
    const std::int64_t woken = Call(cpu, where, kWakeupPrim, cv.index, cv.lock.index, kReturns);
    return woken < 0 ? ThreadId() : ThreadId(static_cast<ThreadId::Rep>(woken));
  }
  void Lock(Cpu& cpu, SchedLock l,
            std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "lock");
    auto free = [&] { return !fold_->state().holders[static_cast<std::size_t>(l.index)].valid(); };
    absl::FunctionRef<bool()> enabled(free);
    Call(cpu, where, kLockPrim, l.index, 0, !kReturns, &enabled);
  }
  void Unlock(Cpu& cpu, SchedLock l,
              std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "unlock");
    CheckMadeInvariant(cpu, l, "its release (unlock)");
    Call(cpu, where, kUnlockPrim, l.index);
  }
  void MakeLock(Cpu& cpu, SchedLock l, LockInvariant invariant,
                std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "makelock");
    made_.emplace_back(l.index, std::move(invariant));
    CheckMadeInvariant(cpu, l, "makelock");
    Call(cpu, where, kMakeLockPrim, l.index);
  }
  void Share(Cpu& cpu, SchedLock l, ThreadId t,
             std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "share");
    cpu.Annotate(sched_, kinds::kShare, l.index, t.value(), 0, machine::OpCode::kGhost, where);
  }
  void DropShare(Cpu& cpu, SchedLock l,
                 std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "drop share");
    cpu.Annotate(sched_, kinds::kDropShare, l.index, 0, 0, machine::OpCode::kGhost, where);
  }
  void FreeLock(Cpu& cpu, SchedLock l,
                std::source_location where = std::source_location::current()) override {
    CheckLockExists(cpu, l, "freelock");
    CheckMadeInvariant(cpu, l, "freelock");
    Call(cpu, where, kFreeLockPrim, l.index);
  }
  Machine& machine() override { return machine_; }
  int cpus() const override { return machine_.cpus(); }

 private:
  // The spec's atomic step; the fold (a global monitor) applies it.
  void Atomic(Cpu& cpu, EventKind kind, std::int64_t arg0 = 0, std::int64_t arg1 = 0,
              const absl::FunctionRef<bool()>* enabled = nullptr) {
    auto zero = [] { return std::int64_t{0}; };
    cpu.Step({.object = sched_, .kind = kind, .arg0 = arg0, .arg1 = arg1, .apply = zero,
              .ready = enabled, .where = cpu.call_site()});
    cpu.Linearize();
  }
  std::int64_t Returned(const Cpu& cpu) const { return fold_->state().returns[cpu.id().index()]; }
  // A primitive that is one atomic step between its markers; its return
  // marker carries what the spec returns when `returns`, else 0.
  static constexpr bool kReturns = true;
  std::int64_t Call(Cpu& cpu, std::source_location where, const layers::Primitive& p,
                    std::int64_t arg0 = 0, std::int64_t arg1 = 0, bool returns = false,
                    const absl::FunctionRef<bool()>* enabled = nullptr) {
    layers::MarkCall(cpu, sched_, p, arg0, arg1, where);
    Atomic(cpu, p.atomic, arg0, arg1, enabled);
    const std::int64_t result = returns ? Returned(cpu) : 0;
    layers::MarkReturn(cpu, sched_, p, result, where);
    return result;
  }

  // t is off its CPU: ε_t acts there until the log makes t current again.
  void SwitchOut(Cpu& cpu, std::int64_t from) {
    SkipOwn(cpu, from == 0 ? "yield" : "sleep");
    Act(cpu);
    ScheduledBack(cpu, from == 0 ? "schedule it back after its yield"
                                 : "schedule it back after its sleep");
    cpu.Annotate(sched_, kinds::kYieldBack, from, 0, 0);
  }

  // ε_t has acted on t's CPU: the log must make t current there now, and
  // the recording's next event there must be t's.
  void ScheduledBack(Cpu& cpu, std::string_view what) {
    cpu.set_thread(live_);
    fold_->set_home_live(true);
    const ThreadId current = fold_->state().current[home_.index()];
    if (current == live_ && !Done(home_) && Own(NextPosition(home_))) return;
    cpu.Fail(Outcome::kInvalidEnvironment,
             fmt::format("the environment of thread {} does not {} on cpu {} (its recorded "
                         "events there {}; cpu {} runs {})",
                         live_, what, home_, Done(home_) ? "end" : "go on", home_,
                         current.valid() ? fmt::format("thread {}", current)
                                         : std::string("its idle context")));
  }

  bool Done(CpuId c) const { return next_[c.index()] >= events_[c.index()].size(); }
  std::size_t NextPosition(CpuId c) const { return events_[c.index()][next_[c.index()]]; }
  bool Own(std::size_t position) const { return recorded_.owner[position] == instance_; }
  // Passes over t's recorded events up to its switch-out `at` (yield, sleep,
  // exit): as many as it appended live. Fewer or more means t does not do
  // what it did in the recording: its fault, not its environment's.
  void SkipOwn(Cpu& cpu, std::string_view at) {
    const CpuId c = cpu.id();
    while (!Done(c) && Own(NextPosition(c)) && skipped_ < fold_->live_count()) {
      ++next_[c.index()];
      ++skipped_;
    }
    const bool extra = skipped_ < fold_->live_count();
    // Its recorded events go on: fine if it is still current (a yield that
    // found no one else to run), else they are missing.
    const bool missing = !Done(c) && Own(NextPosition(c)) &&
                         fold_->state().current[home_.index()] != live_;
    if (!extra && !missing) return;
    cpu.Fail(Outcome::kImpossibleLog,
             fmt::format("thread {} on cpu {} does not do what it did in the recording: at its {} "
                         "{}",
                         live_, c, at,
                         extra ? fmt::format("it has appended {} events, the recording {}",
                                             fold_->live_count(), skipped_)
                               : fmt::format("the recording has more of its events (it has "
                                             "appended {})",
                                             fold_->live_count())));
  }
  // ε_t on `cpu`: its recorded events, in order, up to t's next one.
  void Act(Cpu& cpu) {
    const CpuId c = cpu.id();
    const bool home = c == home_;
    if (home) fold_->set_home_live(false);
    while (!Done(c) && !Own(NextPosition(c))) {
      const std::size_t position = NextPosition(c);
      ++next_[c.index()];
      const Event& e = level_[position];
      machine::ReplayEvent(cpu, e,
                           e.op == OpCode::kPush
                               ? recorded_.machine->pushed(recorded_.origin[position])
                               : std::span<const std::int64_t>());
    }
    if (home) fold_->set_home_live(true);
  }

  Cv OwnCv(Cpu& cpu, Cv cv, std::string_view primitive) {
    if (cv.index < 0 || cv.index >= static_cast<int>(replay_.cv_locks.size())) {
      cpu.Fail(Outcome::kImpossibleLog,
               fmt::format("thread {} on cpu {} calls {} on cv {}, which does not exist", live_,
                           cpu.id(), primitive, cv.index));
    }
    return Cv{cv.index, SchedLock{replay_.cv_locks[static_cast<std::size_t>(cv.index)]}};
  }
  void CheckLockExists(Cpu& cpu, SchedLock l, std::string_view primitive) {
    if (l.index < 0 || l.index >= replay_.locks) {
      cpu.Fail(Outcome::kImpossibleLog,
               fmt::format("thread {} on cpu {} calls {} on lock {}, which does not exist", live_,
                           cpu.id(), primitive, l.index));
    }
  }
  // The invariants of the locks t made: the others' are checked where their
  // makers run live.
  void CheckMadeInvariant(Cpu& cpu, SchedLock l, std::string_view where) {
    for (const auto& [index, invariant] : made_) {
      if (index == l.index) CheckLockInvariant(cpu, invariant, setup_.lock_name(l), where);
    }
  }

  Machine& machine_;
  const CSched& setup_;  // made the objects; its lock names
  SchedReplay replay_;
  ObjectId sched_;
  const std::vector<Event>& level_;
  const SpecRecording& recorded_;
  std::int64_t instance_;
  ThreadId live_;
  CpuId home_;
  Entry entry_;
  std::vector<std::vector<std::size_t>> events_;  // per CPU: its positions in level_
  std::vector<std::size_t> next_;                 // per CPU: its next one
  std::size_t skipped_ = 0;                       // of t's recorded events
  ThreadMachineFold* fold_ = nullptr;             // owned by the machine
  std::vector<std::pair<int, LockInvariant>> made_;
};

// `o` with the pool sized and the stacks of the machine `mo`.
SchedOptions Sized(const SchedOptions& o, const machine::MachineOptions& mo,
                   const ClientParams& params) {
  SchedOptions so = o;
  so.max_threads = PoolCapacity(o.max_threads, mo.cpus, params.threads);
  so.stack_bytes = mo.stack_bytes;
  return so;
}

// The log hash of `events` (machine::Log::hash, as every command prints it).
std::uint64_t HashEvents(std::span<const Event> events) {
  machine::Log log;
  for (const Event& e : events) log.Append(e);
  return log.hash();
}

}  // namespace

std::unique_ptr<machine::Monitor> MakeThreadFairnessMonitor(ObjectId sched, int cpus,
                                                            ThreadBounds bounds) {
  return std::make_unique<ThreadFairnessMonitor>(sched, cpus, bounds);
}

std::vector<Event> ThreadLevelLog(std::span<const Event> log, ObjectId sched) {
  std::vector<Event> level;
  level.reserve(log.size() + log.size() / 4);
  for (const Event& e : log) {
    const bool back = e.op == OpCode::kReturn && e.object == sched && e.thread.valid() &&
                      (e.kind == kinds::kRetYield || e.kind == kinds::kRetSleep);
    if (back) {
      level.push_back(Event{.cpu = e.cpu, .thread = e.thread, .object = sched,
                            .op = OpCode::kGhost, .kind = kinds::kYieldBack,
                            .arg0 = e.kind == kinds::kRetYield ? 0 : 1});
    }
    level.push_back(e);
  }
  for (std::size_t i = 0; i < level.size(); ++i) level[i].seq = i;
  return level;
}

SpecRecording RecordSpecRun(const LinkOptions& o, std::vector<CpuId> choices) {
  SpecRecording r;
  machine::MachineOptions mo = o.machine;
  mo.fairness = std::numeric_limits<std::uint64_t>::max() / 4;
  r.machine = std::make_unique<Machine>(mo);
  r.machine->KeepPushedContents();
  const SchedOptions so = Sized(o.sched, mo, o.params);
  r.sched = MakeSpecSched(*r.machine, so);
  STRATA_CHECK(o.workload.start != nullptr, "tlink without a workload");
  ClientRun client = o.workload.start(*r.sched, o.params);
  auto oracle = machine::MakeOracle({.kind = machine::OracleKind::kReplay,
                                     .cpus = mo.cpus,
                                     .replay = std::move(choices),
                                     .replay_source = "the mapped log"});
  r.report = r.machine->Run(CSched::Boot(r.sched, client.init), *oracle);
  r.level = ThreadLevelLog(r.machine->log().events(), r.sched->object());
  r.origin.reserve(r.level.size());
  r.owner.reserve(r.level.size());
  std::uint64_t seq = 0;
  std::map<ThreadId::Rep, std::int64_t> instance_of;  // the live instance of each tid
  const ObjectId sched = r.sched->object();
  for (const Event& e : r.level) {
    r.origin.push_back(seq);
    if (!(e.op == OpCode::kGhost && e.kind == kinds::kYieldBack)) ++seq;
    auto it = e.thread.valid() ? instance_of.find(e.thread.value()) : instance_of.end();
    r.owner.push_back(it == instance_of.end() ? -1 : it->second);
    if (e.op == OpCode::kReturn && e.object == sched && e.kind == kinds::kRetSpawn) {
      const ThreadId child(static_cast<ThreadId::Rep>(e.result));
      instance_of[child.value()] = static_cast<std::int64_t>(r.instances.size());
      r.instances.push_back(child);
      r.homes.push_back(e.cpu);
    }
  }
  return r;
}

ThreadRun RunThreadMachine(const SpecRecording& recording, const LinkOptions& o,
                           std::size_t instance) {
  const std::vector<Entry>& entries = recording.sched->spawned();
  STRATA_CHECK(instance < entries.size() && instance < recording.instances.size(),
               "thread {} was never spawned", instance);
  const SchedOptions so = Sized(o.sched, recording.machine->options(), o.params);
  // Declared before the machine, which unwinds the fibers that run them.
  std::shared_ptr<CSched> setup;
  std::optional<TSched> ts;
  Machine m(recording.machine->options());
  // The same objects as the recording's, made the same way.
  setup = MakeSpecSched(m, so);
  o.workload.start(*setup, o.params);
  ts.emplace(m, *setup, recording, instance, entries[instance]);
  if (o.bounds.limit > 0 || o.bounds.progress > 0) {
    m.AddGlobalMonitor(std::make_unique<ThreadFairnessMonitor>(setup->object(), m.cpus(),
                                                               o.bounds, instance));
  }
  const std::span<const CpuId> schedule = recording.machine->schedule();
  auto replay = machine::MakeOracle({.kind = machine::OracleKind::kReplay,
                                     .cpus = m.cpus(),
                                     .replay = {schedule.begin(), schedule.end()},
                                     .replay_source = "the recorded run",
                                     .replay_may_end_early = true});
  ThreadRun run;
  run.report = m.Run(ts->Program(), *replay);
  run.log.assign(m.log().events().begin(), m.log().events().end());
  run.live = ts->live_events();
  run.live.resize(run.log.size(), false);
  return run;
}

TLinkResult LinkThreads(const SpecRecording& recording, const LinkOptions& o) {
  TLinkResult result;
  STRATA_CHECK(recording.report.ok() && recording.report->ok(),
               "tlink of a recording that did not finish");
  result.recorded = *recording.report;
  const std::vector<Event>& level = recording.level;
  const ObjectId sched = recording.sched->object();
  result.recorded_hash = HashEvents(level);

  const std::vector<std::int64_t>& owner = recording.owner;
  ThreadFairnessMonitor fairness(sched, recording.machine->cpus(), ThreadBounds{});  // figures only
  for (std::size_t k = 0; k < recording.instances.size(); ++k) {
    result.threads.push_back(
        {.instance = k, .tid = recording.instances[k], .home = recording.homes[k]});
  }
  for (std::size_t i = 0; i < level.size(); ++i) {
    fairness.Observe(level[i]);
    if (owner[i] < 0) continue;
    ThreadLink& link = result.threads[static_cast<std::size_t>(owner[i])];
    ++link.events;
    if (level[i].op == OpCode::kGhost && level[i].kind == kinds::kYieldBack) ++link.yield_backs;
  }

  // Each thread in its machine; of each run only the positions its thread
  // owns are kept: the composition.
  std::vector<Event> composed = level;
  std::vector<bool> filled(level.size(), false);
  for (std::size_t i = 0; i < level.size(); ++i) filled[i] = owner[i] < 0;
  for (ThreadLink& link : result.threads) {
    link.worst_queries = fairness.worst_queries(link.instance);
    link.worst_progress = fairness.worst_progress(link.instance);
    const ThreadRun run = RunThreadMachine(recording, o, link.instance);
    const std::vector<Event>& got = run.log;
    const auto k = static_cast<std::int64_t>(link.instance);
    for (std::size_t i = 0; i < got.size() && i < level.size(); ++i) {
      if (owner[i] != k) continue;
      composed[i] = got[i];
      filled[i] = true;
    }
    // The projection on the thread: its events in its run and in the recording.
    std::vector<const Event*> mine, recorded_mine;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (run.live[i]) mine.push_back(&got[i]);
    }
    for (std::size_t i = 0; i < level.size(); ++i) {
      if (owner[i] == k) recorded_mine.push_back(&level[i]);
    }
    auto same_ignoring_position = [](const Event& a, const Event& b) {
      Event x = a;
      x.seq = b.seq;
      return x == b;
    };
    link.projection_ok =
        mine.size() == recorded_mine.size() &&
        std::equal(mine.begin(), mine.end(), recorded_mine.begin(),
                   [&](const Event* a, const Event* b) { return same_ignoring_position(*a, *b); });
    std::size_t i = 0;
    while (i < level.size() && i < got.size() && got[i] == level[i]) ++i;
    const bool finished = run.report.ok() && run.report->ok();
    if (i == level.size() && got.size() == level.size() && !finished) {
      link.problem = "its machine gives the thread-level log but does not finish";
    } else if (!link.projection_ok && i == level.size()) {
      link.problem = "its projection differs from its events in the thread-level log";
    }
    if (i < level.size() || got.size() != level.size() || !link.problem.empty()) {
      const machine::Log& names = recording.machine->log();
      if (link.problem.empty()) link.problem =
          i < level.size() && i < got.size()
              ? fmt::format("its machine departs from the thread-level log at t={}: `{}` instead of `{}`",
                            i, names.RenderText(got[i]), names.RenderText(level[i]))
              : fmt::format("its machine's log has {} events, the thread-level log {}", got.size(),
                            level.size());
      if (!run.report.ok()) {
        link.problem += fmt::format(" ({})", std::string(run.report.status().message()));
      } else if (!run.report->ok()) {
        link.problem += fmt::format(" ({}: {})", machine::OutcomeName(run.report->outcome),
                                    run.report->message);
      }
    }
  }

  result.composed_hash = HashEvents(composed);
  for (std::size_t i = 0; i < level.size(); ++i) {
    if (filled[i] && composed[i] == level[i]) continue;
    const std::int64_t k = owner[i];
    const ThreadLink& link = result.threads[static_cast<std::size_t>(k)];
    result.problem = fmt::format(
        "the composed log differs from the thread-level log at t={} (thread {} of cpu {}): "
        "recorded `{}`",
        i, link.tid, link.home, recording.machine->log().RenderText(level[i]));
    break;
  }
  return result;
}

}  // namespace strata::sched
