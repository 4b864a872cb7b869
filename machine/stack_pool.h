// Guard-paged fiber stacks, kept for reuse. Mapping a stack and protecting
// its guard page costs several system calls; an explorer that runs a machine
// hundreds of thousands of times hands the same pool to each run so that a
// run takes its stacks from the pool and gives them back. Its methods are
// thread-safe, and fast on one thread: the pool belongs to the first thread
// that takes a stack from it, which takes and gives without a lock; a stack
// given back on another thread (a machine kept and destroyed there, as the
// explorer's --jobs threads do) goes to a locked list the owner drains when
// it runs out. It must outlive every machine that took a stack from it.
#ifndef STRATA_MACHINE_STACK_POOL_H_
#define STRATA_MACHINE_STACK_POOL_H_

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/context/stack_context.hpp>

namespace strata::machine {

class StackPool {
 public:
  // Stacks of at least `bytes` usable bytes each. Each maps kPagesBesides
  // pages more: its guard page, and a page over which the tops of
  // successive stacks are staggered (by 256 bytes each), so that fibers
  // switching at the same depth do not contend for the same cache sets.
  explicit StackPool(std::size_t bytes) : bytes_(bytes) {}
  static constexpr int kPagesBesides = 2;
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  std::size_t stack_bytes() const { return bytes_; }

  // A stack from the pool, or a new one.
  boost::context::stack_context Take();
  // Returns a stack whose fiber has ended (normally or unwound) for reuse.
  void Give(boost::context::stack_context s);
  // Frees a stack whose fiber was abandoned (it overflowed and can neither be
  // resumed nor unwound); under ASan its stale stack poison is cleared first.
  void Discard(boost::context::stack_context s);

 private:
  // The calling thread owns the pool (made so by its first Take).
  bool Mine();
  // Unmaps a stack that Take mapped.
  void Free(boost::context::stack_context s);

  std::size_t bytes_;
  std::atomic<std::thread::id> owner_{};
  std::vector<boost::context::stack_context> free_;  // the owner's
  std::mutex mu_;
  std::vector<boost::context::stack_context> returned_;  // by other threads; guarded by mu_
  std::atomic<bool> any_returned_{false};
  std::atomic<std::size_t> made_{0};  // stacks mapped so far: the next one's stagger
};

// A Boost.Context stack allocator over a pool that remembers the stack it
// handed out in *where (sp null once given back), so that the guard page of
// a running fiber can be watched and the stack of an abandoned one freed.
class PooledStack {
 public:
  PooledStack(StackPool* pool, boost::context::stack_context* where)
      : pool_(pool), where_(where) {}
  boost::context::stack_context allocate() {
    *where_ = pool_->Take();
    return *where_;
  }
  void deallocate(boost::context::stack_context& s) noexcept {
    pool_->Give(s);
    where_->sp = nullptr;
  }

 private:
  StackPool* pool_;
  boost::context::stack_context* where_;
};

}  // namespace strata::machine

#endif  // STRATA_MACHINE_STACK_POOL_H_
