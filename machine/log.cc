#include "machine/log.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "machine/buffer_cache.h"
#include "machine/check.h"

namespace strata::machine {
namespace {

// One multiply-xorshift round per field keeps hashing far cheaper than the
// fiber switch that produced the event.
inline std::uint64_t Mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}


// Mappings of finished logs, kept for the next long log of the process: the
// kernel zeroes every page a mapping touches first, which would otherwise
// cost about as much as the run itself (128 MiB for two million events). The
// pool is bounded, so a process keeps at most kPoolBytes of idle log memory.
// Its contents never reach a log: slots are written before they are read.
class MappingPool {
 public:
  static constexpr std::size_t kPoolBytes = std::size_t{256} << 20;
  static constexpr std::size_t kPoolMappings = 4;  // two logs' events and locations

  // The largest pooled mapping of at least `bytes`, or {nullptr, 0}.
  std::pair<void*, std::size_t> Take(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t best = free_.size();
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].second >= bytes && (best == free_.size() || free_[i].second > free_[best].second)) {
        best = i;
      }
    }
    if (best == free_.size()) return {nullptr, 0};
    auto m = free_[best];
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
    held_ -= m.second;
    return m;
  }

  // Keeps the mapping if it fits in the pool, else unmaps it (or a smaller
  // pooled one, to make room for it).
  void Give(void* p, std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bytes <= kPoolBytes) {
        // Evict the smallest mappings while this one does not fit.
        while (!free_.empty() && (free_.size() >= kPoolMappings || held_ + bytes > kPoolBytes)) {
          auto smallest = std::min_element(
              free_.begin(), free_.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
          if (smallest->second >= bytes) break;
          munmap(smallest->first, smallest->second);
          held_ -= smallest->second;
          free_.erase(smallest);
        }
        if (free_.size() < kPoolMappings && held_ + bytes <= kPoolBytes) {
          free_.emplace_back(p, bytes);
          held_ += bytes;
          return;
        }
      }
    }
    munmap(p, bytes);
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<void*, std::size_t>> free_;
  std::size_t held_ = 0;
};

// Never destroyed: logs may be destroyed during static destruction.
MappingPool& Pool() {
  static auto* pool = new MappingPool;
  return *pool;
}

}  // namespace

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

template <class T>
MappedStore<T>::~MappedStore() {
  if (mapped_) {
    Pool().Give(data_, bytes_);
  } else {
    GiveBuffer(data_, bytes_);  // kept for the next short log of this thread
  }
}

template <class T>
void MappedStore<T>::Reserve(std::size_t n) {
  if (n <= capacity_) return;
  // Short logs (an explorer's many small runs) live on the heap, where freed
  // buffers are reused without page faults; long ones get a mapping that
  // grows with mremap (log.h says why without huge pages).
  constexpr std::size_t kFirst = (16 << 10) / 64 * sizeof(T);
  constexpr std::size_t kMapAt = (2 << 20) / 64 * sizeof(T);  // 2 MiB of events
  std::size_t bytes = bytes_ == 0 ? kFirst : 2 * bytes_;
  while (bytes < n * sizeof(T)) bytes *= 2;
  void* p;
  if (data_ == nullptr && bytes < kMapAt) {
    std::tie(p, bytes) = TakeBuffer(bytes);  // a buffer a log of this thread left, if one fits
  } else if (bytes < kMapAt) {
    p = std::realloc(data_, bytes);
    STRATA_CHECK(p != nullptr, "cannot grow the event log to {} bytes", bytes);
  } else if (!mapped_) {
    auto [pooled, pooled_bytes] = Pool().Take(bytes);
    if (pooled != nullptr) {
      p = pooled;
      bytes = pooled_bytes;
    } else {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      STRATA_CHECK(p != MAP_FAILED, "cannot grow the event log to {} bytes", bytes);
      // A hint (log.h says why); where THP is "always" it keeps them off too.
      madvise(p, bytes, MADV_NOHUGEPAGE);
    }
    if (size_ > 0) std::memcpy(p, data_, size_ * sizeof(T));
    std::free(data_);
    mapped_ = true;
  } else {
    p = mremap(data_, bytes_, bytes, MREMAP_MAYMOVE);
    STRATA_CHECK(p != MAP_FAILED, "cannot grow the event log to {} bytes", bytes);
  }
  data_ = static_cast<T*>(p);
  bytes_ = bytes;
  capacity_ = bytes / sizeof(T);
}

template class MappedStore<Event>;

namespace {

struct WhereTable {
  std::mutex mu;
  std::vector<std::source_location> sites{std::source_location{}};  // 0: none
  std::unordered_map<const void*, std::uint16_t> numbers;
};

// Never destroyed: a host thread still running at exit may look a site up.
WhereTable& Sites() {
  static WhereTable* const table = new WhereTable;
  return *table;
}

}  // namespace

std::uint16_t WhereNumberSlow(std::source_location where, SiteCache& cache, std::size_t slot) {
  WhereTable& t = Sites();
  const void* site = std::bit_cast<const void*>(where);
  std::uint16_t number = 0;
  {
    const std::lock_guard<std::mutex> lock(t.mu);
    if (const auto it = t.numbers.find(site); it != t.numbers.end()) {
      number = it->second;
    } else if (t.sites.size() <= UINT16_MAX) {
      number = static_cast<std::uint16_t>(t.sites.size());
      t.sites.push_back(where);
      t.numbers.emplace(site, number);
    }
  }
  if (cache.used < SiteCache::kCachedSites) {
    cache.site[slot] = site;
    cache.number[slot] = number;
    ++cache.used;
  }
  return number;
}

std::source_location WhereOf(std::uint16_t number) {
  WhereTable& t = Sites();
  const std::lock_guard<std::mutex> lock(t.mu);
  return number < t.sites.size() ? t.sites[number] : std::source_location{};
}

std::string FormatWhere(std::source_location where) {
  if (where.line() == 0) return "";
  return fmt::format("{}:{}", where.file_name(), where.line());
}

ObjectId Log::AddObject(std::string name) {
  names_.push_back(std::move(name));
  return ObjectId(static_cast<ObjectId::Rep>(names_.size() - 1));
}

std::uint64_t Log::hash() const {
  std::uint64_t h = Mix(Mix(lane_a_, lane_b_), events_.size());
  if (flags_ != 0) h = Mix(h, flags_);
  return h ^ (h >> 29);
}

std::vector<std::size_t> Log::View(ObjectId object) const {
  std::vector<std::size_t> view;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].object == object) view.push_back(i);
  }
  return view;
}

std::string Log::RenderTextWhere(std::size_t seq) const {
  std::string out = RenderText(events_[seq]);
  if (const std::string at = FormatWhere(where(seq)); !at.empty()) {
    out += "  @ ";
    out += at;
  }
  return out;
}

std::string Log::RenderText(const Event& e, std::span<const std::int64_t> contents) const {
  std::string out = fmt::format("t={} cpu={}", e.seq, e.cpu);
  if (e.thread.valid()) out += fmt::format(" thread={}", e.thread);
  // A named step also shows its machine operation: `INC_TICKET[faa]`.
  const bool named = e.op < OpCode::kAtomic && e.kind.name() != OpCodeName(e.op);
  out += fmt::format(" {}{}{}{} {}", e.marker() ? "| " : "", e.kind,
                     named ? fmt::format("[{}]", OpCodeName(e.op)) : std::string(), std::string(e.linearizes, '*'),
                     e.object.valid() ? object_name(e.object) : "-");
  if (e.op == OpCode::kPush && !contents.empty()) {
    out += fmt::format(" [{}]", fmt::join(contents, ", "));
    if (e.arg1 != 0) out += fmt::format(" (note {})", e.arg1);
  } else if (e.arg0 != 0 || e.arg1 != 0) {
    out += fmt::format(" ({}, {})", e.arg0, e.arg1);
  }
  out += fmt::format(" -> {}", e.result);
  return out;
}

std::string Log::RenderJson(const Event& e, std::span<const std::int64_t> contents) const {
  std::string out = fmt::format(
      R"({{"seq":{},"cpu":{},"thread":{},"object":"{}","oid":{},"op":"{}","kind":"{}","arg0":{},"arg1":{},"result":{})",
      e.seq, e.cpu.value(), e.thread.value(),
      JsonEscape(e.object.valid() ? object_name(e.object) : ""), e.object.value(), OpCodeName(e.op),
      JsonEscape(e.kind.name()), e.arg0, e.arg1, e.result);
  if (e.marker()) out += R"(,"marker":true)";
  if (e.linearizes != 0) out += fmt::format(R"(,"linearizes":{})", e.linearizes);
  if (e.op == OpCode::kPush && !contents.empty()) {
    out += fmt::format(R"(,"contents":[{}])", fmt::join(contents, ","));
  }
  out += '}';
  return out;
}

std::optional<OpCode> OpCodeNamed(std::string_view name) {
  for (int op = 0; op <= static_cast<int>(OpCode::kGhost); ++op) {
    if (OpCodeName(static_cast<OpCode>(op)) == name) return static_cast<OpCode>(op);
  }
  return std::nullopt;
}

std::string_view OpCodeName(OpCode op) {
  switch (op) {
    case OpCode::kFaa: return "faa";
    case OpCode::kCas: return "cas";
    case OpCode::kSwap: return "swap";
    case OpCode::kLoad: return "load";
    case OpCode::kStore: return "store";
    case OpCode::kPull: return "pull";
    case OpCode::kPush: return "push";
    case OpCode::kAtomic: return "atomic";
    case OpCode::kCall: return "call";
    case OpCode::kReturn: return "ret";
    case OpCode::kGhost: return "ghost";
  }
  return "?";
}

std::string FormatHash(std::uint64_t hash) { return fmt::format("{:016x}", hash); }

}  // namespace strata::machine
