// Error plumbing shared by every folder. Abseil 20220623 has neither absl/log
// nor status macros, so strata keeps its own three:
//   STRATA_CHECK(cond, fmt, args...)   a simulator invariant; aborts with a message
//   STRATA_RETURN_IF_ERROR(expr)       returns a non-OK absl::Status
//   STRATA_ASSIGN_OR_RETURN(lhs, expr) unwraps an absl::StatusOr or returns its error
// What the user or the simulated code can cause is an absl::Status, never a
// STRATA_CHECK.
#ifndef STRATA_MACHINE_CHECK_H_
#define STRATA_MACHINE_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* cond,
                                     const std::string& message) {
  std::fprintf(stderr, "strata: internal error at %s:%d: check `%s` failed: %s\n", file, line,
               cond, message.c_str());
  std::abort();
}
}  // namespace strata::internal

#define STRATA_CHECK(cond, ...)                                                    \
  do {                                                                             \
    if (!(cond)) [[unlikely]] {                                                    \
      ::strata::internal::CheckFailed(__FILE__, __LINE__, #cond,                   \
                                      ::fmt::format(__VA_ARGS__));                 \
    }                                                                              \
  } while (false)

#define STRATA_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::absl::Status strata_status_ = (expr);   \
    if (!strata_status_.ok()) return strata_status_; \
  } while (false)

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)
#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL_(STRATA_CONCAT_(strata_statusor_, __LINE__), lhs, expr)
#define STRATA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

#endif  // STRATA_MACHINE_CHECK_H_
