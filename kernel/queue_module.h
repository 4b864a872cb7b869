// strata's queue module: acquire the queue's lock (bound 2: the pull and the
// push), pull the queue's block, sequential code on it, push it (the
// linearization point), release. The block holds [count, v0, v1, ...] with
// the oldest value first; its view decodes that layout from each push.
// Public so known-bad variants can override one piece each.
#ifndef STRATA_KERNEL_QUEUE_MODULE_H_
#define STRATA_KERNEL_QUEUE_MODULE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "kernel/queue.h"

namespace strata::kernel {

class ModuleQueue : public Queue {
 public:
  ModuleQueue(Machine& m, const std::string& name, std::int64_t capacity, const LockFactory& lock);
  std::unique_ptr<QueueView> NewView(Machine& m) const override;

 protected:
  std::int64_t DoEnq(Cpu& cpu, std::int64_t value) override;
  std::int64_t DoDeq(Cpu& cpu) override;
  // Takes the lock and pulls the block.
  virtual void Enter(Cpu& cpu);
  // Pushes the block (the linearization point) and releases the lock.
  virtual void Leave(Cpu& cpu);
  // Removes and returns the oldest of the `count` values (count >= 1) of the
  // pulled block, leaving the others in order at 1..count-1.
  virtual std::int64_t TakeOldest(Cpu& cpu, std::size_t count);

  machine::Block data_;
  std::unique_ptr<Lock> lock_;
  std::int64_t capacity_;
};

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_QUEUE_MODULE_H_
