// JSON text for strata's outputs (--json, --witness): one line, and bytes
// that are not UTF-8 (a path from the command line, a user module's
// exception message) replaced instead of making the writer throw.
#ifndef STRATA_BOOT_JSON_TEXT_H_
#define STRATA_BOOT_JSON_TEXT_H_

#include <string>

#include <nlohmann/json.hpp>

namespace strata::boot {

inline std::string JsonText(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// A path, or null for none ("").
inline nlohmann::ordered_json PathOrNull(const std::string& path) {
  return path.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(path);
}

}  // namespace strata::boot

#endif  // STRATA_BOOT_JSON_TEXT_H_
