// The MCS queue lock, a module of the lock layer over the machine's words:
// per CPU a node (next, busy), and the tail word (0 = free, else the last
// waiter's node: cpu + 1).
//
//   acquire  SET_NEXT 0, SET_BUSY 1 on the caller's node; SWAP_TAIL(bound)
//            (the doorway); with no predecessor the swap is the
//            linearization point, else link to it (SET_NEXT on its node)
//            and wait for busy = 0 (GET_BUSY, the linearization point).
//   release  GET_NEXT; with no successor CAS_TAIL back to 0 (the
//            linearization point when it succeeds), else, or when the CAS
//            fails because a successor is about to link, wait for the link
//            (WaitForLink) and hand over with SET_BUSY 0 on its node
//            (HandOver: the linearization point).
//
// Its view replays the words; R: the spec's holder is the CPU that got the
// lock (a swap that saw 0, or a wait that saw busy = 0) and has not yet
// freed it. Liveness: FIFO, 5 steps per acquire, 6 per release (it may wait
// for the successor's link).
#ifndef STRATA_KERNEL_MCS_LOCK_H_
#define STRATA_KERNEL_MCS_LOCK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernel/lock.h"

namespace strata::kernel {

namespace kinds {
inline constexpr EventKind kSwapTail{"SWAP_TAIL"};
inline constexpr EventKind kCasTail{"CAS_TAIL"};
inline constexpr EventKind kSetNext{"SET_NEXT"};
inline constexpr EventKind kGetNext{"GET_NEXT"};
inline constexpr EventKind kSetBusy{"SET_BUSY"};
inline constexpr EventKind kGetBusy{"GET_BUSY"};
}  // namespace kinds

class McsLock : public Lock {
 public:
  McsLock(Machine& m, const std::string& name);
  std::unique_ptr<LockView> NewView(Machine& m) const override;

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override;
  void DoRelease(Cpu& cpu) override;
  // A successor swapped the tail but has not linked itself yet: waits for
  // the link and returns the successor's node (cpu + 1), or 0 to give up.
  virtual std::int64_t WaitForLink(Cpu& cpu);
  // Hands the lock to the successor `node`: the release's linearization point.
  virtual void HandOver(Cpu& cpu, std::int64_t node);

  Word tail_;
  std::vector<Word> next_, busy_;
};

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_MCS_LOCK_H_
