// The timeline of a run (`--trace FILE`): the log as Chrome trace-event JSON
// (the JSON Object Format, {"traceEvents": [...], "displayTimeUnit": ...}),
// which the Perfetto UI (https://ui.perfetto.dev) and chrome://tracing open.
//
// What it shows, all drawn from the log and the layers' own declarations
// (layers/timeline.h); the writer never asks which layer or module made an
// event:
//   - a track per CPU ("cpu 0", process "cpus") holding the code the CPU runs
//     outside any thread and a slice "thread N" while it runs thread N; a
//     track per thread ("thread 3", process "threads");
//   - a slice per primitive call, from its call marker to its return marker,
//     nested as the calls nest (a layer's call inside the one above it),
//     named "PRIMITIVE OBJECT", its category the declaring layer, its args
//     the call's arguments and the return value;
//   - an instant per shared step and ghost, with kind, object, arguments,
//     result and source location;
//   - an arrow per declared hand-over (a release to the acquire it enables,
//     a wakeup to the woken thread);
//   - a counter track per declared counter and object (process "objects").
// Time is the log position: event `seq` is at `seq` microseconds, so every
// track is monotonic and the file is a pure function of the log (no clocks,
// no addresses): the same config and seed give the same bytes. A return
// closes its slice half a microsecond after its position, so an arrow bound
// at the return falls inside the slice. Slices a log leaves open (a failed
// run) close at its end.
#ifndef STRATA_BOOT_TRACE_H_
#define STRATA_BOOT_TRACE_H_

#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "boot/config.h"
#include "layers/timeline.h"
#include "machine/log.h"

namespace strata::boot {

// What a trace says about its run besides the log.
struct TraceSource {
  std::string title;  // "strata boot configs/default.toml (seed 1)"
  int cpus = 0;       // the machine's CPUs: each has a track even without events
  // A failure's first bad event, marked with an instant on its track named
  // "first bad event: " + failure; none for a run without one.
  std::optional<std::size_t> bad;
  std::string failure;  // "relation-broken: the queue's block holds ..."
};

// The trace-event JSON of `log`, each layer drawn as `timelines` declares
// (a primitive declared twice is drawn as the first declares it). One event
// per line. Deterministic: equal logs give equal text.
std::string RenderTrace(const machine::Log& log, std::span<const layers::Timeline> timelines,
                        const TraceSource& source);

// Writes RenderTrace(log, timelines, source) to `path` atomically (a
// temporary file next to it, renamed into place), so a failure leaves no
// partial file. Error: InvalidArgument naming the path when it cannot be
// written.
absl::Status WriteTrace(const std::string& path, const machine::Log& log,
                        std::span<const layers::Timeline> timelines, const TraceSource& source);

// The timelines of `config`'s layer stack, bottom to top (what each layer
// declares in its kernel::LayerInfo).
std::vector<layers::Timeline> StackTimelines(const Config& config);

// The timeline of a run `m` of `config` (its stack's timelines) to `path`
// as WriteTrace writes it, titled `title`; nothing for an empty path.
absl::Status WriteStackTrace(const std::string& path, const Config& config, const machine::Machine& m,
                             const std::string& title, std::optional<std::size_t> bad = std::nullopt,
                             const std::string& failure = "");

// The summary line of a written trace: "  trace      written to PATH (open in
// https://ui.perfetto.dev)", then ": WHAT" when `what` says which run it is.
void PrintTraceLine(std::FILE* out, const std::string& path, std::string_view what = "");

}  // namespace strata::boot

#endif  // STRATA_BOOT_TRACE_H_
