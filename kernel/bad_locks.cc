#include "kernel/bad_locks.h"

#include <atomic>
#include <memory>
#include <string>

#include "kernel/mcs_lock.h"
#include "kernel/ticket_lock.h"

namespace strata::kernel {
namespace {

namespace bad_kinds {
inline constexpr EventKind kGetTicket{"GET_TICKET"};
inline constexpr EventKind kSetTicket{"SET_TICKET"};
}  // namespace bad_kinds

// Takes a ticket with a load, then a store: two CPUs can draw the same one.
class TicketLoadStore final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  std::int64_t TakeTicket(Cpu& cpu, std::int64_t note) override {
    const std::int64_t mine = cpu.Load(ticket_, bad_kinds::kGetTicket);
    cpu.Store(ticket_, mine + 1, bad_kinds::kSetTicket, note);
    return mine;
  }
};

// A release that forgets to bump now_serving: it never frees the lock.
class TicketNoBump final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  void DoRelease(Cpu&) override {}
};

// A release that bumps now_serving twice: it frees the lock twice.
class TicketDoubleBump final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  void DoRelease(Cpu& cpu) override {
    BumpNow(cpu);
    BumpNow(cpu);
  }
};

// Carries hidden state from run to run: exactly what makes a module
// nondeterministic across runs. (Atomic: the explorer may run it on
// several host threads at once.)
class TicketLeaky final : public TicketLock {
 public:
  using TicketLock::TicketLock;

 protected:
  std::int64_t TakeTicket(Cpu& cpu, std::int64_t note) override {
    static std::atomic<std::int64_t> leaked{0};
    return TicketLock::TakeTicket(cpu, note + 100 * ++leaked);
  }
};

// A release that gives up when the successor has not linked itself yet.
class McsNoWaitNext final : public McsLock {
 public:
  using McsLock::McsLock;

 protected:
  std::int64_t WaitForLink(Cpu&) override { return 0; }
};

// A release that never clears the successor's busy flag.
class McsKeepBusy final : public McsLock {
 public:
  using McsLock::McsLock;

 protected:
  void HandOver(Cpu&, std::int64_t) override {}
};

}  // namespace

void AddKnownBadLocks(LockRegistry& locks) {
  locks.Add({"ticket-load-store", "known-bad: takes a ticket with a load then a store", true,
             "impossible-lower-log", LockFactoryOf<TicketLoadStore>(), true});
  locks.Add({"ticket-no-bump", "known-bad: release forgets to bump now_serving", true,
             "refinement-violation", LockFactoryOf<TicketNoBump>(), true});
  locks.Add({"ticket-double-bump", "known-bad: release bumps now_serving twice", true,
             "refinement-violation", LockFactoryOf<TicketDoubleBump>(), true});
  locks.Add({"ticket-leaky", "known-bad: carries hidden state from run to run", true,
             "nondeterminism", LockFactoryOf<TicketLeaky>(), true});
  locks.Add({"mcs-no-wait-next", "known-bad: release does not wait for a late next link", true,
             "refinement-violation", LockFactoryOf<McsNoWaitNext>(), true});
  locks.Add({"mcs-keep-busy", "known-bad: release never clears the successor's busy flag", true,
             "refinement-violation", LockFactoryOf<McsKeepBusy>(), true});
}

}  // namespace strata::kernel
