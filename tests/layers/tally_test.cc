#include "layers/tally.h"

#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "machine/rng.h"

namespace strata::layers {
namespace {

bool operator==(const Tally& a, const Tally& b) {
  return a.executions == b.executions && a.events == b.events && a.logs_hash == b.logs_hash &&
         a.worst_wait == b.worst_wait && a.wait_bound == b.wait_bound;
}

// Waits that rise, fall and repeat (a repeat keeps the first one's bound).
std::vector<Counted> Executions(std::uint64_t seed, std::size_t n) {
  machine::Rng rng(seed);
  std::vector<Counted> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back({.events = 1 + rng.Below(200), .log_hash = rng.Next(), .worst_wait = rng.Below(60),
                   .wait_bound = 1000 + i});
  }
  return out;
}

TEST_CASE("a block taken in order up to any cap tallies as its executions taken one by one") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    const std::vector<Counted> all = Executions(seed, 300);
    CountedBlock block;
    for (const Counted& c : all) block.Add(c);
    REQUIRE(block.size() == all.size());
    // A tally that already has executions: the block's waits must be
    // judged against it, not only among themselves.
    Tally before;
    for (const Counted& c : Executions(seed + 100, 5)) before.Take(c);
    for (std::size_t cap = 0; cap <= all.size(); ++cap) {
      CAPTURE(cap);
      Tally one_by_one = before, from_block = before;
      for (std::size_t k = 0; k < cap; ++k) one_by_one.Take(all[k]);
      std::size_t taken = 0;
      const bool whole = block.ForEach([&](const Counted& c) {
        if (taken == cap) return false;
        ++taken;
        from_block.Take(c);
        return true;
      });
      CHECK(whole == (cap == all.size()));
      CHECK(from_block == one_by_one);
    }
  }
}

TEST_CASE("a block keeps only the waits that rise, and fills at its capacity") {
  CountedBlock block;
  for (std::uint64_t wait : {0, 5, 3, 5, 9, 9, 2}) block.Add({.events = 1, .worst_wait = wait, .wait_bound = 10 + wait});
  std::vector<std::uint64_t> waits;
  block.ForEach([&](const Counted& c) {
    waits.push_back(c.worst_wait);
    return true;
  });
  CHECK(waits == std::vector<std::uint64_t>{0, 5, 0, 0, 9, 0, 0});
  CHECK_FALSE(block.full());
  while (!block.full()) block.Add({.events = 1});
  CHECK(block.size() == CountedBlock::kCapacity);
  CHECK(CountedBlock::Fits({.events = UINT32_MAX}));
  CHECK_FALSE(CountedBlock::Fits({.events = std::uint64_t{UINT32_MAX} + 1}));
}

TEST_CASE("a block gives back each execution's skipped count, raised later and offset as a whole") {
  machine::Rng rng(7);
  CountedBlock block;
  std::vector<std::uint64_t> want;
  std::uint64_t skipped = 0;
  for (int i = 0; i < 500; ++i) {
    skipped += rng.Below(3) == 0 ? rng.Below(5) : 0;  // mostly unchanged
    block.Add({.events = 1, .skipped = skipped});
    want.push_back(skipped);
    if (rng.Below(4) == 0) {  // raised after the execution (its Advance)
      skipped += 1 + rng.Below(3);
      block.SetLastSkipped(skipped);
      want.back() = skipped;
    }
  }
  std::vector<std::uint64_t> got;
  block.ForEach([&](const Counted& c) {
    got.push_back(c.skipped);
    return true;
  });
  CHECK(got == want);
  block.OffsetSkipped(1000);
  got.clear();
  block.ForEach([&](const Counted& c) {
    got.push_back(c.skipped - 1000);
    return true;
  });
  CHECK(got == want);
  // Executions added after the offset count in the holder's terms.
  block.Add({.events = 1, .skipped = 1000 + skipped + 4});
  std::uint64_t last = 0;
  block.ForEach([&](const Counted& c) {
    last = c.skipped;
    return true;
  });
  CHECK(last == 1000 + skipped + 4);
}

}  // namespace
}  // namespace strata::layers
