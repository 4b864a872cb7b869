#include "layers/wire.h"

#include <mutex>
#include <set>

namespace strata::layers {

WireWriter& WireWriter::U(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
  return *this;
}

WireWriter& WireWriter::I(std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  return U((u << 1) ^ (v < 0 ? ~std::uint64_t{0} : 0));
}

WireWriter& WireWriter::S(std::string_view v) {
  U(v.size());
  out_.append(v);
  return *this;
}

std::uint64_t WireReader::U() {
  std::uint64_t v = 0;
  for (int shift = 0; ok_; shift += 7) {
    if (at_ >= in_.size() || shift > 63) {
      ok_ = false;
      break;
    }
    const auto byte = static_cast<unsigned char>(in_[at_++]);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  return 0;
}

std::int64_t WireReader::I() {
  const std::uint64_t u = U();
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::string WireReader::S() {
  const std::uint64_t n = U();
  if (!ok_ || n > in_.size() - at_) {
    ok_ = false;
    return {};
  }
  std::string s(in_.substr(at_, n));
  at_ += n;
  return s;
}

std::size_t WireReader::Count() {
  const std::uint64_t n = U();
  if (!ok_ || n > in_.size() - at_) {
    ok_ = false;
    return 0;
  }
  return static_cast<std::size_t>(n);
}

void PutCpu(WireWriter& out, machine::CpuId c) { out.I(c.value()); }

machine::CpuId GetCpu(WireReader& in) { return machine::CpuId(static_cast<machine::CpuId::Rep>(in.I())); }

void PutCpus(WireWriter& out, const std::vector<machine::CpuId>& cpus) {
  out.U(cpus.size());
  for (machine::CpuId c : cpus) PutCpu(out, c);
}

std::vector<machine::CpuId> GetCpus(WireReader& in) {
  std::vector<machine::CpuId> cpus(in.Count());
  for (machine::CpuId& c : cpus) c = GetCpu(in);
  return cpus;
}

machine::EventKind InternKind(std::string_view name) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> names;
  const std::lock_guard<std::mutex> lock(mu);
  auto it = names.find(name);
  if (it == names.end()) it = names.emplace(name).first;
  return machine::EventKind(it->c_str());
}

}  // namespace strata::layers
