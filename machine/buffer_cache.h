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
// just above it).
inline constexpr std::size_t kCachedBufferBytes = 1024;

// A malloc'ed buffer of at least `bytes` bytes and its real size: the
// smallest kept one that fits, else a new one. Never null (out of memory
// is a STRATA_CHECK). The buffer may be grown with realloc.
std::pair<void*, std::size_t> TakeBuffer(std::size_t bytes);

// Keeps `p`, a malloc'ed buffer of at least `bytes` bytes, for this
// thread's next TakeBuffer, or frees it (the cache keeps a few of the
// largest). p may be null.
void GiveBuffer(void* p, std::size_t bytes);

// A std::allocator that takes its large blocks (kCachedBufferBytes and
// more) from the cache, for vectors rebuilt on every execution.
template <class T>
struct BufferAllocator {
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
