#include "machine/buffer_cache.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

namespace strata::machine {
namespace {

// Each case runs on a thread of its own, whose cache starts empty (the
// test thread's holds what earlier tests' machines gave back).
template <class F>
void OnFreshThread(F f) {
  std::thread t(f);
  t.join();
}

TEST_CASE("a buffer given back is the next one taken that it fits, the smallest that fits first") {
  OnFreshThread([] {
    CHECK(KeptByThisThread().count == 0);
    auto [big, big_bytes] = TakeBuffer(64 * 1024);
    auto [small, small_bytes] = TakeBuffer(4 * 1024);
    REQUIRE(big != nullptr);
    REQUIRE(small != nullptr);
    CHECK(big_bytes == 64 * 1024);
    CHECK(small_bytes == 4 * 1024);
    std::memset(big, 1, big_bytes);  // all of it is usable
    GiveBuffer(big, big_bytes);
    GiveBuffer(small, small_bytes);
    GiveBuffer(nullptr, 4096);  // allowed, and nothing is kept
    CHECK(KeptByThisThread().count == 2);
    CHECK(KeptByThisThread().bytes == 68 * 1024);
    // 2 KiB fits both: the smaller one comes back, with its real size.
    auto [a, a_bytes] = TakeBuffer(2 * 1024);
    CHECK(a == small);
    CHECK(a_bytes == 4 * 1024);
    // 8 KiB fits only the larger one, which is over 4 times as large: a
    // new buffer, and the large one stays.
    auto [n, n_bytes] = TakeBuffer(8 * 1024);
    CHECK(n != big);
    CHECK(n_bytes == 8 * 1024);
    CHECK(KeptByThisThread().count == 1);
    // A quarter of it: the large one.
    auto [b, b_bytes] = TakeBuffer(16 * 1024);
    CHECK(b == big);
    CHECK(b_bytes == 64 * 1024);
    CHECK(KeptByThisThread().count == 0);
    // A taken buffer may grow with realloc, as the schedule does.
    void* grown = std::realloc(a, 32 * 1024);
    REQUIRE(grown != nullptr);
    GiveBuffer(grown, 32 * 1024);
    GiveBuffer(b, b_bytes);
    GiveBuffer(n, n_bytes);
    CHECK(KeptByThisThread().count == 3);
  });
}

TEST_CASE("the cache keeps the 16 largest buffers and none from 2 MiB on") {
  OnFreshThread([] {
    std::vector<void*> given;
    for (std::size_t i = 0; i < 17; ++i) {
      const std::size_t bytes = 64 * 1024 + 16 * i;
      given.push_back(TakeBuffer(bytes).first);
      GiveBuffer(given.back(), bytes);
    }
    CHECK(KeptByThisThread().count == 16);
    // The smallest was freed: the smallest that fits its size is the next.
    auto [p, bytes] = TakeBuffer(64 * 1024);
    CHECK(p == given[1]);
    CHECK(bytes == 64 * 1024 + 16);
    GiveBuffer(p, bytes);
    // Smaller than every kept one: freed at once.
    const KeptBuffers before = KeptByThisThread();
    void* small = TakeBuffer(2048).first;
    GiveBuffer(small, 2048);
    CHECK(KeptByThisThread().count == 16);
    CHECK(KeptByThisThread().bytes == before.bytes);
    // Too large to keep.
    auto [huge, huge_bytes] = TakeBuffer(kMaxKeptBufferBytes);
    GiveBuffer(huge, huge_bytes);
    CHECK(KeptByThisThread().bytes == before.bytes);
    // Even with room.
    auto [largest, largest_bytes] = TakeBuffer(64 * 1024 + 16 * 16);
    CHECK(KeptByThisThread().count == 15);
    std::tie(huge, huge_bytes) = TakeBuffer(kMaxKeptBufferBytes);
    GiveBuffer(huge, huge_bytes);
    CHECK(KeptByThisThread().count == 15);
    GiveBuffer(largest, largest_bytes);
    CHECK(KeptByThisThread().count == 16);
  });
}

TEST_CASE("buffers are kept per host thread: another thread does not take this one's") {
  OnFreshThread([] {
    auto [p, bytes] = TakeBuffer(32 * 1024);
    GiveBuffer(p, bytes);
    OnFreshThread([] { CHECK(KeptByThisThread().count == 0); });
    auto [q, q_bytes] = TakeBuffer(32 * 1024);
    CHECK(q == p);
    GiveBuffer(q, q_bytes);
  });
}

TEST_CASE("a vector with the buffer allocator gets the block its predecessor gave back, not a new one") {
  OnFreshThread([] {
    using Vec = std::vector<std::int64_t, BufferAllocator<std::int64_t>>;
    const std::int64_t* first = nullptr;
    {
      Vec v;
      v.reserve(1001);  // 8008 bytes: from the cache
      for (std::int64_t i = 0; i < 1001; ++i) v.push_back(i);
      first = v.data();
    }
    CHECK(KeptByThisThread().count == 1);
    // Had the block gone back to malloc, malloc would hand it out again here.
    void* other = std::malloc(8008);
    CHECK(other != first);
    Vec w;
    w.reserve(1000);
    CHECK(w.data() == first);
    for (std::int64_t i = 0; i < 1000; ++i) w.push_back(2 * i);
    CHECK(w[999] == 1998);
    std::free(other);
    // Small blocks do not go through the cache.
    { Vec tiny(4, 7); }
    CHECK(KeptByThisThread().count == 0);
  });
}

}  // namespace
}  // namespace strata::machine
