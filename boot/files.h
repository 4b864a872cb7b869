// The user's files as strata touches them: every input (a config, a
// schedule file, a recording) is read through ReadInputFile, and every
// output (--log and its .txt, --schedule, --trace, --report, --witness) is
// checked up front by CheckOutputs and written by an OutputWriter (most at
// once, by WriteFileAtomically). So a
// bad path is refused before a run starts, an output never replaces an
// input or another output, and a failed write leaves no partial file.
#ifndef STRATA_BOOT_FILES_H_
#define STRATA_BOOT_FILES_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::boot {

// The largest input file strata reads (a schedule file of a long run is a
// few MiB).
inline constexpr std::size_t kMaxInputBytes = std::size_t{256} << 20;

// OK if `path` is a regular file of at most kMaxInputBytes that this
// process can open. Errors name the path and what was expected, with
// `expected` as the tail ("the config file (expected a TOML file)"):
// NotFound "PATH: cannot open the config file (expected a TOML file)", or
// InvalidArgument "PATH: is a directory, not the config file (expected a
// TOML file)" (also a device, a FIFO, a file too large).
absl::Status CheckInputFile(const std::string& path, std::string_view expected);

// The whole text of `path` after CheckInputFile; a read that fails midway
// (/proc/self/mem) is InvalidArgument "PATH: cannot read the config file
// (...)".
absl::StatusOr<std::string> ReadInputFile(const std::string& path, std::string_view expected);

// An output written piece by piece (`--witness-all`'s witness of every
// execution, which can be far larger than memory), with the promise of a
// whole file or none: the pieces go to a temporary file of its own name in
// the same folder, renamed into place by Commit. An output not committed (an
// error, an early return, a second SIGINT or SIGTERM: boot/interrupt.h)
// leaves no file behind, and no other file is touched. A path that is a
// symbolic link writes the file it names; the link stays.
class OutputWriter {
 public:
  OutputWriter() = default;
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;
  // Removes the temporary file unless Commit moved it into place.
  ~OutputWriter();

  // Creates the temporary file for `path`. Error: InvalidArgument
  // "PATH: cannot write this file (expected a writable path)". Called once.
  absl::Status Open(const std::string& path);
  // Between a successful Open and Commit (or a failed Commit).
  bool open() const { return fd_ >= 0; }
  // Adds `text` (buffered). A failed write is kept and returned by Commit;
  // nothing happens before Open or after a failure.
  void Append(std::string_view text);
  // Writes what is buffered and renames the file into place. Error:
  // InvalidArgument "PATH: writing failed" (a write failed: a full disk) or
  // "PATH: cannot move the file into place"; the temporary file is removed.
  absl::Status Commit();

 private:
  bool Flush();
  void Discard();

  std::string path_;    // as the user named it
  std::string target_;  // the file written: a symbolic link's target
  std::string tmp_;
  int fd_ = -1;
  int slot_ = -1;  // in the list of files a second signal removes
  bool failed_ = false;
  std::string buffer_;
};

// Removes every OutputWriter's temporary file now. Async-signal-safe: for a
// signal handler that is about to end the process.
void RemoveUncommittedOutputs();

// Writes `text` to `path` atomically (one OutputWriter), so a failure
// never leaves a partial file and no other file is touched. Error:
// InvalidArgument naming `path`.
absl::Status WriteFileAtomically(const std::string& path, std::string_view text);

// OK if a file can be written at `path` (probed next to it, then removed),
// or `path` is empty: fails early, before a long run, for an output that
// `flag` ("--log") names. Error: InvalidArgument "PATH: FLAG: cannot write
// this file (...)", "PATH: FLAG: is a directory (expected a file path)" or
// "... is not a regular file ..." (a device or a FIFO, which the rename that
// writes the file would replace).
absl::Status CheckWritable(const std::string& path, std::string_view flag);

// An output a command may write, and the flag that names it ("--log"; a
// derived name such as --log's FILE.txt carries its flag too).
struct OutputFile {
  std::string path;  // "" = not asked for
  std::string flag;
};

// The outputs of `flag`'s FILE: FILE, and for --log also FILE.txt.
std::vector<OutputFile> OutputsOf(const std::string& flag, const std::string& path);

// True if `a` and `b` name the same file, however spelled (a/../b, ./b, a
// symbolic link to it), also when it does not exist yet.
bool SameFile(const std::string& a, const std::string& b);

// Checks every output before a run: each is writable (CheckWritable), none
// is the same file as an input (`inputs`: the config, a schedule file, a
// recording; "" entries are skipped) or as another output, compared as
// std::filesystem::weakly_canonical paths. Errors (InvalidArgument, one
// line) "PATH: --log: is also the config (expected an output path of its
// own)" or "PATH: --schedule: is also --log's file (...)".
absl::Status CheckOutputs(std::span<const OutputFile> outputs,
                          std::span<const std::pair<std::string, std::string>> inputs);

}  // namespace strata::boot

#endif  // STRATA_BOOT_FILES_H_
