#include "layers/crew.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace strata::layers {

Crew::Crew(int threads, std::function<void(std::uint64_t, int)> run, std::function<std::shared_ptr<void>()> helper)
    : run_(std::move(run)), helper_(std::move(helper)) {
  for (int t = 1; t < threads; ++t) helpers_.emplace_back([this, t] { Help(t); });
}

Crew::~Crew() { Join(); }

void Crew::Join() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : helpers_) t.join();
  helpers_.clear();
}

void Crew::Add(std::uint64_t id) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    if (state_.size() <= id) state_.resize(id + 1, State::kDone);
    state_[id] = State::kQueued;
    queue_.push_back(id);
    queued_.fetch_add(1, std::memory_order_relaxed);
  }
  changed_.notify_all();
}

void Crew::AddElsewhere(std::uint64_t id) {
  const std::lock_guard<std::mutex> lock(mu_);
  if (state_.size() <= id) state_.resize(id + 1, State::kDone);
  state_[id] = State::kRunning;
}

void Crew::Finish(std::uint64_t id) {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    if (state_.size() <= id) state_.resize(id + 1, State::kDone);
    state_[id] = State::kDone;
  }
  changed_.notify_all();
}

void Crew::RunLocked(std::unique_lock<std::mutex>& lock, std::uint64_t id, int thread) {
  state_[id] = State::kRunning;
  queued_.fetch_sub(1, std::memory_order_relaxed);
  lock.unlock();
  run_(id, thread);
  lock.lock();
  state_[id] = State::kDone;
  changed_.notify_all();
}

void Crew::Await(std::uint64_t id, int thread) {
  std::unique_lock<std::mutex> lock(mu_);
  while (state_[id] != State::kDone) {
    if (state_[id] == State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), id));
      RunLocked(lock, id, thread);
    } else if (!queue_.empty()) {
      const std::uint64_t other = queue_.front();
      queue_.pop_front();
      RunLocked(lock, other, thread);
    } else {
      idle_.fetch_add(1, std::memory_order_relaxed);
      changed_.wait(lock);
      idle_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

void Crew::Help(int thread) {
  const std::shared_ptr<void> mine = helper_ ? helper_() : nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stopping_) return;
    if (!queue_.empty()) {
      const std::uint64_t id = queue_.front();
      queue_.pop_front();
      RunLocked(lock, id, thread);
      continue;
    }
    idle_.fetch_add(1, std::memory_order_relaxed);
    changed_.wait(lock);
    idle_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace strata::layers
