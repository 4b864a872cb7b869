#include "machine/report.h"

#include <array>
#include <utility>

namespace strata::machine {
namespace {
constexpr std::array<std::pair<Outcome, std::string_view>, 22> kNames = {{
    {Outcome::kOk, "ok"},
    {Outcome::kDataRace, "data-race"},
    {Outcome::kImpossibleLog, "impossible-log"},
    {Outcome::kException, "exception"},
    {Outcome::kStackOverflow, "stack-overflow"},
    {Outcome::kDeadlock, "deadlock"},
    {Outcome::kStepBudget, "step-budget"},
    {Outcome::kUnfairSchedule, "unfair-schedule"},
    {Outcome::kWrongResult, "wrong-result"},
    {Outcome::kInvariantBroken, "invariant-broken"},
    {Outcome::kThreadStarved, "thread-starved"},
    {Outcome::kInvalidEnvironment, "invalid-environment"},
    {Outcome::kRefines, "refines"},
    {Outcome::kImpossibleLowerLog, "impossible-lower-log"},
    {Outcome::kImpossibleUpperLog, "impossible-upper-log"},
    {Outcome::kRefinementViolation, "refinement-violation"},
    {Outcome::kReturnMismatch, "return-mismatch"},
    {Outcome::kRelationBroken, "relation-broken"},
    {Outcome::kStarvation, "starvation"},
    {Outcome::kNondeterminism, "nondeterminism"},
    {Outcome::kTLinkMismatch, "tlink-mismatch"},
    {Outcome::kNotCompositional, "non-compositional"},
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

std::string OutcomeNames() {
  std::string out;
  for (const auto& [outcome, name] : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace strata::machine
