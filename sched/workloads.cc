#include "sched/workloads.h"

#include <algorithm>
#include <array>
#include <memory>

#include <fmt/format.h>

#include "machine/replay.h"
#include "machine/rng.h"

namespace strata::sched {
namespace {

using machine::Block;
using machine::Word;

// -------------------------------------------------------------- thread-counter

ClientRun ThreadCounter(CSched& s, const ClientParams& p) {
  Machine& m = s.machine();
  const SchedLock lock = s.NewLock("counter.lock");
  const Word counter = m.NewWord("counter");
  const std::int64_t n = p.iterations;
  ClientRun run;
  run.init = [lock, counter, n, threads = p.threads](Threads& s, Cpu& cpu) {
    for (int t = 0; t < threads; ++t) {
      s.Spawn(cpu, [lock, counter, n](Threads& s, Cpu& cpu) {
        for (std::int64_t i = 0; i < n; ++i) {
          s.Lock(cpu, lock);
          const std::int64_t v = cpu.Load(counter);
          cpu.Store(counter, v + 1);
          s.Unlock(cpu, lock);
          s.Yield(cpu);
        }
      });
    }
  };
  run.checks = [&m, counter, n, threads = p.threads] {
    return std::vector<Check>{{"counter", m.value(counter), m.cpus() * threads * n}};
  };
  return run;
}

// -------------------------------------------------------------- ping-pong

// How a ping-pong waiter goes to sleep.
enum class Waiter {
  kCorrect,       // checks the turn and sleeps under the lock
  kLoseWakeups,   // checks, drops the lock, takes it again and sleeps: a
                  // wakeup sent in between is lost
  kSleepUnlocked, // checks, drops the lock, sleeps without it
};

// Two threads (on CPUs 0 and 1) pass the turn back and forth N times.
ClientRun PingPongWith(CSched& s, const ClientParams& p, Waiter waiter) {
  Machine& m = s.machine();
  const SchedLock lock = s.NewLock("turn.lock");
  const Cv cvs[2] = {s.NewCv("ping", lock), s.NewCv("pong", lock)};
  const Word turn = m.NewWord("turn");
  const Word rounds[2] = {m.NewWord("pings"), m.NewWord("pongs")};
  const std::int64_t n = p.iterations;
  auto player = [=](int me) {
    return [=](Threads& s, Cpu& cpu) {
      for (std::int64_t i = 0; i < n; ++i) {
        s.Lock(cpu, lock);
        while (cpu.Load(turn) != me) {
          if (waiter != Waiter::kCorrect) s.Unlock(cpu, lock);
          if (waiter == Waiter::kLoseWakeups) s.Lock(cpu, lock);
          s.Sleep(cpu, cvs[me]);
        }
        cpu.Store(turn, 1 - me);
        cpu.FetchAdd(rounds[me], 1);
        s.Wakeup(cpu, cvs[1 - me]);
        s.Unlock(cpu, lock);
      }
    };
  };
  ClientRun run;
  run.init = [player](Threads& s, Cpu& cpu) {
    if (cpu.id().value() < 2) s.Spawn(cpu, player(cpu.id().value()));
  };
  run.checks = [&m, rounds, n] {
    return std::vector<Check>{{"pings", m.value(rounds[0]), n}, {"pongs", m.value(rounds[1]), n}};
  };
  return run;
}

ClientRun PingPong(CSched& s, const ClientParams& p) {
  return PingPongWith(s, p, Waiter::kCorrect);
}
ClientRun LostWakeup(CSched& s, const ClientParams& p) {
  return PingPongWith(s, p, Waiter::kLoseWakeups);
}
ClientRun SleepUnlocked(CSched& s, const ClientParams& p) {
  return PingPongWith(s, p, Waiter::kSleepUnlocked);
}

// -------------------------------------------------------------- producer-consumer

constexpr std::int64_t kBufferSlots = 1;

ClientRun ProducerConsumer(CSched& s, const ClientParams& p) {
  Machine& m = s.machine();
  const SchedLock lock = s.NewLock("buffer.lock");
  const Cv not_full = s.NewCv("not_full", lock);
  const Cv not_empty = s.NewCv("not_empty", lock);
  const Block buffer = m.NewBlock("buffer", 1 + kBufferSlots);  // [count, items...]
  const Word produced = m.NewWord("produced.sum");
  const Word consumed = m.NewWord("consumed.sum");
  const Word taken = m.NewWord("consumed.count");
  const std::int64_t n = p.iterations;
  const int threads = p.threads;
  const int producers = (m.cpus() + 1) / 2 * threads, consumers = m.cpus() / 2 * threads;
  const std::int64_t total = producers * n;
  ClientRun run;
  run.init = [=](Threads& s, Cpu& cpu) {
    const int c = cpu.id().value();
    for (int t = 0; t < threads; ++t) {
    if (c % 2 == 0) {
      s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t item = 1'000'000 * (c + 1) + 1000 * t + i;
          s.Lock(cpu, lock);
          for (;;) {
            cpu.Pull(buffer);
            if (cpu.Read(buffer, 0) < kBufferSlots) break;
            cpu.Push(buffer);
            s.Sleep(cpu, not_full);
          }
          const std::int64_t count = cpu.Read(buffer, 0);
          cpu.Write(buffer, 1 + static_cast<std::size_t>(count), item);
          cpu.Write(buffer, 0, count + 1);
          cpu.Push(buffer);
          cpu.FetchAdd(produced, item);
          s.Wakeup(cpu, not_empty);
          s.Unlock(cpu, lock);
        }
      });
    } else {
      // Consumer j takes its share of the items: total / consumers, the
      // first total % consumers one more.
      const int j = c / 2 * threads + t;
      const std::int64_t share = total / consumers + (j < total % consumers ? 1 : 0);
      s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
        for (std::int64_t i = 0; i < share; ++i) {
          s.Lock(cpu, lock);
          for (;;) {
            cpu.Pull(buffer);
            if (cpu.Read(buffer, 0) > 0) break;
            cpu.Push(buffer);
            s.Sleep(cpu, not_empty);
          }
          const std::int64_t count = cpu.Read(buffer, 0);
          const std::int64_t item = cpu.Read(buffer, 1);
          for (std::int64_t k = 1; k < count; ++k) {
            cpu.Write(buffer, static_cast<std::size_t>(k), cpu.Read(buffer, static_cast<std::size_t>(k + 1)));
          }
          cpu.Write(buffer, 0, count - 1);
          cpu.Push(buffer);
          cpu.FetchAdd(consumed, item);
          cpu.FetchAdd(taken, 1);
          s.Wakeup(cpu, not_full);
          s.Unlock(cpu, lock);
        }
      });
    }
    }
  };
  run.checks = [&m, produced, consumed, taken, total] {
    return std::vector<Check>{{"items consumed", m.value(taken), total},
                              {"sum consumed", m.value(consumed), m.value(produced)}};
  };
  return run;
}

// -------------------------------------------------------------- fork-lock

// How a fork-lock parent and child use their lock.
enum class ForkLockUse {
  kCorrect,
  kBreakInvariant,  // the child releases the lock between its two updates
  kFreeEarly,       // the parent frees the lock before its child is done
};

// Per CPU, a parent makes lock fork.lockN with invariant xN == yN, spawns a
// child with a share of it, and waits (on cv doneN) until the child has
// updated both words N times under the lock and dropped its share; then it
// frees the lock, which it holds, and which no one else can take any more.
ClientRun ForkLockWith(CSched& s, const ClientParams& p, ForkLockUse use) {
  Machine& m = s.machine();
  struct PerCpu {
    SchedLock lock;
    Cv done_cv;
    Word x, y, done;
  };
  std::vector<PerCpu> per;
  for (int c = 0; c < m.cpus(); ++c) {
    const SchedLock lock = s.NewLock(fmt::format("fork.lock{}", c));
    per.push_back({lock, s.NewCv(fmt::format("done{}", c), lock), m.NewWord(fmt::format("x{}", c)),
                   m.NewWord(fmt::format("y{}", c)), m.NewWord(fmt::format("done{}", c))});
  }
  const Word freed = m.NewWord("fork.locks.freed");
  const std::int64_t n = p.iterations;
  ClientRun run;
  run.init = [=](Threads& s, Cpu& cpu) {
    const PerCpu k = per[cpu.id().index()];
    s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
      s.MakeLock(cpu, k.lock,
                 {fmt::format("x{0} == y{0}", cpu.id().value()),
                  [k](const Machine& m) -> std::optional<std::string> {
                    if (m.value(k.x) == m.value(k.y)) return std::nullopt;
                    return fmt::format("x = {}, y = {}", m.value(k.x), m.value(k.y));
                  }});
      const ThreadId child = s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
        for (std::int64_t i = 0; i < n; ++i) {
          s.Lock(cpu, k.lock);
          cpu.FetchAdd(k.x, 1);
          if (use == ForkLockUse::kBreakInvariant) {
            s.Unlock(cpu, k.lock);
            s.Lock(cpu, k.lock);
          }
          cpu.FetchAdd(k.y, 1);
          s.Unlock(cpu, k.lock);
          s.Yield(cpu);
        }
        // Done with the lock: the share goes back before the release, so the
        // parent, once it has the lock, may free it.
        s.Lock(cpu, k.lock);
        cpu.Store(k.done, 1);
        s.Wakeup(cpu, k.done_cv);
        s.DropShare(cpu, k.lock);
        s.Unlock(cpu, k.lock);
      });
      s.Share(cpu, k.lock, child);
      s.Lock(cpu, k.lock);
      if (use != ForkLockUse::kFreeEarly) {
        while (cpu.Load(k.done) == 0) s.Sleep(cpu, k.done_cv);
      }
      s.FreeLock(cpu, k.lock);
      cpu.FetchAdd(freed, 1);
    });
  };
  run.checks = [&m, per, freed, n] {
    std::int64_t x = 0, y = 0;
    for (const PerCpu& k : per) {
      x += m.value(k.x);
      y += m.value(k.y);
    }
    return std::vector<Check>{{"x", x, m.cpus() * n},
                              {"y", y, m.cpus() * n},
                              {"parents that freed their lock", m.value(freed), m.cpus()}};
  };
  return run;
}

ClientRun ForkLock(CSched& s, const ClientParams& p) {
  return ForkLockWith(s, p, ForkLockUse::kCorrect);
}
ClientRun ForkLockBrokenInvariant(CSched& s, const ClientParams& p) {
  return ForkLockWith(s, p, ForkLockUse::kBreakInvariant);
}
ClientRun ForkLockFreeEarly(CSched& s, const ClientParams& p) {
  return ForkLockWith(s, p, ForkLockUse::kFreeEarly);
}

// -------------------------------------------------------------- philosophers

ClientRun PhilosophersWith(CSched& s, const ClientParams& p, bool left_first) {
  Machine& m = s.machine();
  std::vector<SchedLock> forks;
  for (int c = 0; c < m.cpus(); ++c) forks.push_back(s.NewLock(fmt::format("fork{}", c)));
  const Word meals = m.NewWord("meals");
  const std::int64_t n = p.iterations;
  ClientRun run;
  run.init = [=](Threads& s, Cpu& cpu) {
    const int c = cpu.id().value();
    const int left = c, right = (c + 1) % s.cpus();
    const int first = left_first ? left : std::min(left, right);
    const int second = left_first ? right : std::max(left, right);
    s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
      for (std::int64_t i = 0; i < n; ++i) {
        s.Lock(cpu, forks[static_cast<std::size_t>(first)]);
        s.Lock(cpu, forks[static_cast<std::size_t>(second)]);
        cpu.FetchAdd(meals, 1);
        s.Unlock(cpu, forks[static_cast<std::size_t>(second)]);
        s.Unlock(cpu, forks[static_cast<std::size_t>(first)]);
        s.Yield(cpu);
      }
    });
  };
  run.checks = [&m, meals, n] {
    return std::vector<Check>{{"meals", m.value(meals), m.cpus() * n}};
  };
  return run;
}

ClientRun Philosophers(CSched& s, const ClientParams& p) { return PhilosophersWith(s, p, false); }
ClientRun PhilosophersWrongOrder(CSched& s, const ClientParams& p) {
  return PhilosophersWith(s, p, true);
}

// -------------------------------------------------------------- hidden-channel

// Thread 0 counts its rounds in host memory, not in the log, and every
// other thread adds that count to a shared counter. Each run is fine;
// TLink is not: run alone against thread 0's recorded events, a thread
// reads another count and adds another amount.
ClientRun HiddenChannel(CSched& s, const ClientParams& p) {
  Machine& m = s.machine();
  const Word counter = m.NewWord("counter");
  auto hidden = std::make_shared<std::int64_t>(0);
  const std::int64_t n = p.iterations;
  ClientRun run;
  run.init = [=](Threads& s, Cpu& cpu) {
    if (cpu.id().value() == 0) {
      s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
        for (std::int64_t i = 0; i < n; ++i) {
          ++*hidden;
          cpu.FetchAdd(counter, 1);
          s.Yield(cpu);
        }
      });
    }
    s.Spawn(cpu, [=](Threads& s, Cpu& cpu) {
      for (std::int64_t i = 0; i < n; ++i) {
        cpu.FetchAdd(counter, *hidden);
        s.Yield(cpu);
      }
    });
  };
  run.checks = [&m, counter] {
    return std::vector<Check>{{"counter > 0", m.value(counter) > 0 ? 1 : 0, 1}};
  };
  return run;
}

// -------------------------------------------------------------- general

// The scheduler's most-general client. Each CPU spawns 1 to T+1 threads;
// each thread makes a seeded random sequence (MachineOptions::client_seed,
// one stream per thread) of up to 2N calls: yield; wake one or all sleepers
// of either of two cvs (none asleep, on this CPU or another); sleep on
// either cv; spawn one child (which does the same, without children);
// return early (exit). Every call keeps the primitives' preconditions and
// the client never deadlocks: under the lock, shared words count the
// threads alive and asleep, and a thread sleeps only while another one is
// awake; whoever exits wakes every sleeper. The counts are shared words, not
// host memory, so the client is TLink-clean.
// What the general client's threads share: its lock, cvs and counts.
struct GeneralShared {
  SchedLock lock;
  Cv cvs[2];
  Word children, exited, asleep, calls;
  std::uint64_t seed = 0;
  std::int64_t n = 1;
  std::int64_t total = 0;  // threads the inits spawn
};

// One general thread; `stream` numbers its random stream on its CPU (a
// child's has the top bit set), `parent` says it may spawn a child.
Entry GeneralThread(const GeneralShared& g, std::uint64_t stream, bool parent) {
  return [g, stream, parent](Threads& s, Cpu& cpu) {
    machine::ClientRng rng = machine::ClientDraws(cpu, machine::MixSeed(g.seed ^ stream));
    const std::uint64_t ops = 1 + rng.Below(static_cast<std::uint64_t>(2 * g.n));
    bool spawned = !parent;
    for (std::uint64_t i = 0; i < ops; ++i) {
      cpu.FetchAdd(g.calls, 1);
      switch (rng.Pick(parent ? 6 : 5)) {
        case 0:
          s.Yield(cpu);
          break;
        case 1:
        case 2: {  // wake one, or every sleeper, of a cv
          const Cv cv = g.cvs[rng.Pick(2)];
          const bool all = rng.Pick(3) == 0;
          s.Lock(cpu, g.lock);
          while (s.Wakeup(cpu, cv).valid() && all) {
          }
          s.Unlock(cpu, g.lock);
          break;
        }
        case 3: {  // sleep, if another thread is awake to wake this one
          const Cv cv = g.cvs[rng.Pick(2)];
          s.Lock(cpu, g.lock);
          const std::int64_t alive = g.total + cpu.Load(g.children) - cpu.Load(g.exited);
          if (alive - cpu.Load(g.asleep) >= 2) {
            cpu.FetchAdd(g.asleep, 1);
            s.Sleep(cpu, cv);
            cpu.FetchAdd(g.asleep, -1);
          }
          s.Unlock(cpu, g.lock);
          break;
        }
        case 4:  // exit early
          i = ops;
          break;
        case 5:  // spawn one child, counted alive before it exists
          if (spawned) break;
          spawned = true;
          s.Lock(cpu, g.lock);
          cpu.FetchAdd(g.children, 1);
          s.Unlock(cpu, g.lock);
          s.Spawn(cpu, GeneralThread(g, stream | (std::uint64_t{1} << 63), false));
          break;
      }
    }
    // Exit: no longer awake for anyone; wake every sleeper.
    s.Lock(cpu, g.lock);
    cpu.FetchAdd(g.exited, 1);
    for (const Cv cv : g.cvs) {
      while (s.Wakeup(cpu, cv).valid()) {
      }
    }
    s.Unlock(cpu, g.lock);
  };
}

ClientRun General(CSched& s, const ClientParams& p) {
  Machine& m = s.machine();
  GeneralShared g;
  g.lock = s.NewLock("general.lock");
  g.cvs[0] = s.NewCv("general.a", g.lock);
  g.cvs[1] = s.NewCv("general.b", g.lock);
  // Threads alive: those the inits spawn (known now) + children - exits.
  g.children = m.NewWord("general.children");
  g.exited = m.NewWord("general.exited");
  g.asleep = m.NewWord("general.asleep");
  g.calls = m.NewWord("general.calls");
  g.seed = m.options().client_seed;
  g.n = std::max<std::int64_t>(1, p.iterations);
  std::vector<std::uint64_t> counts;  // per CPU: threads its init spawns
  for (int c = 0; c < m.cpus(); ++c) {
    machine::ClientRng rng(g.seed, c, machine::DrawsOf(m.options(), CpuId(static_cast<CpuId::Rep>(c))));
    counts.push_back(1 + rng.Below(static_cast<std::uint64_t>(p.threads) + 1));
    g.total += static_cast<std::int64_t>(counts.back());
  }
  ClientRun run;
  run.init = [g, counts](Threads& s, Cpu& cpu) {
    for (std::uint64_t t = 0; t < counts[cpu.id().index()]; ++t) {
      s.Spawn(cpu, GeneralThread(g, t, true));
    }
  };
  // Every thread, children included, ran to its end (a lost one leaves the
  // run deadlocked or this count short).
  run.checks = [&m, g] {
    return std::vector<Check>{{"threads that exited", m.value(g.exited), g.total + m.value(g.children)}};
  };
  return run;
}

// The most threads each workload has at once (ThreadProgram::most_threads).
std::int64_t PerCpu(int cpus, int threads) { return std::int64_t{cpus} * threads; }
// Up to T + 1 per CPU, each with up to one child.
std::int64_t GeneralThreads(int cpus, int threads) { return std::int64_t{cpus} * 2 * (threads + 1); }
std::int64_t TwoPlayers(int /*cpus*/, int /*threads*/) { return 2; }
std::int64_t ParentAndChild(int cpus, int /*threads*/) { return std::int64_t{cpus} * 2; }
std::int64_t OnePerCpu(int cpus, int /*threads*/) { return cpus; }
std::int64_t OnePerCpuAndOne(int cpus, int /*threads*/) { return std::int64_t{cpus} + 1; }

}  // namespace

void AddBuiltinThreadWorkloads(ThreadWorkloadRegistry& w) {
  w.Add({"general", "the most-general client: seeded random yields, sleeps, wakeups, spawns, exits",
         false, "", {1, General, GeneralThreads}});
  w.Add({"thread-counter", "T threads per cpu increment a counter under a lock, yielding", false,
         "", {1, ThreadCounter, PerCpu}});
  w.Add({"producer-consumer", "bounded buffer, two cvs; T producers per even cpu, T consumers per odd",
         false, "", {2, ProducerConsumer, PerCpu}});
  w.Add({"ping-pong", "two threads on cpus 0 and 1 wake each other up N times", false, "",
         {2, PingPong, TwoPlayers}});
  w.Add({"fork-lock",
         "per cpu a parent makes a lock with invariant x == y, shares it with a child that updates "
         "x and y under it, then frees it",
         false, "", {1, ForkLock, ParentAndChild}});
  w.Add({"fork-lock-broken-invariant",
         "known-bad: the child releases the lock between updating x and y", true,
         "invariant-broken", {1, ForkLockBrokenInvariant, ParentAndChild}});
  w.Add({"fork-lock-free-early",
         "known-bad: the parent frees the lock while its child can still take it", true,
         "impossible-log", {1, ForkLockFreeEarly, ParentAndChild}});
  w.Add({"philosophers", "one philosopher per cpu, forks taken in order", false, "",
         {2, Philosophers, OnePerCpu}});
  w.Add({"philosophers-wrong-order", "known-bad: every philosopher takes its left fork first",
         true, "deadlock", {2, PhilosophersWrongOrder, OnePerCpu}});
  w.Add({"lost-wakeup", "known-bad: ping-pong whose waiter sleeps without re-checking under the lock",
         true, "deadlock", {2, LostWakeup, TwoPlayers}});
  w.Add({"sleep-unlocked", "known-bad: ping-pong whose waiter sleeps without holding the cv's lock",
         true, "impossible-log", {2, SleepUnlocked, TwoPlayers}});
  w.Add({"hidden-channel", "known-bad for TLink: threads that talk through host memory, not the log",
         true, "tlink-mismatch", {1, HiddenChannel, OnePerCpuAndOne}});
}

}  // namespace strata::sched
