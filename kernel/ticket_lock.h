// The ticket lock, a module of the lock layer over the machine's words.
//
//   acquire  INC_TICKET(bound) = fetch-and-add of the ticket word (the
//            doorway: where the caller takes its place in line), then GET_NOW
//            = wait until now_serving equals the ticket (the failed checks
//            of a spin loop change nothing, so the CPU blocks instead of
//            spinning: Cpu::AwaitValue). GET_NOW is the linearization point.
//   release  INC_NOW = fetch-and-add of now_serving; the linearization point.
//
// Its view replays both words by their machine operations, so variants that
// take a ticket another way (a load and a store, a compare-and-swap) replay
// too; a write that takes any ticket but the next one is impossible. R: the spec's
// holder is the CPU whose ticket is being served and that has seen it, and
// now_serving never passes next_ticket. Liveness: FIFO, 2 steps per acquire
// and per release.
#ifndef STRATA_KERNEL_TICKET_LOCK_H_
#define STRATA_KERNEL_TICKET_LOCK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "kernel/lock.h"

namespace strata::kernel {

namespace kinds {
inline constexpr EventKind kIncTicket{"INC_TICKET"};
inline constexpr EventKind kGetNow{"GET_NOW"};
inline constexpr EventKind kIncNow{"INC_NOW"};
}  // namespace kinds

class TicketLock : public Lock {
 public:
  TicketLock(Machine& m, const std::string& name);
  std::unique_ptr<LockView> NewView(Machine& m) const override;

 protected:
  void DoAcquire(Cpu& cpu, std::int64_t bound) override;
  void DoRelease(Cpu& cpu) override;
  // The doorway: returns the caller's ticket. `note` is the event's arg1
  // (the promised bound).
  virtual std::int64_t TakeTicket(Cpu& cpu, std::int64_t note);
  // Waits for `ticket` to be served: the acquire's linearization point.
  void WaitTurn(Cpu& cpu, std::int64_t ticket);
  // Serves the next ticket: the release's linearization point.
  void BumpNow(Cpu& cpu);

  Word ticket_, now_;
};

}  // namespace strata::kernel

#endif  // STRATA_KERNEL_TICKET_LOCK_H_
