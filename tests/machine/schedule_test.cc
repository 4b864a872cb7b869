// The text form of schedules: run-length encoding, decoding, and the errors
// a hand-edited or foreign schedule gets.
#include "machine/schedule.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "machine/rng.h"
#include "tests/machine/test_util.h"

namespace strata::machine {
namespace {

std::vector<CpuId> Ids(std::initializer_list<int> values) {
  std::vector<CpuId> out;
  for (int v : values) out.push_back(CpuId(v));
  return out;
}

// The message of a decode that must fail with InvalidArgument.
std::string DecodeError(std::string_view text, int cpus) {
  absl::StatusOr<std::vector<CpuId>> r = DecodeChoices(text, cpus);
  CHECK(!r.ok());
  if (r.ok()) return "";
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST_CASE("choices are written run-length encoded, one token per run") {
  CHECK(EncodeChoices({}) == "");
  CHECK(EncodeChoices(Ids({0})) == "0");
  CHECK(EncodeChoices(Ids({0, 1, 2, 2, 2, 2, 2, 0})) == "0 1 2x5 0");
  CHECK(EncodeChoices(Ids({3, 3})) == "3x2");
  CHECK(EncodeChoices(Ids({63, 1, 1, 63})) == "63 1x2 63");
}

TEST_CASE("the run-length form decodes to the choices it names") {
  auto r = DecodeChoices("0 1 2x5 0", 3);
  REQUIRE(r.ok());
  CHECK(EncodeChoices(*r) == "0 1 2x5 0");
  CHECK(*r == Ids({0, 1, 2, 2, 2, 2, 2, 0}));
  // Any mix of spaces, tabs and newlines separates tokens; a run of 1 is allowed.
  auto spaced = DecodeChoices("  1x1\t0\n\n2x2  ", 3);
  REQUIRE(spaced.ok());
  CHECK(*spaced == Ids({1, 0, 2, 2}));
  // An empty text is the empty schedule.
  auto empty = DecodeChoices("", 2);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto blank = DecodeChoices(" \n\t ", 2);
  REQUIRE(blank.ok());
  CHECK(blank->empty());
}

TEST_CASE("encoding then decoding random schedules gives them back") {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    CAPTURE(seed);
    Rng rng(seed);
    const int cpus = 1 + static_cast<int>(rng.Below(64));
    CAPTURE(cpus);
    std::vector<CpuId> choices;
    const std::size_t runs = rng.Below(40);
    for (std::size_t i = 0; i < runs; ++i) {
      CpuId c(static_cast<CpuId::Rep>(rng.Below(static_cast<std::uint64_t>(cpus))));
      // Runs of 1 to 3 and the occasional long one.
      std::uint64_t length = rng.Below(10) == 0 ? 1 + rng.Below(500) : 1 + rng.Below(3);
      choices.insert(choices.end(), length, c);
    }
    const std::string text = EncodeChoices(choices);
    auto back = DecodeChoices(text, cpus);
    REQUIRE(back.ok());
    CHECK(*back == choices);
    // The encoding is canonical: no two adjacent tokens name the same cpu.
    CHECK(EncodeChoices(*back) == text);
  }
}

TEST_CASE("a malformed token is InvalidArgument naming the choice number and the token") {
  struct Case {
    std::string text;
    std::string choice;  // "choice N `token`"
  };
  const std::vector<Case> cases = {
      {"x3", "choice 1 `x3`"},       {"0 2x", "choice 2 `2x`"},     {"0 1 a", "choice 3 `a`"},
      {"1x2x3", "choice 1 `1x2x3`"}, {"0 1x", "choice 2 `1x`"},     {"0,1", "choice 1 `0,1`"},
      {"+1", "choice 1 `+1`"},       {"0 1 0x0x", "choice 3 `0x0x`"}, {"1.5", "choice 1 `1.5`"},
      {"0xa", "choice 1 `0xa`"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const std::string message = DecodeError(c.text, 4);
    CHECK(message.find(c.choice + " is malformed") != std::string::npos);
    CHECK(message.find("expected a cpu id like `2` or a run like `2x7`") != std::string::npos);
  }
}

TEST_CASE("a run of zero or negative length is InvalidArgument naming the choice") {
  std::string zero = DecodeError("1 2x0", 4);
  CHECK(zero.find("choice 2 `2x0` repeats 0 times") != std::string::npos);
  std::string negative = DecodeError("2x-3", 4);
  CHECK(negative.find("choice 1 `2x-3` repeats -3 times") != std::string::npos);
  std::string huge = DecodeError("0 1 0x1000000001", 4);
  CHECK(huge.find("choice 3 `0x1000000001` repeats 1000000001 times") != std::string::npos);
}

TEST_CASE("a choice naming a cpu the machine does not have is InvalidArgument naming it") {
  std::string negative = DecodeError("-1", 4);
  CHECK(negative.find("choice 1 `-1` names cpu -1 (expected a cpu from 0 to 3)") !=
        std::string::npos);
  std::string high = DecodeError("0 1 4", 4);
  CHECK(high.find("choice 3 `4` names cpu 4 (expected a cpu from 0 to 3)") != std::string::npos);
  std::string run = DecodeError("0 2x3", 2);
  CHECK(run.find("choice 2 `2x3` names cpu 2 (expected a cpu from 0 to 1)") != std::string::npos);
  // A number too large for any integer type is malformed, not a crash.
  std::string overflow = DecodeError("99999999999999999999999", 4);
  CHECK(overflow.find("choice 1") != std::string::npos);
  // The last cpu is fine.
  auto ok = DecodeChoices("3 3x2", 4);
  REQUIRE(ok.ok());
  CHECK(*ok == Ids({3, 3, 3}));
}

TEST_CASE("a run past the most choices allowed is refused before it is expanded") {
  absl::StatusOr<std::vector<CpuId>> r = DecodeChoices("0x1000000000 1x1000000000", 2, 5);
  REQUIRE(!r.ok());
  CHECK(r.status().message() ==
        "choice 1 `0x1000000000` goes past step 5 (expected at most 5 steps in all)");
  r = DecodeChoices("0x3 1x3", 2, 5);
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "choice 2 `1x3` goes past step 5 (expected at most 5 steps in all)");
  auto exact = DecodeChoices("0x3 1x2", 2, 5);
  REQUIRE(exact.ok());
  CHECK(*exact == Ids({0, 0, 0, 1, 1}));
}

}  // namespace
}  // namespace strata::machine
