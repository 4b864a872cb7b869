#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "machine/check.h"
#include "machine/oracle.h"
#include "machine/rng.h"

namespace strata::machine {
namespace {

constexpr std::array<std::pair<OracleKind, std::string_view>, 4> kKindNames = {{
    {OracleKind::kRoundRobin, "round-robin"},
    {OracleKind::kRandom, "random"},
    {OracleKind::kPct, "pct"},
    {OracleKind::kReplay, "replay"},
}};

// The next runnable CPU after the last one, cyclically.
class RoundRobin final : public Oracle {
 public:
  std::string Describe() const override { return "round-robin"; }
  CpuId Pick(const Decision& d) override {
    // Usually every CPU is runnable, so the next one sits at its own index
    // (the list is sorted and distinct, so runnable[i] == i means 0..i are all
    // there); otherwise search.
    const auto next = static_cast<std::size_t>(d.last.value() + 1);
    if (next < d.runnable.size() && d.runnable[next].index() == next) return d.runnable[next];
    auto it = std::upper_bound(d.runnable.begin(), d.runnable.end(), d.last);
    return it == d.runnable.end() ? d.runnable.front() : *it;
  }
};

class Random final : public Oracle {
 public:
  explicit Random(std::uint64_t seed) : seed_(seed), rng_(seed) {}
  std::string Describe() const override { return fmt::format("random (seed {})", seed_); }
  CpuId Pick(const Decision& d) override {
    return d.runnable[rng_.Below(d.runnable.size())];
  }

 private:
  std::uint64_t seed_;
  Rng rng_;
};

// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): CPUs get
// distinct random priorities >= depth; the highest-priority runnable CPU runs;
// at each of depth-1 random change points the running CPU drops to a priority
// below every initial one. Finds any bug of depth d with probability at least
// 1/(n * k^(d-1)) per run. With horizon 0 (not known yet) it draws no
// change points.
class Pct final : public Oracle {
 public:
  Pct(std::uint64_t seed, int cpus, int depth, std::uint64_t horizon)
      : seed_(seed), depth_(depth), horizon_(horizon) {
    Rng rng(seed);
    priority_.resize(static_cast<std::size_t>(cpus));
    for (int i = 0; i < cpus; ++i) priority_[static_cast<std::size_t>(i)] = depth + i;
    for (std::size_t i = priority_.size(); i > 1; --i) {
      std::swap(priority_[i - 1], priority_[rng.Below(i)]);
    }
    while (change_points_.size() + 1 < static_cast<std::size_t>(depth) &&
           change_points_.size() < horizon) {
      std::uint64_t p = 1 + rng.Below(horizon);
      if (std::find(change_points_.begin(), change_points_.end(), p) == change_points_.end()) {
        change_points_.push_back(p);
      }
    }
    std::sort(change_points_.begin(), change_points_.end());
  }

  std::string Describe() const override {
    if (horizon_ == 0) {
      return fmt::format("pct (seed {}, depth {}, no horizon yet: no change points)", seed_, depth_);
    }
    return fmt::format("pct (seed {}, depth {}, horizon {})", seed_, depth_, horizon_);
  }
  bool wants_run_length() const override { return horizon_ == 0 && depth_ > 1; }

  CpuId Pick(const Decision& d) override {
    CpuId best = d.runnable.front();
    for (CpuId c : d.runnable) {
      if (priority_[c.index()] > priority_[best.index()]) best = c;
    }
    if (next_change_ < change_points_.size() && change_points_[next_change_] == d.step + 1) {
      priority_[best.index()] = depth_ - 2 - static_cast<int>(next_change_);
      ++next_change_;
    }
    return best;
  }

 private:
  std::uint64_t seed_;
  int depth_;
  std::uint64_t horizon_;
  std::vector<int> priority_;
  std::vector<std::uint64_t> change_points_;
  std::size_t next_change_ = 0;
};

class Replay final : public Oracle {
 public:
  Replay(std::vector<CpuId> choices, std::string source, bool may_end_early)
      : choices_(std::move(choices)), source_(std::move(source)), may_end_early_(may_end_early) {}

  std::string Describe() const override {
    return fmt::format("replay ({} steps from {})", choices_.size(), source_);
  }
  bool replays() const override { return true; }

  CpuId Pick(const Decision& d) override {
    if (d.step >= choices_.size()) {
      error_ = absl::InvalidArgumentError(fmt::format(
          "{}: schedule ends after {} steps, but cpus {} can still run (expected a schedule "
          "recorded from this config)",
          source_, choices_.size(), fmt::join(Values(d.runnable), ",")));
      return CpuId();
    }
    CpuId c = choices_[d.step];
    if (!std::binary_search(d.runnable.begin(), d.runnable.end(), c)) {
      error_ = absl::InvalidArgumentError(fmt::format(
          "{}: schedule step {} names cpu {}, which cannot run there (expected one of {})",
          source_, d.step, c, fmt::join(Values(d.runnable), ",")));
      return CpuId();
    }
    return c;
  }

  absl::Status error() const override { return error_; }

  absl::Status Finish(std::uint64_t steps) override {
    if (steps < choices_.size() && !may_end_early_) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the run ended after {} steps but the schedule has {} (expected a schedule "
          "recorded from this config)",
          source_, steps, choices_.size()));
    }
    return absl::OkStatus();
  }

 private:
  static std::vector<int> Values(std::span<const CpuId> cpus) {
    std::vector<int> v;
    for (CpuId c : cpus) v.push_back(c.value());
    return v;
  }

  std::vector<CpuId> choices_;
  std::string source_;
  bool may_end_early_ = false;
  absl::Status error_;
};

}  // namespace

std::string_view OracleKindName(OracleKind k) {
  for (const auto& [kind, name] : kKindNames) {
    if (kind == k) return name;
  }
  return "?";
}

std::optional<OracleKind> ParseOracleKind(std::string_view name) {
  for (const auto& [kind, n] : kKindNames) {
    if (n == name) return kind;
  }
  return std::nullopt;
}

std::string_view OracleKindNames() { return "round-robin, random, pct, replay"; }

std::unique_ptr<Oracle> MakeOracle(const OracleOptions& o) {
  STRATA_CHECK(o.cpus >= 1 && o.pct_depth >= 1, "unvalidated oracle options");
  switch (o.kind) {
    case OracleKind::kRoundRobin:
      return std::make_unique<RoundRobin>();
    case OracleKind::kRandom:
      return std::make_unique<Random>(o.seed);
    case OracleKind::kPct:
      return std::make_unique<Pct>(o.seed, o.cpus, o.pct_depth, o.pct_horizon);
    case OracleKind::kReplay:
      return std::make_unique<Replay>(o.replay, o.replay_source, o.replay_may_end_early);
  }
  STRATA_CHECK(false, "unknown oracle kind");
  return nullptr;
}

}  // namespace strata::machine
