#include "boot/schedule_file.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "boot/host_limits.h"
#include "boot/keys.h"
#include "sched/stack.h"
#include "layers/refinement.h"
#include "machine/check.h"
#include "machine/log.h"
#include "machine/schedule.h"

namespace strata::boot {
namespace {

// The first line WriteScheduleFile writes, up to the path.
constexpr std::string_view kScheduleHeader = "# strata schedule: ";

absl::Status KeyError(const std::string& path, const toml::node* node, std::string_view key,
                      std::string_view what) {
  if (node != nullptr && node->source().begin) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: schedule.{}: {}", path, node->source().begin.line, key, what));
  }
  return absl::InvalidArgumentError(fmt::format("{}: schedule.{}: {}", path, key, what));
}

bool IsStrataSchedule(const std::string& path) {
  std::ifstream in(path);
  std::string first;
  return std::getline(in, first) && first.starts_with(kScheduleHeader);
}

// A schedule file keeps its config's paths as they were resolved (from
// the folder the command ran in): absolute, so that it replays from any
// folder.
Config WithAbsolutePaths(Config c) {
  std::error_code error;
  if (!c.recording.empty()) {
    const std::filesystem::path absolute = std::filesystem::absolute(c.recording, error);
    if (!error) c.recording = absolute.lexically_normal().string();
  }
  return c;
}

}  // namespace

absl::Status WriteScheduleFile(const std::string& path, const ScheduleFile& file) {
  std::string text = fmt::format(
      "{}replay with `strata replay {}`\n\n{}\n"
      "[schedule]\nformat = 1\n{}outcome = \"{}\"\nlog_hash = \"{}\"\nsteps = {}\nchoices = \"{}\"\n",
      kScheduleHeader, path, ConfigToToml(WithAbsolutePaths(file.config)),
      file.layer.empty() ? ""
                         : fmt::format("layer = \"{}\"\nclient_seed = \"{}\"\n", file.layer,
                                       machine::FormatHash(file.config.machine.client_seed)),
      file.layer.empty() ? std::string(machine::OutcomeName(file.outcome)) : file.verdict,
      machine::FormatHash(file.log_hash), file.choices.size(),
      machine::EncodeChoices(file.choices));
  return WriteFileAtomically(path, text);
}

std::string DerivedSchedulePath(const Config& c, std::string_view what, std::span<const std::string> taken) {
  const std::string stem = c.source.empty() ? "config" : std::filesystem::path(c.source).stem().string();
  const std::string base = fmt::format("strata-{}-{}-seed{}", stem, what, c.seed);
  for (int n = 1;; ++n) {
    std::string path = n == 1 ? base + ".schedule" : fmt::format("{}-{}.schedule", base, n);
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error) || std::filesystem::is_symlink(path, error);
    bool is_taken = false;
    for (const std::string& t : taken) {
      if (!t.empty() && SameFile(t, path)) is_taken = true;
    }
    if (!is_taken && (!exists || (std::filesystem::is_regular_file(path, error) && IsStrataSchedule(path)))) {
      return path;
    }
  }
}

absl::Status WriteScheduleAndSay(const std::string& path, const ScheduleFile& file, std::FILE* out) {
  STRATA_RETURN_IF_ERROR(WriteScheduleFile(path, file));
  fmt::print(out, "  schedule   written to {}\n  replay     strata replay {}\n", path, path);
  return absl::OkStatus();
}

bool WriteFailureSchedule(const std::string& path, const ScheduleFile& file, std::FILE* out) {
  if (absl::Status s = WriteScheduleAndSay(path, file, out); !s.ok()) {
    fmt::print(out, "  schedule   NOT written (--schedule FILE writes it elsewhere): {}\n", std::string(s.message()));
    return false;
  }
  return true;
}

std::string DivergedLine(std::string_view recorded, std::uint64_t recorded_hash, std::string_view got,
                         std::uint64_t got_hash) {
  return fmt::format(
      "  replay     DIVERGED: recorded {} with log hash {}, replay gave {} with {} (the file was "
      "edited, or the simulated code is nondeterministic or changed since it was written)\n",
      recorded, machine::FormatHash(recorded_hash), got, machine::FormatHash(got_hash));
}

absl::StatusOr<ScheduleFile> LoadScheduleFile(const std::string& path, const Catalog& catalog) {
  STRATA_ASSIGN_OR_RETURN(
      const std::string text,
      ReadInputFile(path, "the schedule file (expected a schedule file strata wrote)"));
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: malformed TOML: {}", path,
                                                  e.source().begin.line, e.source().begin.column,
                                                  e.description()));
  }
  ScheduleFile file;
  STRATA_ASSIGN_OR_RETURN(file.config, ParseConfig(root, path, /*allow_schedule=*/true, catalog));
  STRATA_RETURN_IF_ERROR(ValidateConfig(file.config, catalog));

  const toml::table* s = root["schedule"].as_table();
  if (s == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: schedule: missing [schedule] table (expected a schedule file, not a config)", path));
  }
  for (const auto& [key, node] : *s) {
    std::string_view k = key.str();
    if (k != "format" && k != "layer" && k != "client_seed" && k != "outcome" && k != "log_hash" &&
        k != "steps" && k != "choices") {
      return KeyError(path, &node, k,
                      "unknown key (expected one of: format, layer, client_seed, outcome, "
                      "log_hash, steps, choices)");
    }
  }
  auto required = [&](std::string_view key, toml::node_type type,
                      std::string_view expected) -> absl::StatusOr<const toml::node*> {
    const toml::node* node = s->get(key);
    if (node == nullptr) return KeyError(path, s, key, fmt::format("missing (expected {})", expected));
    if (node->type() != type) return KeyError(path, node, key, fmt::format("expected {}", expected));
    return node;
  };

  STRATA_ASSIGN_OR_RETURN(const toml::node* format, required("format", toml::node_type::integer, "1"));
  if (format->as_integer()->get() != 1) return KeyError(path, format, "format", "expected 1");

  if (const toml::node* layer = s->get("layer")) {
    if (!layer->is_string() || sched::MakePair(layer->as_string()->get(), file.config.stack, catalog) == nullptr) {
      return KeyError(path, layer, "layer",
                      fmt::format("expected one of {}", sched::LayerNames()));
    }
    file.layer = layer->as_string()->get();
  }
  STRATA_ASSIGN_OR_RETURN(const toml::node* outcome,
                          required("outcome", toml::node_type::string, "an outcome name"));
  const std::string& name = outcome->as_string()->get();
  if (!file.layer.empty()) {
    const auto parsed = machine::ParseOutcome(name);
    if (!parsed || !machine::IsCheckVerdict(*parsed)) {
      return KeyError(path, outcome, "outcome",
                      fmt::format("expected a check verdict (refines, impossible-upper-log, ..., "
                                  "or a run failure like deadlock), got \"{}\"",
                                  name));
    }
    file.verdict = name;
  } else {
    auto parsed = machine::ParseOutcome(name);
    if (!parsed || !machine::IsRunOutcome(*parsed)) {
      return KeyError(path, outcome, "outcome",
                      fmt::format("expected an outcome like \"ok\" or \"deadlock\", got \"{}\"",
                                  name));
    }
    file.outcome = *parsed;
  }

  auto hex = [&](const toml::node* node, std::string_view key) -> absl::StatusOr<std::uint64_t> {
    const std::string& h = node->as_string()->get();
    if (h.size() != 16 || h.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return KeyError(path, node, key, fmt::format("expected 16 hex digits, got \"{}\"", h));
    }
    return std::stoull(h, nullptr, 16);
  };
  STRATA_ASSIGN_OR_RETURN(const toml::node* hash,
                          required("log_hash", toml::node_type::string, "16 hex digits"));
  STRATA_ASSIGN_OR_RETURN(file.log_hash, hex(hash, "log_hash"));
  // The seed of the check client's own choices (absent: 0).
  if (s->get("client_seed") != nullptr) {
    STRATA_ASSIGN_OR_RETURN(const toml::node* seed,
                            required("client_seed", toml::node_type::string, "16 hex digits"));
    STRATA_ASSIGN_OR_RETURN(file.config.machine.client_seed, hex(seed, "client_seed"));
  }

  STRATA_ASSIGN_OR_RETURN(const toml::node* steps,
                          required("steps", toml::node_type::integer, "a step count"));
  // A run makes at most run.max_steps choices; checked before the choices
  // are expanded, which then stop at `steps`.
  const std::int64_t n = steps->as_integer()->get();
  const auto max_steps = static_cast<std::int64_t>(file.config.machine.max_steps);
  if (std::optional<std::string> wrong = OutOfRange(n, 0, max_steps)) {
    return KeyError(path, steps, "steps", fmt::format("{} (run.max_steps)", *wrong));
  }
  HostDemand held;
  held.source = path;
  held.steps = n;
  STRATA_RETURN_IF_ERROR(CheckHostLimits(held, ReadHostLimits()));

  STRATA_ASSIGN_OR_RETURN(const toml::node* choices,
                          required("choices", toml::node_type::string, "a string of cpu ids"));
  auto decoded = machine::DecodeChoices(choices->as_string()->get(), file.config.machine.cpus,
                                        static_cast<std::size_t>(n));
  if (!decoded.ok()) return KeyError(path, choices, "choices", std::string(decoded.status().message()));
  if (static_cast<std::int64_t>(decoded->size()) != n) {
    return KeyError(path, choices, "choices",
                    fmt::format("holds {} steps but `steps` says {} (truncated or edited file?)",
                                decoded->size(), n));
  }
  file.choices = std::move(*decoded);
  return file;
}

}  // namespace strata::boot
