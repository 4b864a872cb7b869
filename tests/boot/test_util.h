// Helpers for the boot tests: temporary files and running the strata binary.
#ifndef STRATA_TESTS_BOOT_TEST_UTIL_H_
#define STRATA_TESTS_BOOT_TEST_UTIL_H_

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <sys/wait.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "boot/catalog.h"
#include "boot/config.h"

namespace strata::testing {

// strata's own catalog, as the `strata` binary has it.
inline const boot::Catalog& Builtin() {
  static const boot::Catalog catalog = boot::BuiltinCatalog();
  return catalog;
}

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("strata-test-{}-{}", ::getpid(), counter++);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(File(name)) << text;
    return File(name);
  }
  std::string Read(const std::string& name) const { return ReadFile(File(name)); }
  static std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  const std::filesystem::path& path() const { return path_; }
  // How many regular files (or links to one) the folder holds.
  int Files() const {
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(path_)) files += e.is_regular_file();
    return files;
  }

 private:
  std::filesystem::path path_;
};

inline std::string Source(const std::string& relative) {
  return std::string(STRATA_SOURCE_DIR) + "/" + relative;
}

struct Command {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the strata binary with `args` (a shell-quoted string) in `cwd`,
// after `prefix` ("timeout -s INT 1 ": a command that runs it).
inline Command RunStrata(const std::string& args, const std::string& cwd,
                         const std::string& prefix = "") {
  std::string err_file = cwd + "/.stderr";
  std::string cmd =
      fmt::format("cd '{}' && {}'{}' {} 2>'{}'", cwd, prefix, STRATA_BINARY, args, err_file);
  Command c;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.out.append(buf, n);
  int status = ::pclose(p);
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err_file);
  // ASan warns once per process that it cannot follow swapcontext fully;
  // that line is the sanitizer's, not ours.
  for (std::string line; std::getline(in, line);) {
    if (line.find("ASan doesn't fully support makecontext/swapcontext") != std::string::npos) continue;
    c.err += line + "\n";
  }
  std::filesystem::remove(err_file);
  return c;
}

// True for a config whose environment only `strata check` runs against
// (env.kind random, adversarial): a check scenario, not a boot one.
inline bool IsCheckOnly(const std::string& path) {
  auto c = boot::LoadConfig(path, Builtin());
  if (!c.ok()) return false;
  const auto* env = Builtin().environments.Find(c->env);
  return env != nullptr && !env->make.make;
}

// The first log hash `out` prints ("log hash 3f2a..."). REQUIREs one.
inline std::string HashIn(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("log hash ([0-9a-f]{16})")));
  return m[1];
}

}  // namespace strata::testing

#endif  // STRATA_TESTS_BOOT_TEST_UTIL_H_
