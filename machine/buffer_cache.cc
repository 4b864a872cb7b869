#include "machine/buffer_cache.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "machine/check.h"

#if defined(STRATA_SANITIZED)
#include <sanitizer/asan_interface.h>
#endif

namespace strata::machine {
namespace {

// A kept buffer is poisoned in a sanitizer build: a use after it was given
// back is reported.
#if defined(STRATA_SANITIZED)
void Poison(void* p, std::size_t bytes) { __asan_poison_memory_region(p, bytes); }
void Unpoison(void* p, std::size_t bytes) { __asan_unpoison_memory_region(p, bytes); }
#else
void Poison(void*, std::size_t) {}
void Unpoison(void*, std::size_t) {}
#endif

// At most kSlots buffers, the largest kept.
class BufferCache {
 public:
  // A checker's execution holds at most two logs of two stores each, two
  // schedules and a mapped log at once.
  static constexpr std::size_t kSlots = 16;
  ~BufferCache();
  // The smallest kept buffer that fits, unless it is over 4 times as
  // large: a vector that does not know a buffer's real size would give
  // it back as the size it asked for, and the rest would be lost.
  std::pair<void*, std::size_t> Take(std::size_t bytes) {
    std::size_t best = free_.size();
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].second >= bytes && (best == free_.size() || free_[i].second < free_[best].second)) best = i;
    }
    if (best == free_.size() || free_[best].second / 4 > bytes) return {nullptr, 0};
    const auto m = free_[best];
    free_[best] = free_.back();
    free_.pop_back();
    return m;
  }
  void Give(void* p, std::size_t bytes) {
    if (bytes >= kMaxKeptBufferBytes) {
      std::free(p);
      return;
    }
    if (free_.size() < kSlots) {
      if (free_.capacity() == 0) free_.reserve(kSlots);
      Poison(p, bytes);
      free_.emplace_back(p, bytes);
      return;
    }
    auto smallest = std::min_element(free_.begin(), free_.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
    if (smallest->second >= bytes) {
      std::free(p);
      return;
    }
    Free(*smallest);
    Poison(p, bytes);
    *smallest = {p, bytes};
  }
  KeptBuffers Kept() const {
    KeptBuffers k{.count = free_.size()};
    for (const auto& [p, bytes] : free_) k.bytes += bytes;
    return k;
  }
  static void Free(const std::pair<void*, std::size_t>& kept) {
    Unpoison(kept.first, kept.second);
    std::free(kept.first);
  }

 private:
  std::vector<std::pair<void*, std::size_t>> free_;
};

// Trivially destructible, so it may be read after the cache is gone (a
// buffer freed during the thread's or the program's exit).
thread_local bool t_cache_gone = false;
thread_local BufferCache t_cache;

BufferCache::~BufferCache() {
  for (const auto& kept : free_) Free(kept);
  free_.clear();
  t_cache_gone = true;
}

}  // namespace

std::pair<void*, std::size_t> TakeBuffer(std::size_t bytes) {
  if (!t_cache_gone) {
    if (auto kept = t_cache.Take(bytes); kept.first != nullptr) {
      Unpoison(kept.first, kept.second);
      return kept;
    }
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

KeptBuffers KeptByThisThread() { return t_cache_gone ? KeptBuffers{} : t_cache.Kept(); }

}  // namespace strata::machine
