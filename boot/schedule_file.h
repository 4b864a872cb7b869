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
#include <cstdio>
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

// Where a failure's schedule goes when no --schedule names one:
// strata-STEM-WHAT-seedN.schedule in the current folder, STEM the config
// file's name without its extension, WHAT the outcome ("deadlock") or
// "check-LAYER-VERDICT". It replaces a schedule strata wrote there before
// (a rerun of the same failure), never another file: where the name is one
// of `taken` (the command's inputs and other outputs; "" entries are
// skipped) or a file that is not a strata schedule, the first free one of
// ...-seedN-2.schedule, -3, ... is used.
std::string DerivedSchedulePath(const Config& c, std::string_view what, std::span<const std::string> taken);

// Writes `file` to `path` (WriteScheduleFile) and prints where, and the
// command that replays it, to `out`; on an error prints nothing and
// returns it.
absl::Status WriteScheduleAndSay(const std::string& path, const ScheduleFile& file, std::FILE* out);

// WriteScheduleAndSay for a failure's schedule. A failure is still the
// verdict when its schedule cannot be written: that prints the reason and
// how to write it elsewhere, and returns false, and the caller goes on.
bool WriteFailureSchedule(const std::string& path, const ScheduleFile& file, std::FILE* out);

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
