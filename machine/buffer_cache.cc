#include "machine/buffer_cache.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "machine/check.h"

namespace strata::machine {
namespace {

// At most kSlots buffers, the largest kept.
class BufferCache {
 public:
  // A checker's execution holds at most two logs of two stores each, a
  // schedule and a mapped log at once.
  static constexpr std::size_t kSlots = 16;
  ~BufferCache();
  std::pair<void*, std::size_t> Take(std::size_t bytes) {
    std::size_t best = free_.size();
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].second >= bytes && (best == free_.size() || free_[i].second < free_[best].second)) best = i;
    }
    if (best == free_.size()) return {nullptr, 0};
    const auto m = free_[best];
    free_[best] = free_.back();
    free_.pop_back();
    return m;
  }
  void Give(void* p, std::size_t bytes) {
    if (free_.size() < kSlots) {
      if (free_.capacity() == 0) free_.reserve(kSlots);
      free_.emplace_back(p, bytes);
      return;
    }
    auto smallest = std::min_element(free_.begin(), free_.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
    if (smallest->second >= bytes) {
      std::free(p);
      return;
    }
    std::free(smallest->first);
    *smallest = {p, bytes};
  }

 private:
  std::vector<std::pair<void*, std::size_t>> free_;
};

// Trivially destructible, so it may be read after the cache is gone (a
// buffer freed during the thread's or the program's exit).
thread_local bool t_cache_gone = false;
thread_local BufferCache t_cache;

BufferCache::~BufferCache() {
  for (const auto& [p, bytes] : free_) std::free(p);
  free_.clear();
  t_cache_gone = true;
}

}  // namespace

std::pair<void*, std::size_t> TakeBuffer(std::size_t bytes) {
  if (!t_cache_gone) {
    if (auto kept = t_cache.Take(bytes); kept.first != nullptr) return kept;
  }
  void* p = std::malloc(bytes);
  STRATA_CHECK(p != nullptr, "out of memory: a buffer of {} bytes", bytes);
  return {p, bytes};
}

void GiveBuffer(void* p, std::size_t bytes) {
  if (p == nullptr) return;
  if (t_cache_gone) {
    std::free(p);
    return;
  }
  t_cache.Give(p, bytes);
}

}  // namespace strata::machine
