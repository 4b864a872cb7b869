// Heap buffers of 1 KiB and more, kept per host thread for reuse. glibc
// serves requests of these sizes from its bins, not from its lock-free
// per-thread cache, and every such request first consolidates its fast bins:
// a checker that allocates a log, a schedule and a mapped log per execution
// paid that on every execution, and more so on several host threads, where
// the bins take a lock. A buffer given back here is handed to the next
// request of this thread that fits it. Per thread, as glibc's own cache is
// (an allocator's detail, not a "current" object): no lock; a buffer freed on
// another thread than it was taken on simply moves to that thread.
#ifndef STRATA_MACHINE_BUFFER_CACHE_H_
#define STRATA_MACHINE_BUFFER_CACHE_H_

#include <cstddef>
#include <new>
#include <utility>

namespace strata::machine {

// Requests from this size on go through the cache (glibc's own cache ends
// just above it); buffers from kMaxKeptBufferBytes on are freed, not kept,
// so that one long run leaves no large buffer resident (a log that long
// lives in a mapping of its own, machine/log.h).
inline constexpr std::size_t kCachedBufferBytes = 1024;
inline constexpr std::size_t kMaxKeptBufferBytes = std::size_t{2} << 20;

// A malloc'ed buffer of at least `bytes` bytes and its real size: the
// smallest kept one that fits (if it is at most 4 times as large), else a
// new one. Never null (out of memory is a STRATA_CHECK). The buffer may be
// grown with realloc.
std::pair<void*, std::size_t> TakeBuffer(std::size_t bytes);

// Keeps `p`, a malloc'ed buffer of at least `bytes` bytes, for this
// thread's next TakeBuffer, or frees it (the cache keeps the 16 largest
// below kMaxKeptBufferBytes; in a sanitizer build a kept buffer is
// poisoned until it is taken again). p may be null.
void GiveBuffer(void* p, std::size_t bytes);

// What this thread's cache holds: how many buffers, and their bytes.
struct KeptBuffers {
  std::size_t count = 0, bytes = 0;
};
KeptBuffers KeptByThisThread();

// A std::allocator that takes its large blocks (kCachedBufferBytes and
// more) from the cache, for vectors rebuilt on every execution. (A kept
// buffer larger than asked for is given back as the size asked for.)
template <class T>
struct BufferAllocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "malloc's alignment must do for T");
  using value_type = T;
  BufferAllocator() = default;
  template <class U>
  BufferAllocator(const BufferAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kCachedBufferBytes) return static_cast<T*>(::operator new(bytes));
    return static_cast<T*>(TakeBuffer(bytes).first);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kCachedBufferBytes) {
      ::operator delete(p);
    } else {
      GiveBuffer(p, bytes);
    }
  }
  template <class U>
  bool operator==(const BufferAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_BUFFER_CACHE_H_
