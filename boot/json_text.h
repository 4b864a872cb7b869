// JSON text for strata's outputs (--json, --witness): one line, and bytes
// that are not UTF-8 (a path from the command line, a user module's
// exception message) replaced instead of making the writer throw.
#ifndef STRATA_BOOT_JSON_TEXT_H_
#define STRATA_BOOT_JSON_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "machine/log.h"

namespace strata::boot {

inline std::string JsonText(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// A path, or null for none ("").
inline nlohmann::ordered_json PathOrNull(const std::string& path) {
  return path.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(path);
}

// A failure's first bad event as {seq, event, where}, or null for none (or
// one past the log's end).
inline nlohmann::ordered_json FirstBadJson(const machine::Log& log, std::optional<std::uint64_t> seq) {
  if (!seq || *seq >= log.size()) return nlohmann::ordered_json();
  const auto i = static_cast<std::size_t>(*seq);
  return {{"seq", i}, {"event", log.RenderText(log[i])}, {"where", machine::FormatWhere(log.where(i))}};
}

}  // namespace strata::boot

#endif  // STRATA_BOOT_JSON_TEXT_H_
