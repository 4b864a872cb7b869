#include "boot/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "machine/check.h"

namespace strata::boot {
namespace {

// The same file for every spelling of its path (a/../b, ./b, a symlink to
// it), also when it does not exist yet.
std::string Canonical(const std::string& path) {
  std::error_code error;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, error), error);
  if (error) return std::filesystem::path(path).lexically_normal().string();
  return p.string();
}

// Where an output at `path` is written: the file a symbolic link names
// (followed link by link, a relative target from its link's folder, also
// when it does not exist yet), so that the rename that writes it replaces
// that file, not the link (as root, `--report /dev/stdout` replaced the
// link /dev/stdout itself).
std::string Target(const std::string& path) {
  std::filesystem::path p = path;
  std::error_code error;
  for (int links = 0; links < 40 && std::filesystem::is_symlink(p, error); ++links) {
    const std::filesystem::path to = std::filesystem::read_symlink(p, error);
    if (error) return path;
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  return p.string();
}

// True if `path` is the file this process's stdout or stderr writes: an
// output written there by a rename would take the place of the file the
// command prints to (`--report /dev/stdout > out.html`), and what it
// printed would be lost.
bool IsOwnOutput(const std::string& path) {
  struct stat file {};
  if (::stat(path.c_str(), &file) != 0) return false;
  for (int fd : {1, 2}) {
    struct stat out {};
    if (::fstat(fd, &out) == 0 && out.st_dev == file.st_dev && out.st_ino == file.st_ino) return true;
  }
  return false;
}

// Writes all of `text` to `fd`; false on a failed write.
bool WriteAll(int fd, std::string_view text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

absl::Status CheckInputFile(const std::string& path, std::string_view expected) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(fmt::format("{}: cannot open {}", path, expected));
  }
  std::string_view wrong;
  if (S_ISDIR(st.st_mode)) {
    wrong = "is a directory";
  } else if (!S_ISREG(st.st_mode)) {
    wrong = "is not a regular file";
  } else if (static_cast<std::size_t>(st.st_size) > kMaxInputBytes) {
    return absl::InvalidArgumentError(fmt::format("{}: is larger than {} MiB, not {}", path,
                                                  kMaxInputBytes >> 20, expected));
  }
  if (!wrong.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}, not {}", path, wrong, expected));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(fmt::format("{}: cannot open {}", path, expected));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadInputFile(const std::string& path, std::string_view expected) {
  if (absl::Status s = CheckInputFile(path, expected); !s.ok()) return s;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(fmt::format("{}: cannot open {}", path, expected));
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || text.size() + static_cast<std::size_t>(n) > kMaxInputBytes) {
      ::close(fd);
      return absl::InvalidArgumentError(fmt::format("{}: cannot read {}", path, expected));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

namespace {

// The temporary files of open OutputWriters, for a signal handler to
// remove (RemoveUncommittedOutputs): fixed storage, claimed and released
// with atomics, read without locks or allocation.
constexpr int kOutputSlots = 16;
constexpr std::size_t kOutputPathBytes = 4096;
struct OutputSlot {
  std::atomic<bool> claimed{false};
  std::atomic<bool> live{false};
  char path[kOutputPathBytes];
};
OutputSlot g_outputs[kOutputSlots];

// A slot holding `tmp`, or -1 when all are taken or the path is too long
// (the file is then only removed by its writer).
int ClaimSlot(const std::string& tmp) {
  if (tmp.size() >= kOutputPathBytes) return -1;
  for (int i = 0; i < kOutputSlots; ++i) {
    bool expected = false;
    if (g_outputs[i].claimed.compare_exchange_strong(expected, true)) {
      std::memcpy(g_outputs[i].path, tmp.c_str(), tmp.size() + 1);
      g_outputs[i].live.store(true);
      return i;
    }
  }
  return -1;
}

void ReleaseSlot(int slot) {
  if (slot < 0) return;
  g_outputs[slot].live.store(false);
  g_outputs[slot].claimed.store(false);
}

// Appends are written in pieces of this size.
constexpr std::size_t kOutputBufferBytes = std::size_t{1} << 20;

}  // namespace

void RemoveUncommittedOutputs() {
  for (OutputSlot& slot : g_outputs) {
    if (slot.live.load()) ::unlink(slot.path);
  }
}

OutputWriter::~OutputWriter() { Discard(); }

absl::Status OutputWriter::Open(const std::string& path) {
  STRATA_CHECK(fd_ < 0 && path_.empty(), "OutputWriter::Open is called once");
  path_ = path;
  target_ = Target(path);
  // A name of its own (O_EXCL), so no file of the user's is touched; mode
  // 0666 under the umask, as a plain open would make it.
  static std::atomic<int> counter{0};
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    tmp_ = fmt::format("{}.strata-tmp-{}-{}", target_, ::getpid(), counter++);
    // Listed before it exists, so that no signal finds it unlisted.
    slot_ = ClaimSlot(tmp_);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      ReleaseSlot(slot_);
      slot_ = -1;
    }
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    tmp_.clear();
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot write this file (expected a writable path)", path));
  }
  return absl::OkStatus();
}

void OutputWriter::Append(std::string_view text) {
  if (fd_ < 0 || failed_) return;
  if (buffer_.size() + text.size() < kOutputBufferBytes) {
    buffer_.append(text);
    return;
  }
  // A large piece is written as it is, not copied.
  if (!Flush() || !WriteAll(fd_, text)) failed_ = true;
}

bool OutputWriter::Flush() {
  const bool written = WriteAll(fd_, buffer_);
  buffer_.clear();
  return written;
}

absl::Status OutputWriter::Commit() {
  STRATA_CHECK(fd_ >= 0, "OutputWriter::Commit without a file open");
  const bool written = !failed_ && Flush();
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!written || !closed) {
    Discard();
    return absl::InvalidArgumentError(fmt::format("{}: writing failed", path_));
  }
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0) {
    Discard();
    return absl::InvalidArgumentError(fmt::format("{}: cannot move the file into place", path_));
  }
  ReleaseSlot(slot_);
  slot_ = -1;
  tmp_.clear();
  return absl::OkStatus();
}

void OutputWriter::Discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // Removed while still listed: no signal between the two finds it unlisted.
  if (!tmp_.empty()) std::remove(tmp_.c_str());
  ReleaseSlot(slot_);
  slot_ = -1;
  tmp_.clear();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view text) {
  OutputWriter out;
  if (absl::Status s = out.Open(path); !s.ok()) return s;
  out.Append(text);
  return out.Commit();
}

absl::Status CheckWritable(const std::string& path, std::string_view flag) {
  if (path.empty()) return absl::OkStatus();
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}: is a directory (expected a file path)", path, flag));
  }
  // The rename that writes it would replace a device (/dev/null) or a FIFO.
  const std::string target = Target(path);
  if (std::filesystem::exists(target, error) && !std::filesystem::is_regular_file(target, error)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}: is not a regular file (expected a file path)", path, flag));
  }
  if (IsOwnOutput(target)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: {}: is the file this command prints to (expected a file of its own)", path, flag));
  }
  // A probe of its own name (mkstemp), so no file of the user's is touched.
  std::string probe = target + ".strata-probe-XXXXXX";
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}: cannot write this file (expected a path in a writable directory)",
                    path, flag));
  }
  ::close(fd);
  std::remove(probe.c_str());
  return absl::OkStatus();
}

std::vector<OutputFile> OutputsOf(const std::string& flag, const std::string& path) {
  if (path.empty()) return {};
  std::vector<OutputFile> out = {{path, flag}};
  if (flag == "--log") out.push_back({path + ".txt", "--log"});
  return out;
}

bool SameFile(const std::string& a, const std::string& b) { return Canonical(a) == Canonical(b); }

absl::Status CheckOutputs(std::span<const OutputFile> outputs,
                          std::span<const std::pair<std::string, std::string>> inputs) {
  std::vector<std::pair<std::string, const OutputFile*>> seen;
  for (const OutputFile& o : outputs) {
    if (o.path.empty()) continue;
    if (absl::Status s = CheckWritable(o.path, o.flag); !s.ok()) return s;
    const std::string canonical = Canonical(o.path);
    for (const auto& [input, what] : inputs) {
      if (!input.empty() && Canonical(input) == canonical) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: {}: is also {} (expected an output path of its own)", o.path, o.flag, what));
      }
    }
    for (const auto& [other, by] : seen) {
      if (other == canonical) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: {}: is also {}'s file {} (expected an output path of its own)", o.path, o.flag,
            by->flag, by->path));
      }
    }
    seen.emplace_back(canonical, &o);
  }
  return absl::OkStatus();
}

}  // namespace strata::boot
