// The config keys, described once. One table drives config parsing and
// validation (ParseConfig), the TOML a schedule file embeds (ConfigToToml),
// command-line overrides (--cpus, --lock, ...: ApplyFlag) and the README's
// key table (`strata docs`). A key that names an implementation or a
// workload takes its choices from the catalog.
#ifndef STRATA_BOOT_KEYS_H_
#define STRATA_BOOT_KEYS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "boot/catalog.h"

namespace strata::boot {

struct Config;

// Which commands take a key's command-line flag.
enum Command : unsigned {
  kBootCommand = 1,
  kCheckCommand = 2,
  kTLinkCommand = 4,
  kComposeCommand = 8,
};

struct Key {
  enum class Type { kInt, kString, kBool };

  std::string table;    // "machine"
  std::string key;      // "cpus"
  Type type = Type::kInt;
  std::string meaning;  // one line, for the README and --help
  // The command-line flag that overrides it ("--cpus"; "" = none) and the
  // commands that take it. A bool's flag sets it to the opposite of its
  // default (--no-shrink).
  std::string flag;
  unsigned commands = 0;
  std::int64_t lo = 0, hi = 0;  // kInt: the accepted range
  // kString: the names it accepts ("" = any) and whether `value` is one.
  std::function<std::string(const Catalog&)> names;
  std::function<bool(const Catalog&, const std::string&)> known;
  std::string hint;  // appended to the error for an unknown name
  // The check.strategy values its flag applies to, "dfs, portfolio" ("" =
  // every strategy): the flag with another strategy is an error.
  std::string strategies;
  // True if a run replayed from its schedule does not depend on it: how
  // the schedule is chosen (oracle.kind, the PCT keys), the env and check
  // tables. A recording of a config is a recording of any config that
  // differs from it only in such keys.
  bool replay_ignores = false;
  // kString: the value is a file's path. A relative path in a config file
  // is relative to that file's folder (ParseConfig resolves it); on the
  // command line, to the working directory.
  bool is_path = false;
  // The value in a config, as an integer, a string or a bool.
  std::function<std::int64_t(const Config&)> get_int;
  std::function<void(Config&, std::int64_t)> set_int;
  std::function<std::string(const Config&)> get_string;
  std::function<void(Config&, const std::string&)> set_string;
  std::function<bool(const Config&)> get_bool;
  std::function<void(Config&, bool)> set_bool;

  std::string name() const { return table + "." + key; }
  // "an integer from 1 to 1024", "a string", "one of spec, ticket, ...".
  std::string Expected(const Catalog& catalog) const;
  // The value as TOML: 4, "ticket", true.
  std::string Toml(const Config& c) const;
};

// Every key, in table order: machine, oracle, run, workload, stack, check.
const std::vector<Key>& Keys();
// The tables, in order.
std::vector<std::string> KeyTables();

// The one range check of integers read from the user: config keys (SetInt),
// command-line flags (ApplyFlag) and the numbers of a schedule file. nullopt,
// or "expected an integer from LO to HI, got VALUE".
std::optional<std::string> OutOfRange(std::int64_t value, std::int64_t lo, std::int64_t hi);

// Checks `value` against `k` and stores it: nullopt, or what is wrong in the
// words of an error message ("expected an integer from 1 to 1024, got 0").
std::optional<std::string> SetInt(const Key& k, const Catalog& catalog, Config& c,
                                  std::int64_t value);
std::optional<std::string> SetString(const Key& k, const Catalog& catalog, Config& c,
                                     const std::string& value);

// Applies the command-line value `text` of `k`'s flag to `c`. Errors are
// "--cpus: expected an integer from 1 to 1024, got \"0x\"".
absl::Status ApplyFlag(const Key& k, const Catalog& catalog, const std::string& text, Config& c);

// The README's key table (Markdown): key, default, meaning, flag.
std::string KeyTableMarkdown(const Catalog& catalog);

}  // namespace strata::boot

#endif  // STRATA_BOOT_KEYS_H_
