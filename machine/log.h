// The shared log: the global, append-only list of events, plus the names of
// the shared objects its events refer to. It keeps a running 64-bit hash of
// its contents, so "same config and seed, same log" is one comparison, and
// renders events as JSON lines (for tools) or text (`t=42 cpu=1 faa counter -> 7`).
#ifndef STRATA_MACHINE_LOG_H_
#define STRATA_MACHINE_LOG_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "machine/event.h"

namespace strata::machine {

class Log {
 public:
  // Registers a shared object and returns its id (ids are dense, from 0).
  ObjectId AddObject(std::string name);
  std::string_view object_name(ObjectId id) const { return names_[id.index()]; }
  std::size_t object_count() const { return names_.size(); }

  // Appends `e`, setting e.seq to the next position. Returns the stored event.
  const Event& Append(Event e);

  std::size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  const Event& operator[](std::size_t i) const { return events_[i]; }
  std::span<const Event> events() const { return events_; }
  const Event& back() const { return events_.back(); }

  // The hash of the whole log so far; equal logs have equal hashes.
  std::uint64_t hash() const { return hash_; }

  // The positions of the events on `object`, in log order (a per-object view).
  std::vector<std::size_t> View(ObjectId object) const;

  std::string RenderText(const Event& e) const;
  std::string RenderJson(const Event& e) const;

 private:
  std::vector<Event> events_;
  std::vector<std::string> names_;
  std::uint64_t hash_ = 0x9e3779b97f4a7c15ull;
};

// The log hash as printed everywhere: 16 hex digits.
std::string FormatHash(std::uint64_t hash);

}  // namespace strata::machine

#endif  // STRATA_MACHINE_LOG_H_
