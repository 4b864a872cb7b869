// Liveness bounds of FIFO waiting, for modules whose callers queue up (a
// ticket or queue lock): under an F-fair oracle a runnable CPU takes its
// next step after at most F steps of the others (machine/fairness.h), so
// each step a caller waits for costs at most F + 1 machine steps, and a
// newcomer waits at most for everyone ahead of it to enter, use its
// promised bound and leave, then takes its own steps. A module's view
// records arrivals (where a caller takes its place in line) and
// departures, and answers the bound at the call's return.
#ifndef STRATA_LAYERS_LIVENESS_H_
#define STRATA_LAYERS_LIVENESS_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "machine/ids.h"

namespace strata::layers {

class FifoBound {
 public:
  // Steps an entry (acquire) and an exit (release) take by themselves.
  struct Costs {
    std::uint64_t enter = 1;
    std::uint64_t leave = 1;
  };

  FifoBound(Costs costs, int cpus, std::uint64_t fairness)
      : costs_(costs),
        per_step_(fairness + 1),
        enter_bound_(static_cast<std::size_t>(cpus)) {
    line_.reserve(static_cast<std::size_t>(cpus));  // one allocation per view, not one per growth
  }

  // `cpu` takes its place in line, promising to hold for `held_for` events.
  void Arrive(machine::CpuId cpu, std::int64_t held_for) {
    std::uint64_t steps = costs_.enter;
    for (const Arrival& a : line_) {
      steps += costs_.enter + static_cast<std::uint64_t>(std::max<std::int64_t>(a.held_for, 0)) +
               costs_.leave;
    }
    enter_bound_[cpu.index()] = per_step_ * steps;
    line_.push_back({cpu, held_for});
  }
  // `cpu` leaves the line (its exit). No effect if it is not in it.
  void Leave(machine::CpuId cpu) {
    auto it = std::find_if(line_.begin(), line_.end(),
                           [&](const Arrival& a) { return a.cpu == cpu; });
    if (it != line_.end()) line_.erase(it);
  }
  // The bound of `cpu`'s entry since its last arrival; nullopt if it never arrived.
  std::optional<std::uint64_t> EnterBound(machine::CpuId cpu) const {
    return enter_bound_[cpu.index()];
  }
  std::uint64_t LeaveBound() const { return per_step_ * costs_.leave; }
  // "cpu 0 (bound 2), cpu 1 (bound 2)": the line, oldest first.
  std::string Line() const {
    std::string out;
    for (const Arrival& a : line_) {
      out += fmt::format("{}cpu {} (bound {})", out.empty() ? "" : ", ", a.cpu, a.held_for);
    }
    return out;
  }

 private:
  struct Arrival {
    machine::CpuId cpu;
    std::int64_t held_for;
  };
  Costs costs_;
  std::uint64_t per_step_;
  std::vector<Arrival> line_;
  std::vector<std::optional<std::uint64_t>> enter_bound_;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_LIVENESS_H_
