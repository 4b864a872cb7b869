// What an exploration adds up over the executions it takes (explorer.cc):
// their number, events, folded log hashes and the longest wait; and a
// compact block of executions that are only counted, which a part made on
// another host thread or rank keeps until the root takes it. Taking a
// block's executions in order, up to any cap, gives the tally that taking
// them one by one gives.
#ifndef STRATA_LAYERS_TALLY_H_
#define STRATA_LAYERS_TALLY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "machine/rng.h"

namespace strata::layers {

// One execution as the tally sees it.
struct Counted {
  std::uint64_t events = 0, log_hash = 0;
  // Its longest call, in machine steps, and that call's bound.
  std::uint64_t worst_wait = 0, wait_bound = 0;
  // What the strategy of the part that made it had skipped (Strategy::
  // skipped) once it went on past it: what an exploration that stops
  // right after it reports (the explorer offsets it to the part that
  // holds it). Not added up by Tally.
  std::uint64_t skipped = 0;
};

struct Tally {
  std::uint64_t executions = 0, events = 0;
  std::uint64_t logs_hash = 0;  // the executions' log hashes folded in order
  // The longest wait, and its bound: of the first execution that had it.
  std::uint64_t worst_wait = 0, wait_bound = 0;

  void Take(const Counted& c) {
    ++executions;
    events += c.events;
    logs_hash = machine::MixSeed(logs_hash ^ c.log_hash);
    if (c.worst_wait > worst_wait) {
      worst_wait = c.worst_wait;
      wait_bound = c.wait_bound;
    }
  }
};

// Up to kCapacity executions in 12 bytes each, plus 24 where the longest
// wait rises and 16 where the skipped count changes (in place of a 56-byte
// entry per execution: a long dfs on 2 threads, MCS 5 x 2, held a gigabyte
// of them). A wait is kept only where it is longer than every earlier one
// in the block: no other can change a Tally that takes the block in order.
class CountedBlock {
 public:
  static constexpr std::size_t kCapacity = 4096;

  // True if c fits a block: its events fit 32 bits.
  static bool Fits(const Counted& c) { return c.events <= UINT32_MAX; }
  std::size_t size() const { return hashes_.size(); }
  bool full() const { return size() == kCapacity; }

  // Precondition: !full(), Fits(c), and c.skipped is at least the last
  // execution's skipped.
  void Add(const Counted& c) {
    if (c.worst_wait > (rises_.empty() ? 0 : rises_.back().worst_wait)) {
      rises_.push_back({.at = static_cast<std::uint32_t>(size()), .worst_wait = c.worst_wait,
                        .wait_bound = c.wait_bound});
    }
    hashes_.push_back(c.log_hash);
    events_.push_back(static_cast<std::uint32_t>(c.events));
    SetLastSkipped(c.skipped);
  }
  // Sets the last execution's skipped. Precondition: size() > 0, and
  // `skipped` is at least the skipped of the one before it.
  void SetLastSkipped(std::uint64_t skipped) {
    const auto last = static_cast<std::uint32_t>(size() - 1);
    const std::uint64_t relative = skipped - skipped_base_;
    if (!skips_.empty() && skips_.back().at == last) {
      skips_.back().skipped = relative;
    } else if (relative != (skips_.empty() ? 0 : skips_.back().skipped)) {
      skips_.push_back({.at = last, .skipped = relative});
    }
  }
  // Adds `offset` to every execution's skipped.
  void OffsetSkipped(std::uint64_t offset) { skipped_base_ += offset; }

  // Calls f(counted) for the executions in order until f returns false;
  // returns false if it did. A wait that is not kept comes as 0.
  template <class F>
  bool ForEach(F&& f) const {
    std::size_t rise = 0, skip = 0;
    std::uint64_t skipped = 0;
    for (std::size_t k = 0; k < size(); ++k) {
      Counted c{.events = events_[k], .log_hash = hashes_[k]};
      if (rise < rises_.size() && rises_[rise].at == k) {
        c.worst_wait = rises_[rise].worst_wait;
        c.wait_bound = rises_[rise++].wait_bound;
      }
      if (skip < skips_.size() && skips_[skip].at == k) skipped = skips_[skip++].skipped;
      c.skipped = skipped_base_ + skipped;
      if (!f(c)) return false;
    }
    return true;
  }

 private:
  struct Rise {
    std::uint32_t at = 0;  // index in the block
    std::uint64_t worst_wait = 0, wait_bound = 0;
  };
  // Where the skipped count changes, relative to skipped_base_.
  struct Skip {
    std::uint32_t at = 0;  // index in the block
    std::uint64_t skipped = 0;
  };
  std::vector<std::uint64_t> hashes_;
  std::vector<std::uint32_t> events_;
  std::vector<Rise> rises_;
  std::vector<Skip> skips_;
  std::uint64_t skipped_base_ = 0;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_TALLY_H_
