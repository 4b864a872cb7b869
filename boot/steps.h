// A run step by step, as `strata replay` prints it: each event of the log
// with its source location and a note (what the log map made of it, the
// first bad event), in log order or grouped by thread, up to the first bad
// event unless all are asked for. Shared by the replay of a boot run and of
// a check, so both read alike.
#ifndef STRATA_BOOT_STEPS_H_
#define STRATA_BOOT_STEPS_H_

#include <cstddef>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "machine/log.h"

namespace strata::boot {

struct StepsOptions {
  bool all = false;        // --all: every event, also after the first bad one
  bool by_thread = false;  // --by-thread: grouped by thread (by cpu on the bare machine)
  // Without `all`: at most this many events, the last ones up to the bad
  // one (or to the end).
  std::size_t tail = 200;
};

// Prints the legend of the markers and the steps of `log` to `out`. `bad`:
// the first bad event, marked and (without options.all) the last one
// printed. `note`, if set: a note after event `seq`'s text ("  => ENQ q").
// `contents`, if set: the block contents pushed at event `seq` (empty if
// not kept), shown in place of their hash (Log::RenderText).
void PrintSteps(std::FILE* out, const machine::Log& log, const StepsOptions& options,
                std::optional<std::size_t> bad = std::nullopt,
                const std::function<std::string(std::size_t seq)>& note = nullptr,
                const std::function<std::span<const std::int64_t>(std::size_t seq)>& contents = nullptr);

}  // namespace strata::boot

#endif  // STRATA_BOOT_STEPS_H_
