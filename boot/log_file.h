// Log files: the JSON-lines log `strata boot --log FILE` writes (one event
// per line, machine::Log::RenderJson), read back as the recording of a
// recorded environment (env.recording, --recording). A log holds no config:
// what ties it to one is that every CPU it names is one of the config's and
// every object it names (by id and name) is the one the config's machine
// makes at that id (CheckLogObjects); the per-CPU run then says whether it
// gives the recorded log's hash.
#ifndef STRATA_BOOT_LOG_FILE_H_
#define STRATA_BOOT_LOG_FILE_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "machine/environment.h"
#include "machine/log.h"
#include "machine/machine.h"

namespace strata::boot {

struct LogFile {
  machine::Recording recording;
  // Each object the log names, with the line that first names it.
  struct Object {
    machine::ObjectId id;
    std::string name;
    std::size_t line = 0;
  };
  std::vector<Object> objects;
};

// Whether `path` holds a log rather than a schedule file: its first
// non-blank character opens a JSON object.
bool IsLogFile(const std::string& path);

// Reads the log at `path` as a recording of a run on `cpus` CPUs (its
// schedule: the CPUs of its shared steps in order; its hash: the log's).
// Errors (InvalidArgument, one line "PATH:LINE: FIELD: what, expected
// what"): a line that is not one JSON object, a field missing or of the
// wrong type or range, events out of order, a CPU not below `cpus`, a push
// without its contents, an empty log.
absl::StatusOr<LogFile> LoadLogFile(const std::string& path, int cpus);

// OK if the log at `path`, read as `objects` and `recording`, fits
// `made`, a machine of the config set up for the run: each object it names
// is the one `made` has at that id, each event's operation is one that
// object takes (a word's, a block's, a layer's), each push pushes as many
// words as the block has. Otherwise the first that does not, as
// "PATH:LINE: FIELD: ...".
absl::Status CheckLogFits(std::span<const LogFile::Object> objects,
                          const machine::Recording& recording, const std::string& path,
                          const machine::Machine& made);

}  // namespace strata::boot

#endif  // STRATA_BOOT_LOG_FILE_H_
