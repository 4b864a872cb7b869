#include "machine/schedule.h"

#include <charconv>

#include <fmt/format.h>

namespace strata::machine {
namespace {

bool ParseNumber(std::string_view s, long long& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string EncodeChoices(std::span<const CpuId> choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size();) {
    std::size_t j = i;
    while (j < choices.size() && choices[j] == choices[i]) ++j;
    if (!out.empty()) out.push_back(' ');
    if (j - i == 1) {
      out += fmt::format("{}", choices[i].value());
    } else {
      out += fmt::format("{}x{}", choices[i].value(), j - i);
    }
    i = j;
  }
  return out;
}

absl::StatusOr<std::vector<CpuId>> DecodeChoices(std::string_view text, int cpus,
                                                 std::size_t max_choices) {
  std::vector<CpuId> out;
  std::size_t token = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\t')) ++pos;
    if (pos >= text.size()) break;
    std::size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    std::string_view tok = text.substr(pos, end - pos);
    ++token;
    std::string_view cpu_part = tok, count_part;
    if (auto x = tok.find('x'); x != std::string_view::npos) {
      cpu_part = tok.substr(0, x);
      count_part = tok.substr(x + 1);
    }
    long long cpu = 0, count = 1;
    if (!ParseNumber(cpu_part, cpu) || (!count_part.empty() && !ParseNumber(count_part, count)) ||
        (tok.find('x') != std::string_view::npos && count_part.empty())) {
      return absl::InvalidArgumentError(fmt::format(
          "choice {} `{}` is malformed (expected a cpu id like `2` or a run like `2x7`)", token,
          tok));
    }
    if (cpu < 0 || cpu >= cpus) {
      return absl::InvalidArgumentError(fmt::format(
          "choice {} `{}` names cpu {} (expected a cpu from 0 to {})", token, tok, cpu, cpus - 1));
    }
    if (count < 1 || count > 1'000'000'000) {
      return absl::InvalidArgumentError(fmt::format(
          "choice {} `{}` repeats {} times (expected 1 to 1000000000)", token, tok, count));
    }
    if (static_cast<std::size_t>(count) > max_choices - out.size()) {
      return absl::InvalidArgumentError(fmt::format(
          "choice {} `{}` goes past step {} (expected at most {} steps in all)", token, tok,
          max_choices, max_choices));
    }
    out.insert(out.end(), static_cast<std::size_t>(count), CpuId(static_cast<CpuId::Rep>(cpu)));
    pos = end;
  }
  return out;
}

}  // namespace strata::machine
