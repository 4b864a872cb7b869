// The dfs strategy: every schedule, stateless (each execution re-runs from
// the start along a prefix), optionally preemption-bounded, with sleep-set
// reduction: after exploring CPU p at a node, p sleeps in the sibling
// subtrees until a step dependent on p's pending step runs, so two
// schedules that differ only in the order of independent steps are explored
// once. Steps are dependent when they touch the same object and are not
// both reads. Under the fairness guard only F-fair schedules are explored.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "layers/strategy.h"
#include "machine/check.h"
#include "machine/machine.h"

namespace strata::layers {
namespace {

using machine::CpuId;
using machine::Decision;
using machine::Oracle;
using machine::PendingStep;

bool Contains(const std::vector<CpuId>& v, CpuId c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

bool Dependent(const PendingStep& a, const PendingStep& b) {
  return a.object == b.object && !(a.read_only && b.read_only);
}

// The dfs search tree along the current path. Each execution replays the
// path's choices and extends it with first choices; Backtrack moves to the
// next unexplored branch.
class DfsTree {
 public:
  DfsTree(bool reduction, int preemption_bound)
      : reduction_(reduction), preemption_bound_(preemption_bound) {}

  struct Node {
    std::vector<CpuId> enabled;
    std::vector<PendingStep> pending;  // parallel to enabled
    std::vector<CpuId> done;           // explored choices
    std::vector<CpuId> sleep;          // asleep on entry
    CpuId chosen;
    CpuId last;                        // who took the previous step
    int preemptions = 0;               // on the path before this node
    bool forced = false;               // the fairness guard chose
  };

  // The choice at `d`, or none when the execution is pruned (every enabled
  // CPU is asleep or would exceed the preemption bound).
  CpuId Pick(const Decision& d) {
    const std::size_t depth = d.step;
    if (depth < path_.size()) {
      STRATA_CHECK(std::binary_search(d.runnable.begin(), d.runnable.end(), path_[depth].chosen),
                   "dfs replay diverged at step {} (nondeterministic module?)", depth);
      return path_[depth].chosen;
    }
    Node n;
    n.enabled.assign(d.runnable.begin(), d.runnable.end());
    for (CpuId c : n.enabled) n.pending.push_back(d.machine->pending(c));
    n.last = d.last;
    if (!path_.empty()) {
      const Node& parent = path_.back();
      n.preemptions = parent.preemptions + (Preempts(parent, parent.chosen) ? 1 : 0);
      if (reduction_) {
        const PendingStep& ran = parent.pending[Index(parent, parent.chosen)];
        for (const auto* set : {&parent.sleep, &parent.done}) {
          for (CpuId s : *set) {
            if (s == parent.chosen || Contains(n.sleep, s)) continue;
            // A sleeper stays asleep while independent steps run; it wakes
            // (and leaves the set) if it is no longer enabled here.
            if (Contains(n.enabled, s) && !Dependent(parent.pending[Index(parent, s)], ran)) {
              n.sleep.push_back(s);
            }
          }
        }
      }
    }
    if (d.overdue.valid()) {
      n.forced = true;
      n.chosen = d.overdue;
    } else {
      for (CpuId c : n.enabled) {
        if (Allowed(n, c)) {
          n.chosen = c;
          break;
        }
      }
    }
    if (!n.chosen.valid()) {
      ++pruned_;
      return CpuId();
    }
    path_.push_back(std::move(n));
    return path_.back().chosen;
  }

  // Moves to the next branch; false when the space is exhausted.
  bool Backtrack() {
    while (!path_.empty()) {
      Node& n = path_.back();
      n.done.push_back(n.chosen);
      if (!n.forced) {
        for (CpuId c : n.enabled) {
          if (Contains(n.done, c)) continue;
          if (Allowed(n, c)) {
            n.chosen = c;
            return true;
          }
          if (Contains(n.sleep, c)) ++pruned_;
        }
      }
      path_.pop_back();
    }
    return false;
  }

  std::uint64_t pruned() const { return pruned_; }

  // Knuth's estimate of the explored fraction of the tree, from the path:
  // the subtrees left of the path, each taken to be as large as its
  // siblings (a node's share of its parent's is 1 / its branching: the
  // children it explores, not those asleep or over the preemption bound).
  double Covered() const {
    double covered = 0, share = 1;
    for (const Node& n : path_) {
      std::size_t branches = 1;
      if (!n.forced) {
        branches = static_cast<std::size_t>(
            std::count_if(n.enabled.begin(), n.enabled.end(), [&](CpuId c) { return Allowed(n, c); }));
        branches = std::max(branches, n.done.size() + 1);
      }
      covered += share * static_cast<double>(n.done.size()) / static_cast<double>(branches);
      share /= static_cast<double>(branches);
    }
    return covered;
  }

 private:
  static std::size_t Index(const Node& n, CpuId c) {
    return static_cast<std::size_t>(std::find(n.enabled.begin(), n.enabled.end(), c) -
                                    n.enabled.begin());
  }
  static bool Preempts(const Node& n, CpuId c) {
    return n.last.valid() && c != n.last && Contains(n.enabled, n.last);
  }
  bool Allowed(const Node& n, CpuId c) const {
    if (Contains(n.sleep, c)) return false;
    if (preemption_bound_ >= 0 && Preempts(n, c) && n.preemptions + 1 > preemption_bound_) {
      return false;
    }
    return true;
  }

  bool reduction_;
  int preemption_bound_;
  std::vector<Node> path_;
  std::uint64_t pruned_ = 0;
};

class DfsOracle final : public Oracle {
 public:
  explicit DfsOracle(DfsTree* tree) : tree_(tree) {}
  std::string Describe() const override { return "dfs"; }
  CpuId Pick(const Decision& d) override { return tree_->Pick(d); }
  absl::Status error() const override { return absl::CancelledError("pruned by sleep sets"); }

 private:
  DfsTree* tree_;
};


class DfsStrategy final : public Strategy {
 public:
  explicit DfsStrategy(const StrategyOptions& o)
      : seed_(o.seed),
        reduction_(o.reduction),
        preemption_bound_(o.preemption_bound),
        tree_(o.reduction, o.preemption_bound),
        oracle_(&tree_) {}
  Oracle& Next(std::uint64_t) override { return oracle_; }
  bool Advance() override { return tree_.Backtrack(); }
  bool exhaustive() const override { return true; }
  std::uint64_t skipped() const override { return tree_.pruned(); }
  std::optional<double> covered() const override { return tree_.Covered(); }
  // One client: the tree's executions must be runs of the same program.
  machine::MachineOptions MachineFor(const machine::MachineOptions& base) const override {
    machine::MachineOptions run = base;
    run.client_seed = seed_;
    return run;
  }
  std::string Describe() const override {
    std::string out = reduction_ ? "dfs (sleep-set reduction" : "dfs (no reduction";
    if (preemption_bound_ >= 0) out += fmt::format(", at most {} preemptions", preemption_bound_);
    return out + ")";
  }

 private:
  std::uint64_t seed_;
  bool reduction_;
  int preemption_bound_;
  DfsTree tree_;
  DfsOracle oracle_;
};

}  // namespace

std::unique_ptr<Strategy> MakeDfsStrategy(const StrategyOptions& options) {
  return std::make_unique<DfsStrategy>(options);
}

void AddBuiltinStrategies(StrategyRegistry& strategies) {
  strategies.Add({"random", "independent runs under one seeded random oracle", false, "",
                  MakeRandomStrategy});
  strategies.Add({"pct", "runs under PCT (depth d), run i seeded seed + i", false, "",
                  MakePctStrategy});
  strategies.Add({"dfs", "every F-fair schedule, with sleep-set reduction (runs = a cap)", false,
                  "", MakeDfsStrategy});
  strategies.Add({"portfolio",
                  "the runs shared in turn between random, pct (depths 2-4), dfs (2 preemptions) "
                  "and, where the layer has a rely, random and adversarial environments; names "
                  "the member that found a failure",
                  false, "", MakePortfolioStrategy});
}

StrategyRegistry BuiltinStrategies() {
  StrategyRegistry r("strategy");
  AddBuiltinStrategies(r);
  return r;
}

StrategyFactory BuiltinStrategy(const std::string& name) {
  const StrategyRegistry r = BuiltinStrategies();
  const auto* e = r.Find(name);
  STRATA_CHECK(e != nullptr, "no built-in strategy {}", name);
  return e->make;
}

}  // namespace strata::layers
