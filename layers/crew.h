// The host threads of a parallel exploration (ExploreOptions::jobs): the
// caller's (thread 0) and `threads - 1` helpers (1, 2, ...), which run
// queued parts (layers/strategy.h, Strategy::Split) by their numbers; each
// run is told its thread's number, so that it can use what that thread
// has of its own (a stack pool nobody else takes from). A thread that waits for a
// part runs queued ones meanwhile, the awaited one first if nobody has
// started it, so no thread idles while there is work, and a part waited
// for is never left queued behind others. Hungry tells the threads that
// make executions when one is idle, so that they split off more work.
#ifndef STRATA_LAYERS_CREW_H_
#define STRATA_LAYERS_CREW_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::layers {

class Crew {
 public:
  // `run(id, thread)` runs part `id` to its end on the calling thread,
  // whose number is `thread`; `helper()`
  // is called once on each helper thread before it runs parts, and the
  // object it returns is destroyed when the thread ends (what a thread
  // needs of its own, such as a stack-overflow handler scope).
  // Precondition: threads >= 1.
  Crew(int threads, std::function<void(std::uint64_t, int)> run,
       std::function<std::shared_ptr<void>()> helper);
  // Join.
  ~Crew();
  Crew(const Crew&) = delete;
  Crew& operator=(const Crew&) = delete;

  // Queues part `id` (numbered by the caller; each once).
  void Add(std::uint64_t id);
  // True if a thread is idle and no part is queued for it.
  bool Hungry() const {
    return idle_.load(std::memory_order_relaxed) > 0 && queued_.load(std::memory_order_relaxed) == 0;
  }
  // Part `id` (numbered by the caller; each once) runs elsewhere (another
  // process of a sharded exploration): Await waits for Finish(id).
  void AddElsewhere(std::uint64_t id);
  void Finish(std::uint64_t id);
  // Returns once part `id` has run, running queued parts meanwhile on the
  // calling thread, whose number is `thread`.
  void Await(std::uint64_t id, int thread);
  // Waits for the helpers to finish the part each runs, and ends them;
  // queued parts are not run. Parts should be told to stop first. The
  // crew stays valid (the parts still running may call it) until then.
  void Join();

 private:
  enum class State { kQueued, kRunning, kDone };
  // Runs `id` (taken off the queue) with the lock released.
  void RunLocked(std::unique_lock<std::mutex>& lock, std::uint64_t id, int thread);
  void Help(int thread);

  std::function<void(std::uint64_t, int)> run_;
  std::function<std::shared_ptr<void>()> helper_;
  std::mutex mu_;
  std::condition_variable changed_;  // a part was queued or ended, or stop
  std::deque<std::uint64_t> queue_;  // guarded by mu_
  std::vector<State> state_;         // guarded by mu_, by part number
  bool stopping_ = false;            // guarded by mu_
  // Read by Hungry before every execution: a line of their own.
  alignas(64) std::atomic<int> idle_{0};
  std::atomic<int> queued_{0};
  std::vector<std::thread> helpers_;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_CREW_H_
