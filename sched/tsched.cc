#include "sched/tsched.h"

#include <map>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::sched {
namespace {

using machine::OpCode;

// A call or return marker (not a ghost).
bool IsBorder(const Event& e) { return e.op == OpCode::kCall || e.op == OpCode::kReturn; }

using machine::Outcome;

class ThreadFairnessMonitor final : public machine::Monitor {
 public:
  ThreadFairnessMonitor(ObjectId sched, int cpus, ThreadBounds bounds)
      : sched_(sched), bounds_(bounds), running_(static_cast<std::size_t>(cpus)),
        steps_(static_cast<std::size_t>(cpus), 0), switching_(static_cast<std::size_t>(cpus)) {}

  bool Observe(const Event& e) override {
    const std::size_t c = e.cpu.index();
    if (running_[c] != e.thread) {  // a dispatch (or the idle context)
      running_[c] = e.thread;
      steps_[c] = 0;
      switching_[c] = false;
      if (e.thread.valid()) At(e.thread).ready = false;
    }
    if (IsBorder(e) && e.object == sched_) return OnMarker(e, c);
    // The steps of a yield or sleep itself are the scheduler's, not a run's.
    if (!e.marker() && e.thread.valid() && !switching_[c]) {
      Thread& t = At(e.thread);
      t.worst_progress = std::max(t.worst_progress, ++steps_[c]);
      if (bounds_.progress > 0 && steps_[c] > bounds_.progress) {
        why_ = fmt::format("unfair environment: thread {} ran {} steps on cpu {} without "
                           "yielding, sleeping or exiting (progress bound {})",
                           e.thread, steps_[c], e.cpu, bounds_.progress);
        outcome_ = Outcome::kUnfairSchedule;
        return false;
      }
    }
    return true;
  }

  std::string Describe() const override {
    if (!why_.empty()) return why_;
    std::int64_t q = 0, p = 0;
    for (const auto& [tid, t] : threads_) {
      q = std::max(q, t.worst_queries);
      p = std::max(p, t.worst_progress);
    }
    return fmt::format("worst wait {} queries (limit {}), worst run {} steps (progress {})", q,
                       bounds_.limit, p, bounds_.progress);
  }
  Outcome outcome() const override { return outcome_; }

  std::int64_t worst_queries(ThreadId t) const { return Find(t).worst_queries; }
  std::int64_t worst_progress(ThreadId t) const { return Find(t).worst_progress; }

 private:
  struct Thread {
    CpuId home;
    bool ready = false;
    std::int64_t queries = 0;  // while READY
    std::int64_t worst_queries = 0;
    std::int64_t worst_progress = 0;
  };

  Thread& At(ThreadId t) { return threads_[t.value()]; }
  const Thread& Find(ThreadId t) const {
    static const Thread kNone;
    auto it = threads_.find(t.value());
    return it == threads_.end() ? kNone : it->second;
  }

  void MakeReady(ThreadId t) {
    Thread& th = At(t);
    th.ready = true;
    th.queries = 0;
  }

  bool OnMarker(const Event& e, std::size_t c) {
    if (e.kind == kinds::kRetSpawn) {
      Thread& child = At(ThreadId(static_cast<ThreadId::Rep>(e.result)));
      child = Thread{.home = e.cpu};
      MakeReady(ThreadId(static_cast<ThreadId::Rep>(e.result)));
      return true;
    }
    if (e.kind == kinds::kRetWakeup && e.result >= 0) {
      MakeReady(ThreadId(static_cast<ThreadId::Rep>(e.result)));
      return true;
    }
    if ((e.kind == kinds::kRetYield || e.kind == kinds::kRetSleep) && e.thread.valid()) {
      // Back (a yield may not have switched at all): a new run starts.
      At(e.thread).ready = false;
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
    for (auto& [tid, t] : threads_) {
      if (!t.ready || t.home != e.cpu || tid == e.thread.value()) continue;
      t.worst_queries = std::max(t.worst_queries, ++t.queries);
      if (bounds_.limit > 0 && t.queries > bounds_.limit) {
        why_ = fmt::format("thread {} on cpu {} has waited READY through {} scheduling queries "
                           "(limit {}): starved",
                           tid, e.cpu, t.queries, bounds_.limit);
        return false;
      }
    }
    if (e.kind == kinds::kCallYield) MakeReady(e.thread);
    return true;
  }

  ObjectId sched_;
  ThreadBounds bounds_;
  std::vector<ThreadId> running_;     // per CPU: whose events come now
  std::vector<std::int64_t> steps_;   // per CPU: the running thread's steps since dispatch
  std::vector<bool> switching_;       // per CPU: inside a yield, sleep or exit
  std::map<ThreadId::Rep, Thread> threads_;
  std::string why_;
  Outcome outcome_ = Outcome::kThreadStarved;
};

// The k-th spawned thread replaying its recorded events: the same
// primitives with the same arguments, the same shared steps with the same
// arguments, and the recorded contents of every block it pushes.
Entry Replayer(const std::vector<Event>* events, ObjectId sched, const Machine* recorded) {
  return [events, sched, recorded](CSched& s, Cpu& cpu) {
    const std::vector<Event>& ev = *events;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      const Event& e = ev[i];
      if (IsBorder(e) && e.object == sched) {
        const Cv cv{static_cast<int>(e.arg0), SchedLock{static_cast<int>(e.arg1)}};
        EventKind ret;
        if (e.kind == kinds::kCallSpawn) {
          s.Spawn(cpu, Entry());
          ret = kinds::kRetSpawn;
        } else if (e.kind == kinds::kCallYield) {
          s.Yield(cpu);
          ret = kinds::kRetYield;
        } else if (e.kind == kinds::kCallSleep) {
          s.SleepUnlocked(cpu, cv);
          ret = kinds::kRetSleep;
        } else if (e.kind == kinds::kCallWakeup) {
          s.Wakeup(cpu, cv);
          ret = kinds::kRetWakeup;
        } else if (e.kind == kinds::kCallLock) {
          s.Lock(cpu, SchedLock{static_cast<int>(e.arg0)});
          ret = kinds::kRetLock;
        } else if (e.kind == kinds::kCallUnlock) {
          s.Unlock(cpu, SchedLock{static_cast<int>(e.arg0)});
          ret = kinds::kRetUnlock;
        } else if (e.kind == kinds::kCallMakeLock) {
          // The invariant is the live code's: the environment's makelock
          // is checked where that thread runs live.
          s.MakeLock(cpu, SchedLock{static_cast<int>(e.arg0)}, LockInvariant{});
          ret = kinds::kRetMakeLock;
        } else if (e.kind == kinds::kCallFreeLock) {
          s.FreeLock(cpu, SchedLock{static_cast<int>(e.arg0)});
          ret = kinds::kRetFreeLock;
        } else if (e.kind == kinds::kCallExit) {
          return;
        } else {
          throw std::runtime_error(fmt::format("cannot replay scheduler event `{}`", e.kind));
        }
        while (i < ev.size() && !(IsBorder(ev[i]) && ev[i].kind == ret)) ++i;
        continue;
      }
      if (e.op == OpCode::kGhost && e.object == sched && e.kind == kinds::kShare) {
        s.Share(cpu, SchedLock{static_cast<int>(e.arg0)}, ThreadId(static_cast<int>(e.arg1)));
        continue;
      }
      if (e.op == OpCode::kGhost && e.object == sched && e.kind == kinds::kDropShare) {
        s.DropShare(cpu, SchedLock{static_cast<int>(e.arg0)});
        continue;
      }
      // By machine operation, so named steps (a layer's INC_TICKET) replay
      // like plain ones.
      const machine::Word w{e.object};
      const machine::Block b{e.object};
      switch (e.op) {
        case OpCode::kCall:
        case OpCode::kReturn:
        case OpCode::kGhost:
          cpu.Annotate(e.object, e.kind, e.arg0, e.arg1, e.result, e.op);
          break;
        case OpCode::kFaa:
          cpu.FetchAdd(w, e.arg0, e.kind, e.arg1);
          break;
        case OpCode::kLoad:
          cpu.Load(w, e.kind, e.arg1);
          break;
        case OpCode::kStore:
          cpu.Store(w, e.arg0, e.kind, e.arg1);
          break;
        case OpCode::kCas:
          cpu.CompareSwap(w, e.arg0, e.arg1, e.kind);
          break;
        case OpCode::kSwap:
          cpu.Swap(w, e.arg0, e.kind, e.arg1);
          break;
        case OpCode::kPull:
          cpu.Pull(b);
          break;
        case OpCode::kPush: {
          std::span<const std::int64_t> data = recorded->pushed(e.seq);
          for (std::size_t k = 0; k < data.size(); ++k) cpu.Write(b, k, data[k]);
          cpu.Push(b, e.arg1);
          break;
        }
        case OpCode::kAtomic:
          throw std::runtime_error(fmt::format("cannot replay another layer's atomic step `{}`", e.kind));
      }
      if (e.linearizes != 0) cpu.Linearize();
    }
  };
}

std::uint64_t HashEvents(std::span<const Event> events) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  for (const Event& e : events) {
    for (std::uint64_t v :
         {e.seq, static_cast<std::uint64_t>(e.cpu.value()), static_cast<std::uint64_t>(e.thread.value()),
          static_cast<std::uint64_t>(e.object.value()), e.kind.hash(), static_cast<std::uint64_t>(e.arg0),
          static_cast<std::uint64_t>(e.arg1), static_cast<std::uint64_t>(e.result),
          static_cast<std::uint64_t>(e.op), static_cast<std::uint64_t>(e.linearizes)}) {
      mix(v);
    }
  }
  return h;
}

}  // namespace

std::unique_ptr<machine::Monitor> MakeThreadFairnessMonitor(ObjectId sched, int cpus,
                                                            ThreadBounds bounds) {
  return std::make_unique<ThreadFairnessMonitor>(sched, cpus, bounds);
}

TLinkResult CheckTLink(const TLinkOptions& o) {
  TLinkResult result;
  STRATA_CHECK(o.workload.start != nullptr, "tlink without a workload");
  STRATA_CHECK(o.make_sched != nullptr, "tlink without a scheduler");
  SchedOptions so = o.sched;
  so.stack_bytes = o.machine.stack_bytes;

  // The recorded CSched run.
  Machine recorded(o.machine);
  recorded.KeepPushedContents();
  std::shared_ptr<CSched> rs = o.make_sched(recorded, so);
  ClientRun rc = o.workload.start(*rs, o.params);
  if (o.bounds.limit > 0 || o.bounds.progress > 0) {
    recorded.AddGlobalMonitor(MakeThreadFairnessMonitor(rs->object(), recorded.cpus(), o.bounds));
  }
  STRATA_CHECK(o.oracle != nullptr, "tlink without an oracle");
  std::unique_ptr<machine::Oracle> oracle = o.oracle(o.oracle_options);
  absl::StatusOr<machine::RunReport> report = recorded.Run(CSched::Boot(rs, rc.init), *oracle);
  STRATA_CHECK(report.ok(), "the recorded run's oracle failed: {}", std::string(report.status().message()));
  result.recorded = *report;
  if (result.recorded.ok()) {
    for (const Check& c : rc.checks()) {
      if (c.ok()) continue;
      result.recorded.outcome = Outcome::kWrongResult;
      result.recorded.message = fmt::format("{} = {}, expected {}", c.what, c.actual, c.expected);
      break;
    }
  }
  const std::span<const Event> log = recorded.log().events();
  result.recorded_hash = HashEvents(log);
  if (!result.recorded.ok()) {
    result.problem = fmt::format("the recorded run ended in {}: {}",
                                 machine::OutcomeName(result.recorded.outcome),
                                 result.recorded.message);
    return result;
  }

  // Each event's owner: the spawn instance of its thread (-1: an idle
  // context or a CPU's init).
  std::vector<std::vector<Event>> own;
  std::vector<std::int64_t> owner(log.size(), -1);
  std::map<ThreadId::Rep, std::size_t> instance_of;
  ThreadFairnessMonitor fairness(rs->object(), recorded.cpus(), ThreadBounds{});  // figures only
  for (const Event& e : log) {
    fairness.Observe(e);
    if (e.thread.valid()) {
      const std::size_t k = instance_of.at(e.thread.value());
      owner[e.seq] = static_cast<std::int64_t>(k);
      own[k].push_back(e);
    }
    if (IsBorder(e) && e.object == rs->object() && e.kind == kinds::kRetSpawn) {
      const ThreadId child(static_cast<ThreadId::Rep>(e.result));
      instance_of[child.value()] = own.size();
      own.emplace_back();
      result.threads.push_back({.instance = own.size() - 1, .tid = child, .home = e.cpu});
    }
  }
  const std::vector<Entry> entries = rs->spawned();
  const std::vector<CpuId> schedule(recorded.schedule().begin(), recorded.schedule().end());

  // Each thread alone, the others replayed. Of each run only the positions
  // its thread owns are kept (run 0 also gives the idle contexts' and
  // inits', which every run executes live): the composition.
  std::vector<Event> composed(log.size());
  std::vector<bool> filled(log.size(), false);
  for (std::size_t k = 0; k < own.size(); ++k) {
    ThreadLink& link = result.threads[k];
    link.events = own[k].size();
    link.worst_queries = fairness.worst_queries(link.tid);
    link.worst_progress = fairness.worst_progress(link.tid);
    Machine m(o.machine);
    std::shared_ptr<CSched> s = o.make_sched(m, so);
    ClientRun c = o.workload.start(*s, o.params);
    s->set_entry_filter([&, k](std::size_t j, Entry) -> Entry {
      if (j >= entries.size()) return [](CSched&, Cpu&) {};  // a spawn the recording lacks
      return j == k ? entries[j] : Replayer(&own[j], rs->object(), &recorded);
    });
    auto replay = machine::MakeOracle({.kind = machine::OracleKind::kReplay,
                                       .cpus = m.cpus(),
                                       .replay = schedule,
                                       .replay_source = "the recorded run"});
    absl::StatusOr<machine::RunReport> r = m.Run(CSched::Boot(s, c.init), *replay);
    const std::span<const Event> got = m.log().events();
    for (std::size_t i = 0; i < got.size() && i < log.size(); ++i) {
      if (owner[i] == static_cast<std::int64_t>(k) || (owner[i] < 0 && k == 0)) {
        composed[i] = got[i];
        filled[i] = true;
      }
    }
    std::size_t i = 0;
    while (i < log.size() && i < got.size() && got[i] == log[i]) ++i;
    if (i < log.size() || got.size() != log.size()) {
      link.problem =
          i < log.size() && i < got.size()
              ? fmt::format("its run departs from the recorded log at t={}: `{}` instead of `{}`",
                            i, m.log().RenderText(got[i]), recorded.log().RenderText(log[i]))
              : fmt::format("its run has {} events, the recorded log {}", got.size(), log.size());
      if (!r.ok()) link.problem += fmt::format(" ({})", std::string(r.status().message()));
      else if (!r->ok()) link.problem += fmt::format(" ({}: {})", machine::OutcomeName(r->outcome), r->message);
    }
  }

  // Positions no run gave (no threads at all: the inits alone).
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (!filled[i] && own.empty()) {
      composed[i] = log[i];
      filled[i] = true;
    }
  }
  result.composed_hash = HashEvents(composed);
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (filled[i] && composed[i] == log[i]) continue;
    const std::int64_t k = owner[i];
    result.problem = fmt::format(
        "the composed log differs from the recorded one at t={} ({}): recorded `{}`", i,
        k >= 0 ? fmt::format("thread {} of cpu {}", result.threads[static_cast<std::size_t>(k)].tid,
                             result.threads[static_cast<std::size_t>(k)].home)
               : std::string("an idle context"),
        recorded.log().RenderText(log[i]));
    break;
  }
  return result;
}

}  // namespace strata::sched
