// Guard-paged fiber stacks, kept for reuse. Mapping a stack and protecting
// its guard page costs several system calls; an explorer that runs a machine
// hundreds of thousands of times hands the same pool to each run so that a
// run takes its stacks from the pool and gives them back. One pool may serve
// machines on several host threads (the explorer's ExploreOptions::jobs):
// its methods are thread-safe. It must outlive every machine that took a
// stack from it.
#ifndef STRATA_MACHINE_STACK_POOL_H_
#define STRATA_MACHINE_STACK_POOL_H_

#include <cstddef>
#include <mutex>
#include <vector>

#include <boost/context/stack_context.hpp>

namespace strata::machine {

class StackPool {
 public:
  // Stacks of `bytes` usable bytes each, plus one guard page.
  explicit StackPool(std::size_t bytes) : bytes_(bytes) {}
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
  std::size_t bytes_;
  std::mutex mu_;
  std::vector<boost::context::stack_context> free_;  // guarded by mu_
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
