// Debian builds libboost_context with the assembly (fcontext) backend only, so
// the one out-of-line piece of the ucontext backend, the per-thread "current
// fiber" record, is missing from it. Sanitizer builds use the ucontext backend
// (ASan must see every stack switch), so we provide it here, as Boost's own
// src/fiber.cpp does.
#if defined(BOOST_USE_UCONTEXT)
#include <boost/context/fiber.hpp>

namespace boost::context::detail {
namespace {
thread_local fiber_activation_record* current_record = nullptr;
thread_local std::size_t initializer_count = 0;
}  // namespace

fiber_activation_record_initializer::fiber_activation_record_initializer() noexcept {
  if (initializer_count++ == 0) current_record = new fiber_activation_record();
}

fiber_activation_record_initializer::~fiber_activation_record_initializer() {
  if (--initializer_count == 0) delete current_record;
}

fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local static fiber_activation_record_initializer initializer;
  return current_record;
}
}  // namespace boost::context::detail
#endif
