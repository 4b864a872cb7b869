// Schedules: the list of CPU choices a run made, one per shared step. A run
// is a pure function of (config, schedule), so a schedule replays it exactly.
// The text form is run-length encoded: "0 1 2x5 0" means cpu 0, cpu 1, cpu 2
// five times, cpu 0.
#ifndef STRATA_MACHINE_SCHEDULE_H_
#define STRATA_MACHINE_SCHEDULE_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "machine/ids.h"

namespace strata::machine {

std::string EncodeChoices(std::span<const CpuId> choices);

// Parses the text form. Errors (InvalidArgument) name the token and what was
// expected; a choice naming cpu >= `cpus` is an error, and so is a text that
// holds more than `max_choices` choices: runs are counted before they are
// expanded, so a short text never allocates more than `max_choices` ids.
absl::StatusOr<std::vector<CpuId>> DecodeChoices(std::string_view text, int cpus,
                                                 std::size_t max_choices = 1'000'000'000);

}  // namespace strata::machine

#endif  // STRATA_MACHINE_SCHEDULE_H_
