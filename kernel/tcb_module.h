// strata's TCB-pool module: acquire the pool's lock (bound 2: the pull and
// the push), pull the pool's block, sequential code on it, push it (the
// linearization point), release. The block holds, per TCB, [used, field 0
// .. field kTcbFields-1]; its view decodes that layout from each push.
// Public so known-bad variants can override one piece each.
#ifndef STRATA_KERNEL_TCB_MODULE_H_
#define STRATA_KERNEL_TCB_MODULE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "kernel/tcb_pool.h"

namespace strata::kernel {

class ModuleTcbPool : public TcbPool {
 public:
  ModuleTcbPool(Machine& m, const std::string& name, std::int64_t capacity,
                const LockFactory& lock);
  std::unique_ptr<TcbView> NewView(Machine& m) const override;

  // The block's word index of TCB `tid`'s used flag (field f is at +1+f).
  static std::size_t Slot(std::int64_t tid) {
    return static_cast<std::size_t>(tid) * (1 + kTcbFields);
  }

 protected:
  std::int64_t DoAlloc(Cpu& cpu) override;
  std::int64_t DoFree(Cpu& cpu, std::int64_t tid) override;
  std::int64_t DoRead(Cpu& cpu, std::int64_t tid, std::int64_t field) override;
  std::int64_t DoWrite(Cpu& cpu, std::int64_t tid, std::int64_t field,
                       std::int64_t value) override;
  // Takes the lock and pulls the block.
  virtual void Enter(Cpu& cpu);
  // Pushes the block (the linearization point) and releases the lock.
  virtual void Leave(Cpu& cpu);
  // With the block pulled: the lowest free TCB, or -1.
  virtual std::int64_t FindFree(Cpu& cpu);
  // With the block pulled: makes free TCB `tid` allocated, its fields 0.
  virtual void Take(Cpu& cpu, std::int64_t tid);

  machine::Block data_;
  std::unique_ptr<Lock> lock_;
};

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_TCB_MODULE_H_
