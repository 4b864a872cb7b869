// The bytes of the messages ranks send each other in a sharded exploration
// (layers/shard.h): a writer and a reader of unsigned and signed varints,
// flags and strings. The reader never reads past its input: a malformed
// message makes it !ok() and every later read returns zero or empty.
#ifndef STRATA_LAYERS_WIRE_H_
#define STRATA_LAYERS_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "machine/event.h"
#include "machine/ids.h"

namespace strata::layers {

class WireWriter {
 public:
  WireWriter& U(std::uint64_t v);
  WireWriter& I(std::int64_t v);  // zigzag
  WireWriter& B(bool v) { return U(v ? 1 : 0); }
  WireWriter& S(std::string_view v);
  const std::string& bytes() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  std::uint64_t U();
  std::int64_t I();
  bool B() { return U() != 0; }
  std::string S();
  // A count of items that each take at least one byte: at most what is
  // left, so that a malformed count cannot make the caller allocate much.
  std::size_t Count();
  bool ok() const { return ok_; }
  // Everything was read and nothing was malformed.
  bool done() const { return ok_ && at_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// A cpu, and a list of them (a schedule, a node's enabled cpus), as dfs
// parts and rank results carry them.
void PutCpu(WireWriter& out, machine::CpuId c);
machine::CpuId GetCpu(WireReader& in);
void PutCpus(WireWriter& out, const std::vector<machine::CpuId>& cpus);
std::vector<machine::CpuId> GetCpus(WireReader& in);

// The event kind called `name`. Kinds hold their name as a pointer to
// static text; a kind read from a message gets one from a table of names
// kept for the life of the process (a few dozen).
machine::EventKind InternKind(std::string_view name);

}  // namespace strata::layers

#endif  // STRATA_LAYERS_WIRE_H_
