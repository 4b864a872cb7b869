// The shared log: appending, per-object views, text and JSON rendering, and
// the running hash.
#include "machine/log.h"

#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "machine/event.h"
#include "machine/ids.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

Event Faa(int cpu, ObjectId object, std::int64_t delta, std::int64_t old) {
  return Event{.cpu = CpuId(cpu), .object = object, .op = OpCode::kFaa, .kind = kinds::kFaa,
               .arg0 = delta, .result = old};
}

TEST_CASE("an empty log has no events, and every empty log has the same hash") {
  Log log;
  CHECK(log.empty());
  CHECK(log.size() == 0);
  CHECK(log.events().empty());
  Log other;
  other.AddObject("named objects do not count");
  CHECK(log.hash() == other.hash());
  other.Append(Faa(0, ObjectId(0), 0, 0));
  CHECK(log.hash() != other.hash());
}

TEST_CASE("objects get dense ids from 0 and keep their names") {
  Log log;
  ObjectId a = log.AddObject("counter");
  ObjectId b = log.AddObject("lock");
  CHECK(a == ObjectId(0));
  CHECK(b == ObjectId(1));
  CHECK(log.object_count() == 2);
  CHECK(log.object_name(a) == "counter");
  CHECK(log.object_name(b) == "lock");
}

TEST_CASE("append numbers events by their position and keeps every field") {
  Log log;
  ObjectId c = log.AddObject("counter");
  Event in = Faa(1, c, 5, 7);
  in.seq = 99;  // overwritten by Append
  in.thread = ThreadId(3);
  in.arg1 = -2;
  const Event& stored = log.Append(in);
  CHECK(stored.seq == 0);
  Event expected = in;
  expected.seq = 0;
  CHECK(stored == expected);
  CHECK(log.Append(Faa(0, c, 1, 12)).seq == 1);
  CHECK(log.size() == 2);
  CHECK(!log.empty());
  CHECK(log[1].cpu == CpuId(0));
  CHECK(log.back().seq == 1);
  CHECK(log.events().size() == 2);
  CHECK(log.events()[0] == expected);
}

TEST_CASE("a log of hundreds of thousands of events keeps every event as it grows") {
  // Crosses several growths of the event store (the first holds 2 MiB).
  Log log;
  ObjectId c = log.AddObject("counter");
  constexpr int kEvents = 300'000;
  for (int i = 0; i < kEvents; ++i) log.Append(Faa(i % 7, c, i, 2 * i));
  REQUIRE(log.size() == kEvents);
  int bad = 0;
  for (int i = 0; i < kEvents; ++i) {
    const Event& e = log[static_cast<std::size_t>(i)];
    if (e.seq != static_cast<std::uint64_t>(i) || e.cpu != CpuId(i % 7) || e.arg0 != i ||
        e.result != 2 * i || !(e.kind == kinds::kFaa)) {
      ++bad;
    }
  }
  CHECK(bad == 0);
  CHECK(log.events().data() == &log[0]);
  CHECK(log.back().seq == kEvents - 1);
}

// One distinct call site per N: each instantiation is its own function.
template <int N>
std::source_location SiteNumbered() {
  return std::source_location::current();
}
template <int... N>
std::vector<std::source_location> ManySites(std::integer_sequence<int, N...>) {
  return {SiteNumbered<N>()...};
}

TEST_CASE("every call site keeps its own location, on every host thread, "
          "beyond the sites a thread's table remembers") {
  // More sites than SiteCache::kCachedSites, so the last ones are looked up
  // in the process's table every time; two threads number them at once.
  const std::vector<std::source_location> sites =
      ManySites(std::make_integer_sequence<int, 1000>{});
  REQUIRE(sites.size() > SiteCache::kCachedSites);
  auto fill = [&sites](Log& log) {
    const ObjectId c = log.AddObject("counter");
    for (int pass = 0; pass < 3; ++pass) {
      for (std::size_t i = 0; i < sites.size(); ++i) {
        log.Append(CpuId(0), ThreadId(), c, kinds::kFaa, 1, 0, 0, OpCode::kFaa, sites[i]);
      }
    }
  };
  Log a, b;
  std::thread other([&] { fill(b); });
  fill(a);
  other.join();
  for (const Log* log : {&a, &b}) {
    REQUIRE(log->size() == 3 * sites.size());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < log->size(); ++i) {
      const std::source_location want = sites[i % sites.size()];
      const std::source_location got = log->where(i);
      // The same site: the same function (each instantiation has its own
      // name), file and line.
      if (std::string_view(got.function_name()) != want.function_name() ||
          std::string_view(got.file_name()) != want.file_name() || got.line() != want.line()) {
        ++wrong;
      }
    }
    CHECK(wrong == 0);
  }
  // Distinct sites got distinct numbers, the same site the same number on
  // both threads.
  std::set<std::uint16_t> numbers;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    CHECK(a[i].where != 0);
    CHECK(a[i].where == b[i].where);
    numbers.insert(a[i].where);
  }
  CHECK(numbers.size() == sites.size());
  // The location is not part of the event: the same step made elsewhere is
  // the same event, and its log the same log.
  Event first = a[0];
  Event second = a[1];
  second.seq = first.seq;
  CHECK(first.where != second.where);
  CHECK(first == second);
  Log c;
  fill(c);
  Log plain;
  const ObjectId counter = plain.AddObject("counter");
  for (std::size_t i = 0; i < 3 * sites.size(); ++i) {
    plain.Append(CpuId(0), ThreadId(), counter, kinds::kFaa, 1, 0, 0, OpCode::kFaa);
  }
  CHECK(plain.hash() == c.hash());
  CHECK(plain.where(0).line() == 0);
}

TEST_CASE("a per-object view lists exactly that object's events in log order") {
  Log log;
  ObjectId a = log.AddObject("a");
  ObjectId b = log.AddObject("b");
  ObjectId c = log.AddObject("c");
  // a b a a b a, and nothing on c.
  for (ObjectId o : {a, b, a, a, b, a}) log.Append(Faa(0, o, 1, 0));
  CHECK(log.View(a) == std::vector<std::size_t>{0, 2, 3, 5});
  CHECK(log.View(b) == std::vector<std::size_t>{1, 4});
  CHECK(log.View(c).empty());
  for (ObjectId o : {a, b}) {
    for (std::size_t i : log.View(o)) CHECK(log[i].object == o);
  }
}

TEST_CASE("the text form of an event names the step, cpu, kind, object, arguments and result") {
  Log log;
  ObjectId counter = log.AddObject("counter");
  ObjectId lock = log.AddObject("lock");
  CHECK(log.RenderText(log.Append(Faa(1, counter, 1, 0))) == "t=0 cpu=1 faa counter (1, 0) -> 0");
  // Arguments that are both zero are left out.
  CHECK(log.RenderText(log.Append(
            Event{.cpu = CpuId(0), .object = counter, .op = OpCode::kLoad, .kind = kinds::kLoad,
                  .result = 1})) ==
        "t=1 cpu=0 load counter -> 1");
  CHECK(log.RenderText(log.Append(Event{.cpu = CpuId(2),
                                        .object = lock,
                                        .op = OpCode::kCas,
                                        .kind = kinds::kCas,
                                        .arg0 = 0,
                                        .arg1 = 3,
                                        .result = 0})) == "t=2 cpu=2 cas lock (0, 3) -> 0");
  // A thread, when there is one, follows the cpu.
  CHECK(log.RenderText(log.Append(Event{.cpu = CpuId(1),
                                        .thread = ThreadId(4),
                                        .object = counter,
                                        .op = OpCode::kFaa,
                                        .kind = kinds::kFaa,
                                        .arg0 = -1,
                                        .result = 1})) ==
        "t=3 cpu=1 thread=4 faa counter (-1, 0) -> 1");
  // An event with no object renders it as "-".
  CHECK(log.RenderText(log.Append(Event{.cpu = CpuId(0), .kind = EventKind("tick")})) ==
        "t=4 cpu=0 tick - -> 0");
  // A layer's named step shows its machine operation; a linearization point
  // is starred.
  CHECK(log.RenderText(log.Append(Event{.cpu = CpuId(0), .object = lock, .op = OpCode::kFaa,
                                        .kind = EventKind("INC_TICKET"), .arg0 = 1})) ==
        "t=5 cpu=0 INC_TICKET[faa] lock (1, 0) -> 0");
  log.FlagLinearization();
  CHECK(log.RenderText(log.back()) == "t=5 cpu=0 INC_TICKET[faa]* lock (1, 0) -> 0");
}

TEST_CASE("the text form of a push shows the block's contents when they are given, else their hash") {
  Log log;
  const ObjectId q = log.AddObject("q.data");
  const Event& push = log.Append(CpuId(1), ThreadId(), q, kinds::kPush, 8440159, 0, 2, OpCode::kPush);
  CHECK(log.RenderText(push) == "t=0 cpu=1 push q.data (8440159, 0) -> 2");
  const std::vector<std::int64_t> words{1, 1000, 0};
  CHECK(log.RenderText(push, words) == "t=0 cpu=1 push q.data [1, 1000, 0] -> 2");
  const Event& noted = log.Append(CpuId(1), ThreadId(), q, kinds::kPush, 8440159, 5, 3, OpCode::kPush);
  CHECK(log.RenderText(noted, words) == "t=1 cpu=1 push q.data [1, 1000, 0] (note 5) -> 3");
  // Only a push: other events ignore contents.
  const Event& faa = log.Append(CpuId(0), ThreadId(), q, kinds::kFaa, 1, 0, 7, OpCode::kFaa);
  CHECK(log.RenderText(faa, words) == log.RenderText(faa));
}

TEST_CASE("the linearization flag is part of the log and of its hash") {
  Log flagged, plain;
  ObjectId counter = flagged.AddObject("counter");
  plain.AddObject("counter");
  flagged.Append(Faa(0, counter, 1, 0));
  plain.Append(Faa(0, counter, 1, 0));
  CHECK(flagged.hash() == plain.hash());
  flagged.FlagLinearization();
  CHECK(flagged.back().linearizes);
  CHECK(flagged.hash() != plain.hash());
  // Appending a flagged event flags it the same way.
  Log copy;
  copy.AddObject("counter");
  copy.Append(flagged.back());
  CHECK(copy.hash() == flagged.hash());
}

TEST_CASE("the JSON form of an event is one line with every field") {
  Log log;
  ObjectId counter = log.AddObject("counter");
  const std::string json = log.RenderJson(log.Append(Faa(1, counter, 1, 0)));
  CHECK(json ==
        R"({"seq":0,"cpu":1,"thread":-1,"object":"counter","oid":0,"op":"faa","kind":"faa","arg0":1,"arg1":0,"result":0})");
  CHECK(json.find('\n') == std::string::npos);
  Event e{.cpu = CpuId(3), .thread = ThreadId(2), .object = counter, .op = OpCode::kCas,
          .kind = kinds::kCas, .arg0 = -4, .arg1 = 9, .result = -4};
  CHECK(log.RenderJson(log.Append(e)) ==
        R"({"seq":1,"cpu":3,"thread":2,"object":"counter","oid":0,"op":"cas","kind":"cas","arg0":-4,"arg1":9,"result":-4})");
}

TEST_CASE("the JSON form escapes quotes, backslashes and control characters in names") {
  Log log;
  ObjectId odd = log.AddObject("a\"b\\c\nd");
  const std::string json = log.RenderJson(log.Append(Faa(0, odd, 0, 0)));
  CHECK(json.find(R"("object":"a\"b\\c\u000ad")") != std::string::npos);
  CHECK(json.find('\n') == std::string::npos);
}

TEST_CASE("equal logs have equal hashes and the hash changes when any field changes") {
  Log names;
  ObjectId counter = names.AddObject("counter");
  ObjectId other = names.AddObject("other");
  const Event base{.cpu = CpuId(1), .thread = ThreadId(2), .object = counter,
                   .kind = kinds::kFaa, .arg0 = 3, .arg1 = 4, .result = 5};
  auto hash_of = [&](std::vector<Event> events) {
    Log log;
    log.AddObject("counter");
    log.AddObject("other");
    for (const Event& e : events) log.Append(e);
    return log.hash();
  };
  const Event first = Faa(0, counter, 1, 0);
  const std::uint64_t h = hash_of({first, base});
  CHECK(hash_of({first, base}) == h);
  CHECK(hash_of({first}) != h);
  CHECK(hash_of({base, first}) != h);  // order matters

  std::vector<Event> variants(7, base);
  variants[0].cpu = CpuId(0);
  variants[1].thread = ThreadId();
  variants[2].object = other;
  variants[3].kind = kinds::kSwap;
  variants[4].arg0 = 2;
  variants[5].arg1 = 0;
  variants[6].result = 6;
  std::set<std::uint64_t> seen = {h};
  for (std::size_t i = 0; i < variants.size(); ++i) {
    CAPTURE(i);
    std::uint64_t v = hash_of({first, variants[i]});
    CHECK(v != h);
    seen.insert(v);
  }
  CHECK(seen.size() == variants.size() + 1);  // every variant differs from every other
  // Swapping cpu and thread numbers is a different event too.
  Event swapped = base;
  swapped.cpu = CpuId(2);
  swapped.thread = ThreadId(1);
  CHECK(hash_of({first, swapped}) != h);
}

TEST_CASE("the printed hash is 16 lowercase hex digits") {
  CHECK(FormatHash(0) == "0000000000000000");
  CHECK(FormatHash(0x1) == "0000000000000001");
  CHECK(FormatHash(0xDEADBEEFCAFEF00Dull) == "deadbeefcafef00d");
}

TEST_CASE("event kinds are equal exactly when their names are") {
  constexpr EventKind faa("faa");
  static_assert(faa == kinds::kFaa);
  static_assert(faa.hash() == Fnv1a("faa"));
  CHECK(!(kinds::kLoad == kinds::kStore));
  CHECK(EventKind().name().empty());
  CHECK(fmt::format("{}", kinds::kPush) == "push");
  // FNV-1a test vectors.
  CHECK(Fnv1a("") == 0xcbf29ce484222325ull);
  CHECK(Fnv1a("a") == 0xaf63dc4c8601ec8cull);
}

TEST_CASE("ids are none by default, format as their number or '-', and order by value") {
  CHECK(!CpuId().valid());
  CHECK(CpuId(0).valid());
  CHECK(fmt::format("{}", CpuId()) == "-");
  CHECK(fmt::format("{}", ThreadId(12)) == "12");
  CHECK(CpuId(1) < CpuId(2));
  CHECK(CpuId() < CpuId(0));
  CHECK(ObjectId(5).index() == 5);
}

}  // namespace
}  // namespace strata::machine
