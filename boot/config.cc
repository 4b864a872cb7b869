#include "boot/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "boot/files.h"
#include "boot/keys.h"
#include "boot/workloads.h"
#include "kernel/lock.h"
#include "kernel/queue.h"
#include "machine/check.h"

namespace strata::boot {
namespace {

// Builds "FILE:LINE: key: message" errors for one parsed table.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  absl::Status Error(const toml::node* node, std::string_view key, std::string_view what) const {
    if (node != nullptr && node->source().begin) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}: {}", source_, node->source().begin.line, key, what));
    }
    return absl::InvalidArgumentError(fmt::format("{}: {}: {}", source_, key, what));
  }

  static std::string_view TypeName(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      default: return "a date or time";
    }
  }

 private:
  const std::string& source_;
};

// A path key's value in a config file, relative to the file's folder. A
// schedule file's embedded config keeps its values as they were resolved
// when it was written.
std::string ResolvePath(const Key& k, const std::string& source, bool schedule_file,
                        const std::string& value) {
  if (!k.is_path || schedule_file || value.empty()) return value;
  const std::filesystem::path p(value);
  if (p.is_absolute()) return value;
  return (std::filesystem::path(source).parent_path() / p).lexically_normal().string();
}

}  // namespace

absl::StatusOr<Config> ParseConfig(const toml::table& root, const std::string& source,
                                   bool allow_schedule, const Catalog& catalog) {
  Reader r(source);
  Config c;
  c.source = source;
  std::vector<std::string> tables = KeyTables();
  if (allow_schedule) tables.push_back("schedule");
  for (const auto& [name, node] : root) {
    if (std::find(tables.begin(), tables.end(), name.str()) == tables.end()) {
      return r.Error(&node, name.str(),
                     fmt::format("unknown key (expected one of: {})", fmt::join(tables, ", ")));
    }
    if (name.str() == "schedule") continue;  // schedule_file.cc reads it
    if (!node.is_table()) {
      return r.Error(&node, name.str(), fmt::format("expected a table like [{}]", name.str()));
    }
    for (const auto& [key, value] : *node.as_table()) {
      const Key* k = nullptr;
      std::vector<std::string> known;
      for (const Key& candidate : Keys()) {
        if (candidate.table != name.str()) continue;
        known.push_back(candidate.key);
        if (candidate.key == key.str()) k = &candidate;
      }
      const std::string full = fmt::format("{}.{}", name.str(), key.str());
      if (k == nullptr) {
        return r.Error(&value, full,
                       fmt::format("unknown key (expected one of: {})", fmt::join(known, ", ")));
      }
      std::optional<std::string> wrong;
      switch (k->type) {
        case Key::Type::kInt:
          if (!value.is_integer()) {
            wrong = fmt::format("expected {}, got {}", k->Expected(catalog), Reader::TypeName(value));
          } else {
            wrong = SetInt(*k, catalog, c, value.as_integer()->get());
          }
          break;
        case Key::Type::kString:
          if (!value.is_string()) {
            wrong = fmt::format("expected a string, got {}", Reader::TypeName(value));
          } else {
            wrong = SetString(*k, catalog, c, ResolvePath(*k, source, allow_schedule,
                                                          value.as_string()->get()));
          }
          break;
        case Key::Type::kBool:
          if (!value.is_boolean()) {
            wrong = fmt::format("expected true or false, got {}", Reader::TypeName(value));
          } else {
            k->set_bool(c, value.as_boolean()->get());
          }
          break;
      }
      if (wrong) return r.Error(&value, full, *wrong);
    }
  }
  return c;
}

sched::SchedOptions SchedOptionsFor(const Config& c) {
  // 0: room for every workload's threads (at most 2 (threads + 1) per CPU:
  // the general workload's, each with one child).
  const int auto_size = std::max(256, c.machine.cpus * 2 * (c.threads + 2));
  return {.impl = c.stack.sched,
          .lock = c.stack.lock,
          .queue = c.stack.queue,
          .tcb = c.stack.tcb,
          .max_threads = c.stack.max_threads != 0 ? c.stack.max_threads : auto_size,
          .stack_bytes = c.machine.stack_bytes};
}

absl::StatusOr<Config> LoadConfig(const std::string& path, const Catalog& catalog) {
  STRATA_ASSIGN_OR_RETURN(Config c, ReadConfig(path, catalog));
  STRATA_RETURN_IF_ERROR(ValidateConfig(c, catalog));
  return c;
}

absl::StatusOr<Config> ReadConfig(const std::string& path, const Catalog& catalog) {
  STRATA_ASSIGN_OR_RETURN(const std::string text,
                          ReadInputFile(path, "the config file (expected a TOML file)"));
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: malformed TOML: {}", path,
                                                  e.source().begin.line, e.source().begin.column,
                                                  e.description()));
  }
  return ParseConfig(table, path, /*allow_schedule=*/false, catalog);
}

absl::Status ValidateConfig(const Config& c, const Catalog& catalog) {
  if (c.machine.cpus < 1 || c.machine.cpus > machine::kMaxCpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: expected an integer from 1 to {}, got {}", c.source, machine::kMaxCpus,
        c.machine.cpus));
  }
  if (c.focus >= c.machine.cpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: env.focus: expected -1 (none) or a cpu below machine.cpus ({}), got {}", c.source,
        c.machine.cpus, c.focus));
  }
  const auto* env = catalog.environments.Find(c.env);
  if (env != nullptr && env->make.replays_recording && c.focus < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: env.focus: env.kind \"{}\" runs one cpu against the others: expected a cpu from 0 "
        "to {}, got none",
        c.source, c.env, c.machine.cpus - 1));
  }
  if (!c.recording.empty() && (env == nullptr || !env->make.replays_recording)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: env.recording: only a recorded environment replays a recording: expected env.kind "
        "recorded, got \"{}\"",
        c.source, c.env));
  }
  if (c.machine.fairness != 0 && c.machine.fairness < static_cast<std::uint64_t>(c.machine.cpus)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: oracle.fairness: expected 0 (auto) or at least machine.cpus ({}), got {}", c.source,
        c.machine.cpus, c.machine.fairness));
  }
  const std::optional<Workload> w = FindWorkload(catalog, c.workload);
  if (w && c.machine.cpus < w->min_cpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: workload \"{}\" needs at least {} cpus, got {}", c.source, c.workload,
        w->min_cpus, c.machine.cpus));
  }
  if (w && w->threaded) {
    // Every CPU keeps a pending queue as large as the TCB pool.
    const std::int64_t pool = SchedOptionsFor(c).max_threads;
    if (static_cast<std::int64_t>(c.machine.cpus) * (c.threads + 2) > 65536 ||
        static_cast<std::int64_t>(c.machine.cpus) * pool > (std::int64_t{1} << 22)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: workload.threads: {} threads per cpu on {} cpus (a TCB pool of {}) is more than "
          "this machine simulates (at most 65536 threads, cpus x pool at most 4194304)",
          c.source, c.threads, c.machine.cpus, pool));
    }
  }
  return absl::OkStatus();
}

std::string ConfigToToml(const Config& c) {
  std::string out;
  std::string table;
  for (const Key& k : Keys()) {
    if (k.table != table) {
      out += fmt::format("{}[{}]\n", table.empty() ? "" : "\n", k.table);
      table = k.table;
    }
    out += fmt::format("{} = {}\n", k.key, k.Toml(c));
  }
  return out;
}

}  // namespace strata::boot
