#include "kernel/ticket_lock.h"

#include <fmt/format.h>

namespace strata::kernel {
namespace {

class TicketView final : public LockView {
 public:
  TicketView(ObjectId lock, ObjectId ticket, ObjectId now, const Machine& m)
      : lock_(lock),
        ticket_(ticket),
        now_(now),
        line_({.enter = 2, .leave = 2}, m),
        mine_(static_cast<std::size_t>(m.cpus()), -1),
        promised_(static_cast<std::size_t>(m.cpus()), 0) {}

  bool Observe(const Event& e) override {
    const std::size_t c = e.cpu.index();
    // The bound the caller promised comes with its call.
    if (e.object == lock_ && e.op == OpCode::kCall && e.kind == kinds::kCallAcquire) {
      promised_[c] = e.arg0;
    }
    if (e.object != ticket_ && e.object != now_) return true;
    if (e.object == ticket_) {
      const std::int64_t next = next_;
      if (!word_.Step(next_, e)) return false;
      // The doorway: the write that takes a ticket, whichever operation it
      // is (the word holds the next ticket to give): a fetch-and-add takes
      // the value it saw, a compare-and-swap that succeeded its expected
      // value, a store the value below the one it writes.
      std::optional<std::int64_t> taken;
      if (e.op == OpCode::kFaa) taken = e.result;
      if (e.op == OpCode::kCas && e.result == e.arg0) taken = e.arg0;
      if (e.op == OpCode::kStore) taken = e.arg0 - 1;
      // Every ticket is given once, in order: a write takes the next one
      // and moves the word one past it. Tickets are then distinct by
      // construction, so R need not compare them.
      if (taken && (*taken != next || next_ != next + 1)) {
        why_ = fmt::format("cpu {} takes ticket {} and leaves next_ticket at {}, but the next "
                           "ticket to give was {}",
                           c, *taken, next_, next);
        return false;
      }
      if (taken) {
        mine_[c] = *taken;
        line_.Arrive(e.cpu, promised_[c]);
      }
      return true;
    }
    if (!word_.Step(now_serving_, e)) return false;
    if (e.op == OpCode::kLoad && e.result == mine_[c]) line_.Take(e.cpu);
    if (e.op == OpCode::kFaa && line_.holder() == e.cpu) {
      mine_[c] = -1;
      line_.Free(e.cpu);
    }
    return true;
  }

  std::optional<std::string> Relation(const LockSpecState& spec) const override {
    if (auto broken = line_.Relation(spec)) return broken;
    if (now_serving_ > next_) {
      return fmt::format("now_serving {} has passed next_ticket {}", now_serving_, next_);
    }
    return std::nullopt;
  }

  std::string Describe() const override {
    return fmt::format("{}, next_ticket {}, now_serving {}{}", line_.Describe(), next_,
                       now_serving_, why_.empty() ? "" : " (" + why_ + ")");
  }

  std::optional<std::uint64_t> WaitBound(CpuId cpu, const layers::Primitive& p) const override {
    return line_.WaitBound(cpu, p);
  }

 private:
  ObjectId lock_, ticket_, now_;
  machine::WordReplay word_;
  LockLine line_;
  std::vector<std::int64_t> mine_;      // per CPU: its ticket, -1 when it has none
  std::vector<std::int64_t> promised_;  // per CPU: the bound of its last acquire
  std::int64_t next_ = 0, now_serving_ = 0;
  std::string why_;  // why the replay rejected an event
};

}  // namespace

TicketLock::TicketLock(Machine& m, const std::string& name)
    : Lock(m.NewObject(name)), ticket_(m.NewWord(name + ".ticket")), now_(m.NewWord(name + ".now")) {}

std::unique_ptr<LockView> TicketLock::NewView(Machine& m) const {
  return std::make_unique<TicketView>(object(), ticket_.id, now_.id, m);
}

std::int64_t TicketLock::TakeTicket(Cpu& cpu, std::int64_t note) {
  return cpu.FetchAdd(ticket_, 1, kinds::kIncTicket, note);
}

void TicketLock::WaitTurn(Cpu& cpu, std::int64_t ticket) {
  cpu.AwaitValue(now_, ticket, kinds::kGetNow);
  cpu.Linearize();
}

void TicketLock::BumpNow(Cpu& cpu) {
  cpu.FetchAdd(now_, 1, kinds::kIncNow);
  cpu.Linearize();
}

void TicketLock::DoAcquire(Cpu& cpu, std::int64_t bound) { WaitTurn(cpu, TakeTicket(cpu, bound)); }

void TicketLock::DoRelease(Cpu& cpu) { BumpNow(cpu); }

}  // namespace strata::kernel
