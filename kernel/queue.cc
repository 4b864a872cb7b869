#include "kernel/queue.h"

#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernel/bad_queues.h"
#include "kernel/queue_module.h"
#include "machine/rng.h"

namespace strata::kernel {
namespace {

class SpecQueue final : public Queue {
 public:
  SpecQueue(Machine& m, const std::string& name, std::int64_t capacity)
      : Queue(m.NewObject(name)), capacity_(capacity) {}

  // The spec as its own module: it replays its own steps.
  std::unique_ptr<QueueView> NewView(Machine&) const override {
    return std::make_unique<View>(QueueSpecReplay{.queue = object(), .capacity = capacity_});
  }

 protected:
  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override {
    std::int64_t r = 0;
    cpu.Step({.object = object(), .kind = kinds::kEnq, .arg0 = value, .apply = [&] {
                if (static_cast<std::int64_t>(values_.size()) < capacity_) {
                  values_.push_back(value);
                  r = 1;
                }
                return std::int64_t{0};
              },
              .where = cpu.call_site()});
    cpu.Linearize();
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
              },
              .where = cpu.call_site()});
    cpu.Linearize();
    return r;
  }

 private:
  class View final : public QueueView {
   public:
    explicit View(QueueSpecReplay replay) : replay_(replay), values_(replay.Init()) {}
    bool Observe(const Event& e) override { return replay_.Step(values_, e); }
    std::optional<std::string> Relation(const QueueSpecReplay::State& spec) const override {
      if (values_ == spec) return std::nullopt;
      return fmt::format("the queue holds [{}], the spec's queue is [{}]",
                         fmt::join(values_, ", "), fmt::join(spec, ", "));
    }
    std::string Describe() const override {
      return fmt::format("queue [{}]", fmt::join(values_, ", "));
    }
    std::optional<std::uint64_t> WaitBound(CpuId, const layers::Primitive&) const override {
      return std::nullopt;
    }

   private:
    QueueSpecReplay replay_;
    QueueSpecReplay::State values_;
  };

  std::int64_t capacity_;
  std::deque<std::int64_t> values_;
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
    const bool module = side == layers::Side::kModule;
    std::shared_ptr<Queue> queue =
        module ? o_.module(m, "q", o_.capacity, o_.lock) : MakeSpecQueue(m, "q", o_.capacity);
    struct Results {
      std::int64_t enqueued = 0;
      std::set<std::int64_t> offered;  // values whose enq succeeded
      std::vector<std::int64_t> taken;
    };
    auto results = std::make_shared<Results>();
    const std::int64_t iterations = o_.iterations, capacity = o_.capacity;
    // Values are distinct per CPU: cpu c's k-th is (c + 1) * stride + k, with
    // stride a power of ten above any CPU's count of enqs (1000 at least).
    std::int64_t stride = 1000;
    while (stride <= 4 * iterations) stride *= 10;
    layers::SideRun run;
    if (o_.general) {
      // The most-general client: 2N to 4N calls, enq-heavy in the first
      // half and deq-heavy in the second, so the queue fills up, empties
      // and (in a ring) wraps around; values distinct per CPU.
      run.program = [queue, results, iterations, stride](Cpu& cpu) {
        machine::ClientRng rng = machine::ClientDraws(cpu);
        const std::uint64_t calls = static_cast<std::uint64_t>(2 * iterations) +
                                    rng.Below(static_cast<std::uint64_t>(2 * iterations) + 1);
        std::int64_t next = 0;
        for (std::uint64_t i = 0; i < calls; ++i) {
          const bool filling = 2 * i < calls;
          if (rng.Pick(4) < (filling ? 3u : 1u)) {
            const std::int64_t v = stride * (cpu.id().value() + 1) + next++;
            if (queue->Enq(cpu, v) == 1) {
              ++results->enqueued;
              results->offered.insert(v);
            }
          } else if (const std::int64_t v = queue->Deq(cpu); v != -1) {
            results->taken.push_back(v);
          }
        }
      };
    } else {
    run.program = [queue, results, iterations, stride](Cpu& cpu) {
      for (std::int64_t i = 0; i < iterations; ++i) {
        const std::int64_t v = stride * (cpu.id().value() + 1) + i;
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
    }
    if (module) {
      run.observe = [queue, capacity, &m]() -> std::unique_ptr<layers::Observer> {
        return std::make_unique<layers::SpecAndView<QueueSpecReplay>>(
            QueueSpecReplay{.queue = queue->object(), .capacity = capacity}, queue->NewView(m));
      };
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

 private:
  QueuePairOptions o_;
};

}  // namespace

std::int64_t Queue::Enq(Cpu& cpu, std::int64_t value, std::source_location where) {
  layers::MarkCall(cpu, object_, kEnq, value, 0, where);
  const std::int64_t r = DoEnq(cpu, value);
  layers::MarkReturn(cpu, object_, kEnq, r, where);
  return r;
}

std::int64_t Queue::Deq(Cpu& cpu, std::source_location where) {
  layers::MarkCall(cpu, object_, kDeq, 0, 0, where);
  const std::int64_t r = DoDeq(cpu);
  layers::MarkReturn(cpu, object_, kDeq, r, where);
  return r;
}

std::unique_ptr<Queue> MakeSpecQueue(Machine& m, const std::string& name, std::int64_t capacity) {
  return std::make_unique<SpecQueue>(m, name, capacity);
}

void AddBuiltinQueues(QueueRegistry& queues) {
  queues.Add({"spec", "the atomic spec itself: ENQ / DEQ", false, "",
              [](Machine& m, const std::string& name, std::int64_t capacity,
                 const LockFactory&) { return MakeSpecQueue(m, name, capacity); }});
  queues.Add({"module", "acquire, pull, sequential code, push, release", false, "",
              QueueFactoryOf<ModuleQueue>()});
  AddKnownBadQueues(queues);
}

bool QueueSpecReplay::Step(State& s, const Event& e) const {
  if (e.marker() || e.object != queue) return true;
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
