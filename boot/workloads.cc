#include "boot/workloads.h"

#include <map>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "machine/replay.h"

namespace strata::boot {
// The CAS spinlock's abstract state: who holds it.
struct SpinlockState {
  machine::CpuId holder;
};
}  // namespace strata::boot

template <>
struct fmt::formatter<strata::boot::SpinlockState> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const strata::boot::SpinlockState& s, Ctx& ctx) const {
    if (!s.holder.valid()) return fmt::format_to(ctx.out(), "free");
    return fmt::format_to(ctx.out(), "held by cpu {}", s.holder);
  }
};

namespace strata::boot {
namespace {

using machine::Block;
using machine::Cpu;
using machine::CpuId;
using machine::Event;
using machine::Machine;
using machine::Word;
namespace kinds = machine::kinds;

// A CAS spinlock word: 0 is free, cpu+1 is "held by cpu". Waiting blocks on
// the word instead of spinning, so a held lock costs no steps.
void Acquire(Cpu& cpu, Word lock) {
  const std::int64_t me = cpu.id().value() + 1;
  for (;;) {
    std::int64_t seen = cpu.CompareSwap(lock, 0, me);
    if (seen == 0) return;
    cpu.LoadWhenChanged(lock, seen);
  }
}
void Release(Cpu& cpu, Word lock) { cpu.Store(lock, 0); }

// Replays the spinlock: a CAS that takes a held lock, or a release by anyone
// but the holder, is impossible.
struct SpinlockReplay {
  using State = SpinlockState;
  State Init() const { return {}; }
  bool Step(State& s, const Event& e) const {
    if (e.kind == kinds::kCas) {
      if (e.result != 0) return true;  // failed attempt
      if (s.holder.valid()) return false;
      s.holder = e.cpu;
      return true;
    }
    if (e.kind == kinds::kStore) {
      if (e.arg0 != 0 || s.holder != e.cpu) return false;
      s.holder = CpuId();
      return true;
    }
    return e.kind == kinds::kLoad;
  }
};

Word NewLock(Machine& m, std::string name) {
  Word lock = m.NewWord(std::move(name));
  m.AddMonitor(lock.id, std::make_unique<machine::ReplayMonitor<SpinlockReplay>>());
  return lock;
}

std::int64_t Total(const Machine& m, std::int64_t iterations) { return m.cpus() * iterations; }

// Every CPU adds 1 to `counter` with fetch-and-add and 1 to word 0 of the
// block `data` under the spinlock, `iterations` times.
WorkloadRun Counter(Machine& m, std::int64_t iterations) {
  Word counter = m.NewWord("counter");
  Word lock = NewLock(m, "lock");
  Block data = m.NewBlock("data", 1);
  return {[=](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              cpu.FetchAdd(counter, 1);
              Acquire(cpu, lock);
              cpu.Pull(data);
              cpu.Write(data, 0, cpu.Read(data, 0) + 1);
              cpu.Push(data);
              Release(cpu, lock);
            }
          },
          [&m, counter, data, iterations] {
            return std::vector<Check>{
                {"counter", m.value(counter), Total(m, iterations)},
                {"data[0]", m.contents(data)[0], Total(m, iterations)},
            };
          }};
}

// CPU 0 counts its rounds in host memory, not in the log, and adds them up
// in `counter`; every other CPU stores that host count into `seen`. Each
// run is fine; the per-CPU machines are not: run against CPU 0's recorded
// events, another CPU reads a count nobody updates (strata compose:
// non-compositional).
WorkloadRun HostChannel(Machine& m, std::int64_t iterations) {
  Word counter = m.NewWord("counter");
  Word seen = m.NewWord("seen");
  auto hidden = std::make_shared<std::int64_t>(0);
  return {[=](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              if (cpu.id().value() == 0) {
                ++*hidden;
                cpu.FetchAdd(counter, 1);
              } else {
                cpu.Store(seen, *hidden);
              }
            }
          },
          [&m, counter, iterations] {
            return std::vector<Check>{{"counter", m.value(counter), iterations}};
          }};
}

// Increments with a load and a store: concurrent increments get lost.
WorkloadRun LostUpdate(Machine& m, std::int64_t iterations) {
  Word counter = m.NewWord("counter");
  return {[=](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              cpu.Store(counter, cpu.Load(counter) + 1);
            }
          },
          [&m, counter, iterations] {
            return std::vector<Check>{{"counter", m.value(counter), Total(m, iterations)}};
          }};
}

// Pulls and pushes the shared block without taking the lock.
WorkloadRun RacyPush(Machine& m, std::int64_t iterations) {
  Block data = m.NewBlock("data", 1);
  return {[=](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              cpu.Pull(data);
              cpu.Write(data, 0, cpu.Read(data, 0) + 1);
              cpu.Push(data);
            }
          },
          [&m, data, iterations] {
            return std::vector<Check>{{"data[0]", m.contents(data)[0], Total(m, iterations)}};
          }};
}

// Releases the lock a second time after releasing it once.
WorkloadRun DoubleUnlock(Machine& m, std::int64_t iterations) {
  Word lock = NewLock(m, "lock");
  return {[=](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              Acquire(cpu, lock);
              Release(cpu, lock);
              Release(cpu, lock);
            }
          },
          [] { return std::vector<Check>{}; }};
}

// Even CPUs take lock_a then lock_b, odd CPUs the other way round.
WorkloadRun LockOrder(Machine& m, std::int64_t iterations) {
  Word a = NewLock(m, "lock_a");
  Word b = NewLock(m, "lock_b");
  Word done = m.NewWord("done");
  return {[=](Cpu& cpu) {
            bool even = cpu.id().value() % 2 == 0;
            for (std::int64_t i = 0; i < iterations; ++i) {
              Acquire(cpu, even ? a : b);
              Acquire(cpu, even ? b : a);
              cpu.FetchAdd(done, 1);
              Release(cpu, even ? b : a);
              Release(cpu, even ? a : b);
            }
          },
          [&m, done, iterations] {
            return std::vector<Check>{{"done", m.value(done), Total(m, iterations)}};
          }};
}

// The last CPU throws halfway through its loop.
WorkloadRun Throw(Machine& m, std::int64_t iterations) {
  Word counter = m.NewWord("counter");
  return {[=, &m](Cpu& cpu) {
            for (std::int64_t i = 0; i < iterations; ++i) {
              if (cpu.id().value() == m.cpus() - 1 && i == iterations / 2) {
                throw std::runtime_error(fmt::format("cpu {} gave up at iteration {}", cpu.id(), i));
              }
              cpu.FetchAdd(counter, 1);
            }
          },
          [&m, counter, iterations] {
            return std::vector<Check>{{"counter", m.value(counter), Total(m, iterations)}};
          }};
}

volatile int g_never = -1;  // keeps the recursion below from being provably infinite

int Recurse(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (depth == g_never) return 0;
  return Recurse(depth + 1) + frame[0];
}

// CPU 0 recurses without end after one shared step.
WorkloadRun Recursion(Machine& m, std::int64_t iterations) {
  Word counter = m.NewWord("counter");
  return {[=](Cpu& cpu) {
            cpu.FetchAdd(counter, 1);
            if (cpu.id().value() == 0) Recurse(0);
            for (std::int64_t i = 1; i < iterations; ++i) cpu.FetchAdd(counter, 1);
          },
          [&m, counter, iterations] {
            return std::vector<Check>{{"counter", m.value(counter), Total(m, iterations)}};
          }};
}

// Every CPU polls a flag that nobody sets, with plain loads.
WorkloadRun Livelock(Machine& m, std::int64_t) {
  Word flag = m.NewWord("flag");
  return {[=](Cpu& cpu) {
            while (cpu.Load(flag) == 0) {
            }
          },
          [] { return std::vector<Check>{}; }};
}

// A thread workload on the configured scheduler.
}  // namespace

WorkloadRun RunThreaded(const sched::ThreadProgram& w, const sched::SchedCatalog& catalog,
                        Machine& m, const WorkloadParams& p) {
  std::shared_ptr<sched::CSched> s = sched::MakeSched(m, p.sched, catalog.scheds, catalog);
  sched::ClientRun client = w.start(*s, {.iterations = p.iterations, .threads = p.threads});
  sched::CSched* raw = s.get();
  WorkloadRun run;
  run.checks = std::move(client.checks);
  run.details = [raw] {
    std::string out;
    // Past 16 CPUs: the first 8 and the totals of all.
    constexpr int kShown = 16;
    sched::CpuStats all;
    for (int c = 0; c < raw->cpus(); ++c) {
      const sched::CpuStats& st = raw->stats(CpuId(c));
      all.threads += st.threads;
      all.switches += st.switches;
      all.yields += st.yields;
      all.sleeps += st.sleeps;
      all.local_wakeups += st.local_wakeups;
      all.remote_wakeups += st.remote_wakeups;
      if (raw->cpus() > kShown && c >= kShown / 2) continue;
      out += fmt::format(
          "    cpu{:<3} threads {}  switches {}  yields {}  sleeps {}  wakeups local {} remote {}\n",
          c, st.threads, st.switches, st.yields, st.sleeps, st.local_wakeups, st.remote_wakeups);
    }
    if (raw->cpus() > kShown) {
      out += fmt::format(
          "    all {} cpus: threads {}  switches {}  yields {}  sleeps {}  wakeups local {} "
          "remote {}\n",
          raw->cpus(), all.threads, all.switches, all.yields, all.sleeps, all.local_wakeups,
          all.remote_wakeups);
    }
    std::map<std::string_view, std::vector<int>> by_state;
    for (int t = 0; t < raw->threads(); ++t) {
      const machine::ThreadId id(t);
      if (raw->state(id) != sched::ThreadState::kFree) by_state[sched::ThreadStateName(raw->state(id))].push_back(t);
    }
    for (const auto& [state, tids] : by_state) {
      std::string list;
      for (std::size_t i = 0; i < tids.size(); ++i) {
        if (i == 16) {
          list += fmt::format(" ... ({} in all)", tids.size());
          break;
        }
        list += fmt::format(" {}", tids[i]);
      }
      out += fmt::format("    threads {}:{}\n", state, list);
    }
    return out;
  };
  run.waits = [raw] { return raw->DescribeWaits(); };
  run.program = sched::CSched::Boot(std::move(s), std::move(client.init));
  return run;
}

void AddBuiltinWorkloads(WorkloadRegistry& w) {
  w.Add({"counter", "fetch-and-add counter plus a block under a CAS spinlock", false, "",
         {1, Counter}});
  w.Add({"lost-update", "known-bad: increments with load then store", true, "wrong-result",
         {1, LostUpdate}});
  w.Add({"racy-push", "known-bad: pull/push of a block without the lock", true, "data-race",
         {1, RacyPush}});
  w.Add({"double-unlock", "known-bad: releases the spinlock twice", true, "impossible-log",
         {1, DoubleUnlock}});
  w.Add({"lock-order", "known-bad: two locks taken in opposite orders", true, "deadlock",
         {2, LockOrder}});
  w.Add({"throw", "known-bad: the last CPU throws an exception", true, "exception", {1, Throw}});
  w.Add({"recursion", "known-bad: CPU 0 recurses without end", true, "stack-overflow",
         {1, Recursion}});
  w.Add({"livelock", "known-bad: CPUs poll a flag nobody sets", true, "step-budget",
         {1, Livelock}});
  w.Add({"host-channel", "known-bad: CPUs that talk through host memory, not the log", true,
         "non-compositional", {2, HostChannel}});
}

}  // namespace strata::boot
