#include "machine/stack_pool.h"

#include <cstdint>

#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/context/stack_traits.hpp>

#if defined(STRATA_SANITIZED)
#include <sanitizer/asan_interface.h>
#endif

namespace strata::machine {
namespace {

// ASan keeps the redzones of frames that never returned; memory mapped at the
// same address later would inherit them.
void Unpoison(const boost::context::stack_context& s) {
#if defined(STRATA_SANITIZED)
  __asan_unpoison_memory_region(static_cast<char*>(s.sp) - s.size, s.size);
#else
  (void)s;
#endif
}

// Fibers switch at about the same depth of their stacks, so stacks whose
// tops are all page-aligned put their hot words at the same page offset: in
// the same few sets of the L1 cache, whose ways a thousand threads then
// evict from each other at every switch. Each new stack's top is lowered by
// one more step, over one page (strata bench, 1000 yielding threads: 6.2 ->
// 11.7 M context switches/s). A step is 256 bytes: Boost.Context aligns a
// fiber's record, and so its frames, down to 256 bytes below the top.
constexpr std::size_t kStep = 256;

std::size_t Page() { return boost::context::stack_traits::page_size(); }

boost::context::stack_context Colored(boost::context::stack_context s, std::size_t n) {
  const std::size_t lowered = n % (Page() / kStep) * kStep;
  s.sp = static_cast<char*>(s.sp) - lowered;
  s.size -= lowered;
  return s;
}

// The stack as it was mapped: its top is the next page boundary.
boost::context::stack_context Uncolored(boost::context::stack_context s) {
  const auto sp = reinterpret_cast<std::uintptr_t>(s.sp);
  const std::uintptr_t top = (sp + Page() - 1) & ~(Page() - 1);
  s.size += top - sp;
  s.sp = reinterpret_cast<void*>(top);
  return s;
}

}  // namespace

StackPool::~StackPool() {
  for (auto& s : free_) Free(s);
  for (auto& s : returned_) Free(s);
}

bool StackPool::Mine() {
  const std::thread::id me = std::this_thread::get_id();
  std::thread::id owner = owner_.load(std::memory_order_relaxed);
  if (owner == me) return true;
  if (owner == std::thread::id() && owner_.compare_exchange_strong(owner, me)) return true;
  return false;
}

boost::context::stack_context StackPool::Take() {
  if (!Mine()) {
    const std::lock_guard<std::mutex> lock(mu_);
    if (!returned_.empty()) {
      boost::context::stack_context s = returned_.back();
      returned_.pop_back();
      return s;
    }
  } else {
    if (free_.empty() && any_returned_.load(std::memory_order_acquire)) {
      const std::lock_guard<std::mutex> lock(mu_);
      free_.swap(returned_);
      any_returned_.store(false, std::memory_order_relaxed);
    }
    if (!free_.empty()) {
      boost::context::stack_context s = free_.back();
      free_.pop_back();
      return s;
    }
  }
  return Colored(boost::context::protected_fixedsize_stack(bytes_ + Page()).allocate(),
                 made_.fetch_add(1, std::memory_order_relaxed));
}

void StackPool::Free(boost::context::stack_context s) {
  boost::context::stack_context mapped = Uncolored(s);
  boost::context::protected_fixedsize_stack(bytes_ + Page()).deallocate(mapped);
}

void StackPool::Give(boost::context::stack_context s) {
  Unpoison(s);
  if (owner_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    free_.push_back(s);
    return;
  }
  const std::lock_guard<std::mutex> lock(mu_);
  returned_.push_back(s);
  any_returned_.store(true, std::memory_order_release);
}

void StackPool::Discard(boost::context::stack_context s) {
  Unpoison(s);
  Free(s);
}

}  // namespace strata::machine
