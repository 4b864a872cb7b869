// The shared log: the global, append-only list of events, plus the names of
// the shared objects its events refer to. It keeps a running 64-bit hash of
// its contents, so "same config and seed, same log" is one comparison, and
// renders events as JSON lines (for tools) or text (`t=42 cpu=1 faa counter -> 7`).
#ifndef STRATA_MACHINE_LOG_H_
#define STRATA_MACHINE_LOG_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "machine/event.h"

namespace strata::machine {

// Contiguous storage for a log's events. Small
// logs live on the heap; from 32768 slots on (2 MiB of events), an anonymous
// mapping grown with mremap (the kernel moves page tables, not bytes). It
// asks for no transparent huge pages: with them (MADV_HUGEPAGE, and the
// kernel's defrag "madvise", Debian's default) a first run of 24 million
// events spent 4.7-11 s in the kernel, and under 1 s without. The
// mappings of destroyed logs are kept in a small process-wide pool (at most
// four, 256 MiB in all) and reused by the next long log, which then does not
// pay for the kernel zeroing its pages again; this is what a process that
// runs many machines sees. T is Event
// (log.cc instantiates it).
template <class T>
class MappedStore {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  MappedStore() = default;
  ~MappedStore();
  MappedStore(const MappedStore&) = delete;
  MappedStore& operator=(const MappedStore&) = delete;

  // A new slot at the end, to be filled in place; the caller checks the
  // capacity. Precondition: size() < capacity().
  T& emplace_back_unchecked() { return data_[size_++]; }
  // Grows the capacity to at least n slots (at least doubling it); the
  // slots below size() keep their values.
  void Reserve(std::size_t n);
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  const T* data() const { return data_; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& back() const { return data_[size_ - 1]; }
  T& back() { return data_[size_ - 1]; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t bytes_ = 0;
  bool mapped_ = false;  // data_ is an mmap'ed region (else malloc'ed)
};
using EventStore = MappedStore<Event>;

// The process's table of source locations. Each call site that makes an
// event gets a number (from 1; 0 is none) the first time it does, and the
// event keeps the number (Event::where) where it had padding: a second
// array of 8-byte locations beside the events cost a tenth of a long run's
// time in memory traffic (strata bench, context switches). At most 65535
// sites; more get 0 (their events show no location).
//
// Thread-safe, and lock-free once warm: each host thread keeps the numbers
// of the sites it has used in a table of its own (open addressing, never
// evicting), so the process's table and its lock are reached once per site
// and thread. A thread that uses more than kCachedSites sites looks the rest
// up under the lock each time.
struct SiteCache {
  static constexpr std::size_t kSlots = 1024;  // a power of two
  static constexpr std::size_t kCachedSites = kSlots * 3 / 4;
  const void* site[kSlots];
  std::uint16_t number[kSlots];
  std::size_t used;
  static std::size_t SlotOf(const void* site) {
    // Fibonacci hashing of the address: its high bits are well mixed.
    return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(site) *
                                     0x9e3779b97f4a7c15ull) >> 54);
  }
};
static_assert(SiteCache::kSlots == std::size_t{1} << (64 - 54));
// The number of `where` from the process's table, remembered in `cache`
// at its free slot `slot` while the cache has room.
std::uint16_t WhereNumberSlow(std::source_location where, SiteCache& cache, std::size_t slot);
inline std::uint16_t WhereNumber(std::source_location where) {
  static_assert(sizeof(std::source_location) == sizeof(const void*), "a location is one pointer");
  // The location's own static data, one per call site, is the key.
  const void* site = std::bit_cast<const void*>(where);
  if (site == nullptr) return 0;
  // Zero-initialized and trivially destructible: no guard on the way in.
  static thread_local SiteCache cache;
  for (std::size_t i = SiteCache::SlotOf(site);; i = (i + 1) & (SiteCache::kSlots - 1)) {
    if (cache.site[i] == site) [[likely]] return cache.number[i];
    if (cache.site[i] == nullptr) return WhereNumberSlow(where, cache, i);
  }
}
// The location numbered `number` (WhereNumber); none for 0.
std::source_location WhereOf(std::uint16_t number);

class Log {
 public:
  // Room for a few objects' names from the start: a checker makes two logs
  // per execution, and growing the list one name at a time would allocate
  // for the first, second, third and fifth.
  Log() { names_.reserve(kFewObjects); }
  static constexpr std::size_t kFewObjects = 8;

  // Registers a shared object and returns its id (ids are dense, from 0).
  ObjectId AddObject(std::string name);
  std::string_view object_name(ObjectId id) const { return names_[id.index()]; }
  std::size_t object_count() const { return names_.size(); }

  // Appends `e`, setting e.seq to the next position, with the source
  // location of the code that made it (where(); none for an event copied
  // from another log). Returns the stored event.
  const Event& Append(const Event& e, std::source_location where = {}) {
    const Event& stored =
        Append(e.cpu, e.thread, e.object, e.kind, e.arg0, e.arg1, e.result, e.op, where);
    for (std::uint8_t k = 0; k < e.linearizes; ++k) FlagLinearization(stored.seq);
    return stored;
  }
  const Event& Append(CpuId cpu, ThreadId thread, ObjectId object, EventKind kind,
                      std::int64_t arg0, std::int64_t arg1, std::int64_t result,
                      OpCode op = OpCode::kAtomic, std::source_location where = {}) {
    if (events_.size() == events_.capacity()) [[unlikely]] events_.Reserve(events_.size() + 1);
    Event& e = events_.emplace_back_unchecked();
    e.seq = events_.size() - 1;
    e.cpu = cpu;
    e.thread = thread;
    e.object = object;
    e.op = op;
    e.linearizes = 0;
    e.where = WhereNumber(where);
    e.kind = kind;
    e.arg0 = arg0;
    e.arg1 = arg1;
    e.result = result;
    // Two independent multiply lanes keep the dependency chain short.
    lane_a_ = (lane_a_ ^ (static_cast<std::uint64_t>(cpu.value()) << 32 |
                          static_cast<std::uint32_t>(thread.value()))) * kMulA;
    lane_b_ = (lane_b_ ^ (static_cast<std::uint64_t>(object.value()) + kind.hash() +
                          static_cast<std::uint64_t>(op))) * kMulB;
    lane_a_ = (lane_a_ ^ static_cast<std::uint64_t>(arg0)) * kMulA;
    lane_b_ = (lane_b_ ^ static_cast<std::uint64_t>(arg1)) * kMulB;
    lane_a_ = (lane_a_ ^ static_cast<std::uint64_t>(result) ^ (lane_a_ >> 29)) * kMulA;
    lane_b_ ^= lane_b_ >> 31;
    return e;
  }

  // Makes event `seq` the linearization point of one more enclosing call
  // (Cpu::Linearize, Cpu::AdoptLinearization); the hash covers the mark as
  // part of the event, whenever it is set (an adopted mark comes later), so
  // that equal logs have equal hashes however they were built.
  // Precondition: seq < size(), and the event is flagged fewer than 255 times.
  void FlagLinearization(std::uint64_t seq) {
    const std::uint64_t k = ++events_[seq].linearizes;
    std::uint64_t z = (seq << 8 | k) * kMulA;
    flags_ += (z ^ (z >> 31)) * kMulB;
  }
  void FlagLinearization() { FlagLinearization(events_.size() - 1); }

  std::size_t size() const { return events_.size(); }
  bool empty() const { return events_.size() == 0; }
  const Event& operator[](std::size_t i) const { return events_[i]; }
  std::span<const Event> events() const { return {events_.data(), events_.size()}; }
  const Event& back() const { return events_.back(); }
  // The source location of the code that appended event `seq`: a module's
  // step, its own line; a primitive's markers and a spec's step, the line
  // that called the primitive (layers::MarkCall, Cpu::call_site).
  // Precondition: seq < size().
  std::source_location where(std::size_t seq) const { return WhereOf(events_[seq].where); }

  // The hash of the whole log so far; equal logs have equal hashes.
  std::uint64_t hash() const;

  // The positions of the events on `object`, in log order (a per-object view).
  std::vector<std::size_t> View(ObjectId object) const;

  // `t=3 cpu=1 faa counter (1, 0) -> 7`. A push whose block contents are
  // given (Machine::pushed) shows them in place of the contents' hash:
  // `push q.data [1, 1000, 0] -> 2` (and its note, if any, as `(note 5)`).
  std::string RenderText(const Event& e, std::span<const std::int64_t> contents = {}) const;
  // Event `seq` as RenderText shows it, then where it was made
  // ("  @ kernel/ticket_lock.cc:97", nothing for an event without a
  // location). Precondition: seq < size().
  std::string RenderTextWhere(std::size_t seq) const;
  // One line of JSON with every field of `e` (the object by name and by id,
  // "oid", -1 for none), and for a push whose block contents were kept
  // (Machine::pushed) those contents: enough to replay the event
  // (boot/log_file.h reads it back).
  std::string RenderJson(const Event& e, std::span<const std::int64_t> contents = {}) const;

 private:
  EventStore events_;
  std::vector<std::string> names_;
  static constexpr std::uint64_t kMulA = 0x9e3779b97f4a7c15ull;
  static constexpr std::uint64_t kMulB = 0xff51afd7ed558ccdull;
  std::uint64_t lane_a_ = 0x243f6a8885a308d3ull;
  std::uint64_t lane_b_ = 0x13198a2e03707344ull;
  std::uint64_t flags_ = 0;  // the sum over the marks: independent of their order
};

// "kernel/ticket.cc:42": a source location as strata prints it (the file as
// the compiler was given it; strata's own build names its files from the
// source root), "" for none.
std::string FormatWhere(std::source_location where);

// `s` with the characters JSON strings cannot hold as they are escaped (quote,
// backslash, control characters); the result goes between quotes.
std::string JsonEscape(std::string_view s);

// The log hash as printed everywhere: 16 hex digits.
std::string FormatHash(std::uint64_t hash);

}  // namespace strata::machine

#endif  // STRATA_MACHINE_LOG_H_
