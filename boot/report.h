// `--report FILE.html`: one self-contained HTML file (no network, no
// external script, style or font) that shows a run or a check's failure: the
// verdict and what was checked, the run as swim lanes per CPU and per thread
// (SVG) with the first bad event marked, the module's and the spec's states
// before and after it side by side with their differences marked, every
// step with its source location, and the command that replays it. Shared by
// boot, check and replay.
#ifndef STRATA_BOOT_REPORT_H_
#define STRATA_BOOT_REPORT_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "machine/log.h"

namespace strata::boot {

struct HtmlReport {
  std::string title;     // "strata check configs/check/bad/queue-lifo.toml"
  std::string verdict;   // "relation-broken", "ok", "deadlock"
  bool ok = false;       // the run or check passed
  std::string message;   // the verdict's one line
  std::string checked;   // "queue module-lifo over the ticket lock refines queue spec?", or ""
  // Name / value rows: machine, oracle or strategy, seed, log hash, ...
  std::vector<std::pair<std::string, std::string>> facts;
  const machine::Log* log = nullptr;  // the run shown, or null (a check that passed)
  std::optional<std::size_t> bad;     // the first bad event, if the log holds it
  std::string stopped;                // where a boot run stopped and why, or ""
  // A note after event `seq` (what the log map made of it), or "".
  std::function<std::string(std::size_t seq)> note;
  // The states around the first bad event (empty: not shown).
  std::string module_before, spec_before, module_after, spec_after;
  std::string replay;  // "strata replay FILE", or ""
};

// Writes `report` to `path` whole or not at all.
absl::Status WriteHtmlReport(const std::string& path, const HtmlReport& report);

// The page itself (WriteHtmlReport writes it).
std::string RenderHtmlReport(const HtmlReport& report);

}  // namespace strata::boot

#endif  // STRATA_BOOT_REPORT_H_
