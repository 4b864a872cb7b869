// Schedule files: everything needed to replay a run exactly. A schedule file
// is a TOML file holding the run's whole config plus a [schedule] table with
// the CPU chosen at every step, the outcome and the log hash it produced.
//
//   [schedule]
//   format = 1
//   layer = "lock"            # only in schedules written by `strata check`
//   client_seed = "9e37..."   # ditto: the check client's own choices (16 hex digits)
//   outcome = "deadlock"      # a run outcome, or a check's verdict
//   log_hash = "3f2a..."      # 16 hex digits
//   steps = 12
//   choices = "0 1 0x3 ..."   # machine/schedule.h
#ifndef STRATA_BOOT_SCHEDULE_FILE_H_
#define STRATA_BOOT_SCHEDULE_FILE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boot/config.h"
#include "boot/files.h"
#include "machine/ids.h"
#include "machine/report.h"

namespace strata::boot {

struct ScheduleFile {
  Config config;
  // A check's schedule names the layer pair it failed at, and its verdict
  // ("impossible-upper-log", ...) stands in `outcome`; a boot schedule has
  // no layer.
  std::string layer;
  std::string verdict;
  machine::Outcome outcome = machine::Outcome::kOk;
  std::uint64_t log_hash = 0;
  std::vector<machine::CpuId> choices;
};

// Writes `file` to `path` atomically (WriteFileAtomically), so a failure
// never leaves a partial file.
absl::Status WriteScheduleFile(const std::string& path, const ScheduleFile& file);

// Reads and validates a schedule file. Errors name the file, the line and the
// key: missing or malformed keys, a truncated choice list (fewer choices than
// `steps`), CPUs outside the config's machine.
absl::StatusOr<ScheduleFile> LoadScheduleFile(const std::string& path, const Catalog& catalog);

// The line `strata replay` prints when a schedule file's run did not give
// what the file recorded (its verdict `recorded` with log hash
// `recorded_hash`), naming the causes: an edited file, or simulated code
// that is nondeterministic or changed since the file was written.
std::string DivergedLine(std::string_view recorded, std::uint64_t recorded_hash, std::string_view got,
                         std::uint64_t got_hash);

}  // namespace strata::boot

#endif  // STRATA_BOOT_SCHEDULE_FILE_H_
