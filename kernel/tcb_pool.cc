#include "kernel/tcb_pool.h"

#include <utility>

#include <fmt/format.h>

#include "kernel/bad_tcbs.h"
#include "kernel/tcb_module.h"
#include "machine/rng.h"

namespace strata::kernel {
namespace {

class SpecTcbPool final : public TcbPool {
 public:
  SpecTcbPool(Machine& m, const std::string& name, std::int64_t capacity)
      : TcbPool(m.NewObject(name), capacity),
        replay_{.pool = object(), .capacity = capacity},
        state_(replay_.Init()) {}

  // The spec as its own module: it replays its own steps.
  std::unique_ptr<TcbView> NewView(Machine&) const override {
    return std::make_unique<View>(replay_);
  }

 protected:
  std::int64_t DoAlloc(Cpu& cpu) override { return Atomic(cpu, kinds::kAlloc, 0, 0); }
  std::int64_t DoFree(Cpu& cpu, std::int64_t tid) override {
    return Atomic(cpu, kinds::kFree, tid, 0);
  }
  std::int64_t DoRead(Cpu& cpu, std::int64_t tid, std::int64_t field) override {
    return Atomic(cpu, kinds::kRead, InRange(tid, field) ? TcbWord(tid, field) : -1, 0);
  }
  std::int64_t DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                       std::int64_t value) override {
    return Atomic(cpu, kinds::kWrite, InRange(tid, field) ? TcbWord(tid, field) : -1, value);
  }

 private:
  // One atomic step: the replay's transition, applied as the step executes.
  std::int64_t Atomic(Cpu& cpu, EventKind kind, std::int64_t arg0, std::int64_t arg1) {
    std::int64_t r = 0;
    cpu.Step({.object = object(), .kind = kind, .arg0 = arg0, .arg1 = arg1, .apply = [&] {
                const Event e{.object = object(), .kind = kind, .arg0 = arg0, .arg1 = arg1};
                r = TcbSpecReplay::Result(state_, e);
                replay_.Step(state_, e);
                return std::int64_t{0};
              },
              .where = cpu.call_site()});
    cpu.Linearize();
    return r;
  }

  class View final : public TcbView {
   public:
    explicit View(TcbSpecReplay replay) : replay_(replay), pool_(replay.Init()) {}
    bool Observe(const Event& e) override { return replay_.Step(pool_, e); }
    std::optional<std::string> Relation(const TcbPoolState& spec) const override {
      if (pool_ == spec) return std::nullopt;
      return fmt::format("the pool holds {}, the spec's pool {}", pool_, spec);
    }
    std::string Describe() const override { return fmt::format("{}", pool_); }
    std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
      return std::nullopt;
    }

   private:
    TcbSpecReplay replay_;
    TcbPoolState pool_;
  };

  TcbSpecReplay replay_;
  TcbPoolState state_;
};

class TcbPair final : public layers::LayerPair {
 public:
  explicit TcbPair(TcbPairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "tcb"; }
  std::string lower() const override {
    return fmt::format("tcb pool {} over the {} lock", o_.impl, o_.lock_impl);
  }
  std::string upper() const override { return "tcb spec"; }
  std::span<const layers::Primitive> primitives() const override { return kTcbPrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const bool module = side == layers::Side::kModule;
    std::shared_ptr<TcbPool> pool = module ? o_.module(m, "tcbs", o_.capacity, o_.lock)
                                           : MakeSpecTcbPool(m, "tcbs", o_.capacity);
    auto results = std::make_shared<Results>();
    results->holder.assign(static_cast<std::size_t>(o_.capacity), 0);
    const std::int64_t iterations = o_.iterations;
    layers::SideRun run;
    if (o_.general) {
      run.program = [pool, iterations](Cpu& cpu) { General(*pool, iterations, cpu); };
    } else {
    run.program = [pool, results, iterations](Cpu& cpu) {
      const std::int64_t me = cpu.id().value();
      auto note = [&](std::string what) {
        if (results->wrong.empty()) results->wrong = std::move(what);
      };
      for (std::int64_t i = 0; i < iterations; ++i) {
        std::int64_t tids[2];
        for (std::int64_t& t : tids) {
          t = pool->Alloc(cpu);
          if (t < 0) continue;
          if (t >= pool->capacity()) {
            note(fmt::format("cpu {}'s alloc returned tcb {}, past the pool's {}", me, t,
                             pool->capacity()));
            t = -1;
            continue;
          }
          std::int64_t& h = results->holder[static_cast<std::size_t>(t)];
          if (h != 0) note(fmt::format("cpu {} and cpu {} both hold tcb {}", h - 1, me, t));
          h = 1 + me;
          if (const std::int64_t v = pool->Read(cpu, t, 1); v != 0) {
            note(fmt::format("cpu {} read {} from field 1 of its fresh tcb {}", me, v, t));
          }
          pool->Write(cpu, t, 0, me);
          pool->Write(cpu, t, 1, 100 * (me + 1) + i);
        }
        for (std::int64_t t : tids) {
          if (t < 0) continue;
          if (const std::int64_t v = pool->Read(cpu, t, 0); v != me) {
            note(fmt::format("cpu {} read {} from field 0 of its tcb {}, wrote {}", me, v, t, me));
          }
          results->holder[static_cast<std::size_t>(t)] = 0;
          pool->Free(cpu, t);
        }
      }
    };
    }
    if (module) {
      run.observe = [pool, &m]() -> std::unique_ptr<layers::Observer> {
        return std::make_unique<layers::SpecAndView<TcbSpecReplay>>(
            TcbSpecReplay{.pool = pool->object(), .capacity = pool->capacity()}, pool->NewView(m));
      };
    }
    run.final_check = [results]() -> std::optional<std::string> {
      if (!results->wrong.empty()) return results->wrong;
      return std::nullopt;
    };
    return run;
  }

 private:
  struct Results {
    std::vector<std::int64_t> holder;  // by tid: 1 + the CPU holding it, 0 if none
    std::string wrong;                 // the first read that saw another's value
  };
  // The most-general client: 3N calls per CPU, each an alloc (more likely
  // while the CPU holds fewer than two TCBs: 2 in 6, else 1 in 5), a free
  // (of one it holds, or of any tid: free, another CPU's, out of range), a
  // read or a write of any tid and field (-1 .. capacity, -1 .. kTcbFields),
  // or a write of one of its own read back; at the end it frees what it
  // believes it holds. It keeps no expectations of its own: what every call
  // returns the spec run checks (a TCB handed out twice is an alloc that
  // returns another value than the spec's).
  static void General(TcbPool& pool, std::int64_t iterations, Cpu& cpu) {
    const std::int64_t me = cpu.id().value();
    machine::ClientRng rng = machine::ClientDraws(cpu);
    std::vector<std::int64_t> held;
    // Each draw in a statement of its own: argument order is unspecified.
    auto any_tid = [&] {
      return static_cast<std::int64_t>(rng.Below(static_cast<std::uint64_t>(pool.capacity()) + 2)) - 1;
    };
    auto any_field = [&] { return static_cast<std::int64_t>(rng.Below(kTcbFields + 2)) - 1; };
    for (std::int64_t i = 0; i < 3 * iterations; ++i) {
      const std::uint64_t op = rng.Pick(held.size() < 2 ? 6 : 5);
      if (op == 0 || op == 5) {
        if (const std::int64_t t = pool.Alloc(cpu); t >= 0) held.push_back(t);
      } else if (op == 1) {
        if (!held.empty() && rng.Pick(4) != 0) {
          const std::size_t k = rng.Pick(held.size());
          pool.Free(cpu, held[k]);
          held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
        } else {
          const std::int64_t t = any_tid();
          pool.Free(cpu, t);
        }
      } else if (op == 2) {
        const std::int64_t t = any_tid();
        const std::int64_t f = any_field();
        pool.Read(cpu, t, f);
      } else if (op == 3 && !held.empty()) {
        const std::int64_t t = held[rng.Pick(held.size())];
        const auto f = static_cast<std::int64_t>(rng.Below(kTcbFields));
        pool.Write(cpu, t, f, 100 * (me + 1) + i);
        pool.Read(cpu, t, f);
      } else {
        const std::int64_t t = any_tid();
        const std::int64_t f = any_field();
        pool.Write(cpu, t, f, 7);
      }
    }
    for (std::int64_t t : held) pool.Free(cpu, t);
  }

  TcbPairOptions o_;
};

}  // namespace

std::int64_t TcbPool::Alloc(Cpu& cpu, std::source_location where) {
  layers::MarkCall(cpu, object_, kAllocPrim, 0, 0, where);
  const std::int64_t r = DoAlloc(cpu);
  layers::MarkReturn(cpu, object_, kAllocPrim, r, where);
  return r;
}

std::int64_t TcbPool::Free(Cpu& cpu, std::int64_t tid, std::source_location where) {
  layers::MarkCall(cpu, object_, kFreePrim, tid, 0, where);
  const std::int64_t r = DoFree(cpu, tid);
  layers::MarkReturn(cpu, object_, kFreePrim, r, where);
  return r;
}

std::int64_t TcbPool::Read(Cpu& cpu, std::int64_t tid, std::int64_t field,
                          std::source_location where) {
  layers::MarkCall(cpu, object_, kReadPrim, InRange(tid, field) ? TcbWord(tid, field) : -1, 0,
                   where);
  const std::int64_t r = DoRead(cpu, tid, field);
  layers::MarkReturn(cpu, object_, kReadPrim, r, where);
  return r;
}

std::int64_t TcbPool::Write(Cpu& cpu, std::int64_t tid, std::int64_t field, std::int64_t value,
                           std::source_location where) {
  layers::MarkCall(cpu, object_, kWritePrim, InRange(tid, field) ? TcbWord(tid, field) : -1,
                   value, where);
  const std::int64_t r = DoWrite(cpu, tid, field, value);
  layers::MarkReturn(cpu, object_, kWritePrim, r, where);
  return r;
}

std::unique_ptr<TcbPool> MakeSpecTcbPool(Machine& m, const std::string& name,
                                         std::int64_t capacity) {
  return std::make_unique<SpecTcbPool>(m, name, capacity);
}

void AddBuiltinTcbPools(TcbRegistry& pools) {
  pools.Add({"spec", "the atomic spec itself: ALLOC / FREE / READ / WRITE", false, "",
             [](Machine& m, const std::string& name, std::int64_t capacity, const LockFactory&) {
               return MakeSpecTcbPool(m, name, capacity);
             }});
  pools.Add({"module", "acquire, pull, sequential code, push, release", false, "",
             TcbFactoryOf<ModuleTcbPool>()});
  AddKnownBadTcbPools(pools);
}

TcbPoolState TcbSpecReplay::Init() const {
  TcbPoolState s;
  s.allocated.assign(static_cast<std::size_t>(capacity), false);
  s.fields.assign(static_cast<std::size_t>(capacity * kTcbFields), 0);
  return s;
}

std::int64_t TcbSpecReplay::Result(const State& s, const Event& e) {
  const auto n = static_cast<std::int64_t>(s.allocated.size());
  // arg0 of read and write: a word index, or -1 for none.
  const std::int64_t tid = e.arg0 >= 0 ? e.arg0 / kTcbFields : -1;
  const bool held = tid >= 0 && tid < n && s.allocated[static_cast<std::size_t>(tid)];
  if (e.kind == kinds::kAlloc) {
    for (std::int64_t t = 0; t < n; ++t) {
      if (!s.allocated[static_cast<std::size_t>(t)]) return t;
    }
    return -1;
  }
  if (e.kind == kinds::kFree) {
    return e.arg0 >= 0 && e.arg0 < n && s.allocated[static_cast<std::size_t>(e.arg0)] ? 1 : 0;
  }
  if (e.kind == kinds::kRead) return held ? s.fields[static_cast<std::size_t>(e.arg0)] : -1;
  if (e.kind == kinds::kWrite) return held ? 1 : 0;
  return 0;
}

bool TcbSpecReplay::Step(State& s, const Event& e) const {
  if (e.marker() || e.object != pool) return true;
  const std::int64_t r = Result(s, e);
  if (e.kind == kinds::kAlloc && r >= 0) {
    s.allocated[static_cast<std::size_t>(r)] = true;
    for (int f = 0; f < kTcbFields; ++f) s.fields[static_cast<std::size_t>(TcbWord(r, f))] = 0;
  } else if (e.kind == kinds::kFree && r == 1) {
    s.allocated[static_cast<std::size_t>(e.arg0)] = false;
  } else if (e.kind == kinds::kWrite && r == 1) {
    s.fields[static_cast<std::size_t>(e.arg0)] = e.arg1;
  }
  return true;
}

std::unique_ptr<layers::LayerPair> MakeTcbPair(const TcbPairOptions& options) {
  return std::make_unique<TcbPair>(options);
}

}  // namespace strata::kernel
