// The test-and-set lock, a module of the lock layer over one word (0 = free,
// else the holder: cpu + 1). acquire: TAS (a compare-and-swap 0 -> cpu + 1,
// the linearization point when it succeeds), else SPIN until the word
// changes and try again; release: CLEAR (store 0, the linearization point).
// Safe, but not starvation-free: its view claims the FIFO bound anyway (2
// steps per acquire, 1 per release, arrival at the call), which is what a
// check under a tight fairness bound catches (`starvation`).
#ifndef STRATA_KERNEL_TAS_LOCK_H_
#define STRATA_KERNEL_TAS_LOCK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "kernel/lock.h"

namespace strata::kernel {

namespace kinds {
inline constexpr EventKind kTas{"TAS"};
inline constexpr EventKind kSpin{"SPIN"};
inline constexpr EventKind kClear{"CLEAR"};
}  // namespace kinds

class TasLock final : public Lock {
 public:
  TasLock(Machine& m, const std::string& name);
  std::unique_ptr<LockView> NewView(Machine& m) const override;

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override;
  void DoRelease(Cpu& cpu) override;

 private:
  Word word_;
};

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_TAS_LOCK_H_
