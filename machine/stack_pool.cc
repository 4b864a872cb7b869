#include "machine/stack_pool.h"

#include <boost/context/protected_fixedsize_stack.hpp>

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

}  // namespace

StackPool::~StackPool() {
  for (auto& s : free_) boost::context::protected_fixedsize_stack(bytes_).deallocate(s);
  for (auto& s : returned_) boost::context::protected_fixedsize_stack(bytes_).deallocate(s);
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
  return boost::context::protected_fixedsize_stack(bytes_).allocate();
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
  boost::context::protected_fixedsize_stack(bytes_).deallocate(s);
}

}  // namespace strata::machine
