// BlockStrategy: the executions [0, runs) as ranges of whole blocks, split
// by halving what is left (the classic work-stealing split: the thief takes
// the half furthest from what the owner makes next).
#include <algorithm>

#include "layers/strategy.h"
#include "layers/wire.h"
#include "machine/check.h"

namespace strata::layers {

bool BlockStrategy::Begin(std::uint64_t i) {
  STRATA_CHECK(i == next_ && next_ < end_, "execution {} made out of its strategy's order (next {}, end {})", i,
               next_, end_);
  return i % kBlock == 0;
}

bool BlockStrategy::Advance() {
  ++next_;
  return next_ < end_ || !given_.empty();
}

std::unique_ptr<Strategy> BlockStrategy::Split(std::uint64_t id, std::uint64_t* first) {
  // At least a block for each side, in whole blocks.
  if (end_ - next_ < 2 * kBlock) return nullptr;
  const std::uint64_t mid = (next_ + (end_ - next_) / 2 + kBlock - 1) / kBlock * kBlock;
  if (mid <= next_ || mid >= end_) return nullptr;
  std::unique_ptr<BlockStrategy> part = Copy();
  part->next_ = mid;
  part->end_ = end_;
  given_.push_back({id, end_});
  end_ = mid;
  *first = mid;
  return part;
}

std::optional<std::uint64_t> BlockStrategy::Joining() const {
  if (next_ < end_ || given_.empty()) return std::nullopt;
  return given_.back().id;
}

// A part makes its range exactly as this strategy would: always.
bool BlockStrategy::Fits(const Strategy& part) const {
  (void)part;
  return !given_.empty();
}

bool BlockStrategy::Join(Strategy& part) {
  (void)part;
  STRATA_CHECK(!given_.empty() && next_ == end_, "join without a part");
  next_ = end_ = given_.back().end;
  given_.pop_back();
  return !given_.empty();
}

void BlockStrategy::Reclaim() {
  STRATA_CHECK(!given_.empty() && next_ == end_, "reclaim without a part");
  end_ = given_.back().end;
  given_.pop_back();
}

std::optional<std::string> BlockStrategy::Pack() const {
  return WireWriter().U(next_).U(end_).Take();
}

std::unique_ptr<Strategy> BlockStrategy::Unpack(std::string_view bytes) const {
  WireReader in(bytes);
  const std::uint64_t next = in.U(), end = in.U();
  if (!in.done() || next % kBlock != 0 || next >= end) return nullptr;
  std::unique_ptr<BlockStrategy> part = Copy();
  part->next_ = next;
  part->end_ = end;
  return part;
}

}  // namespace strata::layers
