#include "machine/report.h"

#include <array>
#include <utility>

namespace strata::machine {
namespace {
constexpr std::array<std::pair<Outcome, std::string_view>, 10> kNames = {{
    {Outcome::kOk, "ok"},
    {Outcome::kDataRace, "data-race"},
    {Outcome::kImpossibleLog, "impossible-log"},
    {Outcome::kException, "exception"},
    {Outcome::kStackOverflow, "stack-overflow"},
    {Outcome::kDeadlock, "deadlock"},
    {Outcome::kStepBudget, "step-budget"},
    {Outcome::kUnfairSchedule, "unfair-schedule"},
    {Outcome::kWrongResult, "wrong-result"},
    {Outcome::kThreadStarved, "thread-starved"},
}};
}  // namespace

std::string_view OutcomeName(Outcome o) {
  for (const auto& [outcome, name] : kNames) {
    if (outcome == o) return name;
  }
  return "?";
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  for (const auto& [outcome, n] : kNames) {
    if (n == name) return outcome;
  }
  return std::nullopt;
}

}  // namespace strata::machine
