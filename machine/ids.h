// Small strong id types for the simulated machine: CPUs, kernel threads and
// shared objects. An id is a non-negative index; a default-constructed id is
// "none" and formats as "-". Ids of different kinds never convert into each
// other, so a CpuId cannot be passed where an ObjectId is expected.
#ifndef STRATA_MACHINE_IDS_H_
#define STRATA_MACHINE_IDS_H_

#include <compare>
#include <cstdint>

#include <fmt/format.h>

namespace strata::machine {

template <class Tag>
class StrongId {
 public:
  using Rep = std::int32_t;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}

  constexpr Rep value() const { return value_; }
  constexpr bool valid() const { return value_ >= 0; }
  // The id as an index into a vector; only for valid ids.
  constexpr std::size_t index() const { return static_cast<std::size_t>(value_); }

  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  Rep value_ = -1;
};

struct CpuTag {};
struct ThreadTag {};
struct ObjectTag {};
using CpuId = StrongId<CpuTag>;
using ThreadId = StrongId<ThreadTag>;
using ObjectId = StrongId<ObjectTag>;

}  // namespace strata::machine

template <class Tag>
struct fmt::formatter<strata::machine::StrongId<Tag>> : fmt::formatter<int> {
  template <class Ctx>
  auto format(strata::machine::StrongId<Tag> id, Ctx& ctx) const {
    if (!id.valid()) return fmt::format_to(ctx.out(), "-");
    return fmt::formatter<int>::format(id.value(), ctx);
  }
};

#endif  // STRATA_MACHINE_IDS_H_
