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
}

boost::context::stack_context StackPool::Take() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
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
  const std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(s);
}

void StackPool::Discard(boost::context::stack_context s) {
  Unpoison(s);
  boost::context::protected_fixedsize_stack(bytes_).deallocate(s);
}

}  // namespace strata::machine
