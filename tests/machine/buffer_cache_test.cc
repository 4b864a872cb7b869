#include "machine/buffer_cache.h"

#include <cstdint>
#include <cstring>
#include <thread>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

namespace strata::machine {
namespace {

// Odd sizes, so that buffers other tests left in this thread's cache
// (logs and schedules of whole kilobytes) are not the smallest that fits.
constexpr std::size_t kSmall = 4 * 1024 + 8, kBig = 64 * 1024 + 8;

TEST_CASE("a buffer given back is the next one taken that it fits, the smallest that fits first") {
  auto [big, big_bytes] = TakeBuffer(kBig);
  auto [small, small_bytes] = TakeBuffer(kSmall);
  REQUIRE(big != nullptr);
  REQUIRE(small != nullptr);
  REQUIRE(big_bytes >= kBig);
  REQUIRE(small_bytes >= kSmall);
  std::memset(big, 1, big_bytes);  // all of it is usable
  GiveBuffer(big, kBig);
  GiveBuffer(small, kSmall);
  // Both fit: the smaller one comes back, with the size it was given with.
  auto [a, a_bytes] = TakeBuffer(kSmall - 7);
  CHECK(a == small);
  CHECK(a_bytes == kSmall);
  // Only the larger one fits.
  auto [b, b_bytes] = TakeBuffer(kBig - 7);
  CHECK(b == big);
  CHECK(b_bytes == kBig);
  // Neither is kept any more: what comes now is another buffer.
  auto [c, c_bytes] = TakeBuffer(kSmall - 7);
  CHECK(c != a);
  CHECK(c != b);
  CHECK(c_bytes >= kSmall - 7);
  GiveBuffer(a, a_bytes);
  GiveBuffer(b, b_bytes);
  GiveBuffer(c, c_bytes);
  GiveBuffer(nullptr, 4096);  // allowed, and nothing is kept
}

TEST_CASE("buffers are kept per host thread: another thread does not take this one's") {
  auto [p, bytes] = TakeBuffer(kSmall);
  GiveBuffer(p, kSmall);
  void* other = nullptr;
  std::size_t other_bytes = 0;
  std::thread t([&] {
    std::tie(other, other_bytes) = TakeBuffer(kSmall);
    GiveBuffer(other, other_bytes);  // freed when the thread ends
  });
  t.join();
  CHECK(other != p);
  auto [q, q_bytes] = TakeBuffer(kSmall);
  CHECK(q == p);
  GiveBuffer(q, q_bytes);
}

TEST_CASE("a vector with the buffer allocator reuses a block its predecessor gave back") {
  using Vec = std::vector<std::int64_t, BufferAllocator<std::int64_t>>;
  const std::int64_t* first = nullptr;
  {
    Vec v;
    v.reserve(1001);  // 8008 bytes: from the cache
    for (std::int64_t i = 0; i < 1000; ++i) v.push_back(i);
    first = v.data();
  }
  Vec w;
  w.reserve(1000);
  CHECK(w.data() == first);
  for (std::int64_t i = 0; i < 900; ++i) w.push_back(2 * i);
  CHECK(w[899] == 1798);
  // Small blocks go to operator new, not the cache.
  Vec tiny(4, 7);
  CHECK(tiny.data() != first);
  CHECK(tiny[3] == 7);
}

}  // namespace
}  // namespace strata::machine
