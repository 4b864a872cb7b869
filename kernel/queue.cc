#include "kernel/queue.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "machine/check.h"

namespace strata::kernel {
namespace {

using machine::Block;

struct Flaws {
  bool no_lock = false;     // operates on the block without taking the lock
  bool no_pull = false;     // writes the block without pulling it
  bool lifo = false;        // deq takes the newest value
  bool off_by_one = false;  // deq returns the value plus one
};

struct ImplEntry {
  QueueImpl info;
  bool spec;
  Flaws flaws;
};

constexpr ImplEntry kImpls[] = {
    {{"spec", "the atomic spec itself: ENQ / DEQ", false}, true, {}},
    {{"module", "acquire, pull, sequential code, push, release", false}, false, {}},
    {{"module-no-lock", "known-bad: skips the lock", true}, false, {.no_lock = true}},
    {{"module-no-pull", "known-bad: writes the block without pulling it", true}, false,
     {.no_pull = true}},
    {{"module-lifo", "known-bad: deq takes the newest value", true}, false, {.lifo = true}},
    {{"module-off-by-one", "known-bad: deq returns the value plus one", true}, false,
     {.off_by_one = true}},
};

const ImplEntry& Entry(std::string_view name) {
  for (const ImplEntry& e : kImpls) {
    if (e.info.name == name) return e;
  }
  STRATA_CHECK(false, "unknown queue implementation {}", name);
  return kImpls[0];
}

// The block image of a queue holding `values`: [count, v0, v1, ..., 0...].
std::vector<std::int64_t> Image(const std::deque<std::int64_t>& values, std::int64_t capacity) {
  std::vector<std::int64_t> words(static_cast<std::size_t>(capacity + 1), 0);
  words[0] = static_cast<std::int64_t>(values.size());
  std::copy(values.begin(), values.end(), words.begin() + 1);
  return words;
}

class SpecQueue final : public Queue {
 public:
  SpecQueue(Machine& m, const std::string& name, std::int64_t capacity)
      : Queue(m.NewObject(name)), capacity_(capacity) {}

 protected:
  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override {
    std::int64_t r = 0;
    cpu.Step({.object = object(), .kind = kinds::kEnq, .arg0 = value, .apply = [&] {
                if (static_cast<std::int64_t>(values_.size()) < capacity_) {
                  values_.push_back(value);
                  r = 1;
                }
                return std::int64_t{0};
              }});
    return r;
  }
  std::int64_t DoDeq(Cpu& cpu) override {
    std::int64_t r = -1;
    cpu.Step({.object = object(), .kind = kinds::kDeq, .apply = [&] {
                if (!values_.empty()) {
                  r = values_.front();
                  values_.pop_front();
                }
                return std::int64_t{0};
              }});
    return r;
  }

 private:
  std::int64_t capacity_;
  std::deque<std::int64_t> values_;
};

class ModuleQueue final : public Queue {
 public:
  ModuleQueue(Machine& m, std::string_view lock_impl, const std::string& name,
              std::int64_t capacity, Flaws flaws)
      : Queue(m.NewObject(name)),
        data_(m.NewBlock(name + ".data", static_cast<std::size_t>(capacity + 1))),
        lock_(MakeLock(m, lock_impl, name + ".lock")),
        capacity_(capacity),
        flaws_(flaws) {}

  Block data() const { return data_; }

 protected:
  // The lock is held for two shared events: the pull and the push.
  static constexpr std::int64_t kBound = 2;

  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override {
    Enter(cpu);
    const std::int64_t count = cpu.Read(data_, 0);
    std::int64_t r = 0;
    if (count < capacity_) {
      cpu.Write(data_, static_cast<std::size_t>(1 + count), value);
      cpu.Write(data_, 0, count + 1);
      r = 1;
    }
    Leave(cpu);
    return r;
  }

  std::int64_t DoDeq(Cpu& cpu) override {
    Enter(cpu);
    const std::int64_t count = cpu.Read(data_, 0);
    std::int64_t r = -1;
    if (count > 0) {
      const auto n = static_cast<std::size_t>(count);
      if (flaws_.lifo) {
        r = cpu.Read(data_, n);
      } else {
        r = cpu.Read(data_, 1);
        for (std::size_t i = 1; i < n; ++i) cpu.Write(data_, i, cpu.Read(data_, i + 1));
      }
      cpu.Write(data_, n, 0);
      cpu.Write(data_, 0, count - 1);
      if (flaws_.off_by_one) ++r;
    }
    Leave(cpu);
    return r;
  }

 private:
  void Enter(Cpu& cpu) {
    if (!flaws_.no_lock) lock_->Acquire(cpu, kBound);
    if (!flaws_.no_pull) cpu.Pull(data_);
  }
  void Leave(Cpu& cpu) {
    cpu.Push(data_);
    if (!flaws_.no_lock) lock_->Release(cpu);
  }

  Block data_;
  std::unique_ptr<Lock> lock_;
  std::int64_t capacity_;
  Flaws flaws_;
};

class QueueAbstraction final : public layers::Abstraction {
 public:
  QueueAbstraction(ObjectId queue, Block data, std::int64_t capacity)
      : data_(data),
        replay_{.queue = queue, .capacity = capacity},
        upper_(replay_.Init()),
        pushed_(machine::BlockHash(Image({}, capacity))) {}

  bool ObserveLower(const Event& e) override {
    if (e.object == data_.id && e.kind == machine::kinds::kPush) pushed_ = e.arg0;
    return true;
  }
  bool ObserveUpper(const Event& e) override { return replay_.Step(upper_, e); }

  std::optional<std::string> Relation() const override {
    if (machine::BlockHash(Image(upper_, replay_.capacity)) == pushed_) return std::nullopt;
    return fmt::format("the last pushed block (hash {:016x}) is not the spec's queue [{}]",
                       static_cast<std::uint64_t>(pushed_), fmt::join(upper_, ", "));
  }
  std::string DescribeLower() const override {
    return fmt::format("last pushed block hash {:016x}", static_cast<std::uint64_t>(pushed_));
  }
  std::string DescribeUpper() const override {
    return fmt::format("queue [{}] (hash {:016x})", fmt::join(upper_, ", "),
                       static_cast<std::uint64_t>(machine::BlockHash(Image(upper_, replay_.capacity))));
  }
  // The queue's liveness is its lock's: the lock layer's check bounds it.
  std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
    return std::nullopt;
  }

 private:
  Block data_;
  QueueSpecReplay replay_;
  QueueSpecReplay::State upper_;
  std::int64_t pushed_;
};

class QueuePair final : public layers::LayerPair {
 public:
  explicit QueuePair(QueuePairOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "queue"; }
  std::string lower() const override {
    return fmt::format("queue {} over the {} lock", o_.impl, o_.lock_impl);
  }
  std::string upper() const override { return "queue spec"; }
  std::span<const layers::Primitive> primitives() const override { return kQueuePrimitives; }

  layers::SideRun SetUp(Machine& m, layers::Side side) const override {
    const std::string impl = side == layers::Side::kSpec ? "spec" : o_.impl;
    std::shared_ptr<Queue> queue = MakeQueue(m, impl, o_.lock_impl, "q", o_.capacity);
    struct Results {
      std::int64_t enqueued = 0;
      std::set<std::int64_t> offered;  // values whose enq succeeded
      std::vector<std::int64_t> taken;
    };
    auto results = std::make_shared<Results>();
    const std::int64_t iterations = o_.iterations, capacity = o_.capacity;
    layers::SideRun run;
    run.program = [queue, results, iterations](Cpu& cpu) {
      for (std::int64_t i = 0; i < iterations; ++i) {
        const std::int64_t v = 1000 * (cpu.id().value() + 1) + i;
        if (queue->Enq(cpu, v) == 1) {
          ++results->enqueued;
          results->offered.insert(v);
        }
      }
      for (std::int64_t i = 0; i < iterations; ++i) {
        const std::int64_t v = queue->Deq(cpu);
        if (v != -1) results->taken.push_back(v);
      }
    };
    if (side == layers::Side::kModule) {
      auto* module = dynamic_cast<ModuleQueue*>(queue.get());
      STRATA_CHECK(module != nullptr, "queue pair module side is not a module");
      run.abstraction = std::make_unique<QueueAbstraction>(queue->object(), module->data(), capacity);
    }
    run.final_check = [results, capacity]() -> std::optional<std::string> {
      std::set<std::int64_t> seen;
      for (std::int64_t v : results->taken) {
        if (!results->offered.contains(v)) return fmt::format("deq returned {}, never enqueued", v);
        if (!seen.insert(v).second) return fmt::format("deq returned {} twice", v);
      }
      const std::int64_t left = results->enqueued - static_cast<std::int64_t>(results->taken.size());
      if (left < 0 || left > capacity) {
        return fmt::format("{} values enqueued, {} dequeued: {} cannot be left in a queue of {}",
                           results->enqueued, results->taken.size(), left, capacity);
      }
      return std::nullopt;
    };
    return run;
  }

  bool IsLinearization(const layers::Primitive&, const Event&, const Event& e) const override {
    return e.kind == machine::kinds::kPush;
  }

 private:
  QueuePairOptions o_;
};

}  // namespace

std::int64_t Queue::Enq(Cpu& cpu, std::int64_t value) {
  layers::MarkCall(cpu, object_, kEnq, value);
  const std::int64_t r = DoEnq(cpu, value);
  layers::MarkReturn(cpu, object_, kEnq, r);
  return r;
}

std::int64_t Queue::Deq(Cpu& cpu) {
  layers::MarkCall(cpu, object_, kDeq);
  const std::int64_t r = DoDeq(cpu);
  layers::MarkReturn(cpu, object_, kDeq, r);
  return r;
}

std::span<const QueueImpl> QueueImpls() {
  static const std::vector<QueueImpl> impls = [] {
    std::vector<QueueImpl> v;
    for (const ImplEntry& e : kImpls) v.push_back(e.info);
    return v;
  }();
  return impls;
}

const QueueImpl* FindQueueImpl(std::string_view name) {
  for (const ImplEntry& e : kImpls) {
    if (e.info.name == name) return &e.info;
  }
  return nullptr;
}

std::unique_ptr<Queue> MakeQueue(Machine& m, std::string_view impl, std::string_view lock_impl,
                                 const std::string& name, std::int64_t capacity) {
  const ImplEntry& e = Entry(impl);
  if (e.spec) return std::make_unique<SpecQueue>(m, name, capacity);
  return std::make_unique<ModuleQueue>(m, lock_impl, name, capacity, e.flaws);
}

bool QueueSpecReplay::Step(State& s, const Event& e) const {
  if (e.marker || e.object != queue) return true;
  if (e.kind == kinds::kEnq) {
    if (static_cast<std::int64_t>(s.size()) < capacity) s.push_back(e.arg0);
  } else if (e.kind == kinds::kDeq) {
    if (!s.empty()) s.pop_front();
  }
  return true;
}

std::unique_ptr<layers::LayerPair> MakeQueuePair(const QueuePairOptions& options) {
  return std::make_unique<QueuePair>(options);
}

}  // namespace strata::kernel
