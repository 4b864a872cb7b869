// The dfs strategy: every schedule, stateless (each execution re-runs from
// the start along a prefix of the previous one), with one of three
// reductions (layers/strategy.h, Reduction):
//
// - none: every F-fair schedule; optionally preemption-bounded.
// - sleep: sleep sets. After exploring CPU p at a node, p sleeps in the
//   sibling subtrees until a step dependent on p's pending step runs, so two
//   schedules that differ only in the order of adjacent independent steps
//   are explored once; a branch whose every enabled CPU sleeps is pruned.
// - dpor: optimal DPOR (Abdulla, Aronis, Jonsson, Sagonas: source sets and
//   wakeup trees). After each execution every race (two dependent steps of
//   different CPUs, the first not ordered before the second by any other
//   step) is reversed: the steps that do not happen after the first one,
//   then the second, become a wakeup sequence at the first one's node,
//   unless a CPU asleep there, or a sequence already waiting there, covers
//   it. Nodes follow their wakeup trees; no other branch is ever taken. So
//   every equivalence class of schedules (Mazurkiewicz traces: orders of
//   independent steps swapped) is explored once, and no execution ends
//   blocked by its sleep set in a system without blocking steps.
//
// Dependency: two steps are dependent when they touch the same object and
// are not both reads (PendingStep::read_only). A blocking step (a CPU in
// Cpu::AwaitValue or an Op with `ready`) takes part as the read or write it
// performs when it runs; while it cannot run its CPU is not enabled. A race
// whose second step is such a step and whose CPU was blocked on it where
// the first ran is not reversed: `ready` depends only on the step's object,
// which no step of the reversal touches before it, so it could not run
// there. It could still have run before an earlier write that blocked it
// again after it was let go (a test-and-set spin: a release lets it go, the
// next acquire blocks it): the race with the last write before which it
// could run is reversed instead (ReverseBlocked). Whether it could run at
// an earlier node: on a word, with the word's value there set back
// (Machine::ReadyWith); on another object (the spec lock's WAIT_LOCK waits
// on the lock object), the node's enabled set says where the step was
// already its cpu's pending one, and before that it is not known, so the
// race is reversed anyway (CouldRunAt). A reversal that still
// proves impossible when followed (its CPU is not enabled, or the fairness
// guard runs another one) is dropped there and counted in skipped().
//
// Fairness: the guard (machine/fairness.h) overrules the oracle when a CPU
// is overdue; such a node has that one branch, and a reversal or wakeup
// sequence that needed another CPU there is cut (under sleep sets, any
// other CPU that could run there). F-fairness is a property of the
// interleaving, not of the class, so a class is explored through the one
// representative its wakeup sequence gives; if that one is unfair and the
// class has another, fair one, the class is missed. So cuts are counted
// (Strategy::guard_cuts) and an exploration with any makes no exhaustive
// claim. With no cut, every class was explored: a class the guard keeps
// off the path shows as a race with the forced step that needed another
// cpu there, or as a wakeup branch of another cpu that could have run
// there, both counted; or it is behind a sleeping cpu, whose own subtree
// counted its cuts. (The guard may run a sleeping cpu: then a class is
// explored twice, never missed.) The default bound (8 x cpus) cuts the
// MCS lock's exploration from 3 cpus on; 64 cuts none of the dfs configs'
// but MCS on 5 cpus.
//
// Parallel (Strategy::Split): the subtree under a branch a node still has
// to explore depends on what is above it only through the path to it (its
// nodes' steps, sleep and done sets, clocks) and the branch's wakeup
// subtree; what the subtree's executions find above it is a list of race
// reversals to insert there. So a part is a tree that holds a copy of the
// path down to the node (its floor), explores just the one branch's subtree,
// and hands its reversals above the floor back in order (Join), where the
// owner inserts them as it would have. The owner gives away a branch it has
// not reached yet and takes the part back when it does, if the branch's
// wakeup subtree is still the one the part was given (Fits). Races found in
// between may add to it (Insert says under which branch it added); the
// part is then abandoned at once (Abandoned) and the branch may be given
// away again, or the owner explores it itself. With
// the path, the done set the node will have then, and the subtree equal,
// the part runs exactly the executions the owner would: the result does
// not depend on the threads. Under sleep sets (or none) a branch is the
// next cpu Backtrack would take at a node; nothing is inserted above it,
// so a part always fits.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "layers/strategy.h"
#include "layers/wire.h"
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

// A step as dfs sees it: what it does and, under symmetry reduction,
// whether it starts its cpu: the cpu's first step on an object that is not
// its own (Machine::own_cpu). Renaming interchangeable cpus renames their
// own objects with them, so a renaming maps each cpu's start to its image's
// start, and every class of schedules has a renaming in which the cpus
// start in the order of their ids (cpus that never start last). dfs runs
// only those (InOrder): a cpu may step on its own objects at any time, but
// may start only after every lower cpu has. Whether a cpu may start
// depends on the starts of the lower ones, so starts depend on each other
// (their order is part of a class). Which step starts a cpu depends on its
// own steps only, so the order holds or fails for a whole class.
struct Act : PendingStep {
  bool first = false;  // it starts its cpu
};

bool Dependent(const Act& a, const Act& b) {
  return (a.object == b.object && !(a.read_only && b.read_only)) || (a.first && b.first);
}

// Symmetry: cpu c may start where `started` says which cpus have: if
// every lower cpu has.
bool InOrder(const std::vector<bool>& started, CpuId c) {
  const auto mine = static_cast<std::size_t>(c.value());
  if (started[mine]) return true;
  for (std::size_t i = 0; i < mine; ++i) {
    if (!started[i]) return false;
  }
  return true;
}

// One step of a schedule: who takes it and what it does.
struct Step {
  CpuId cpu;
  Act step;
};

// A wakeup tree: the branches a node still has to explore, leftmost first,
// each with the steps that must follow it.
struct WakeupNode {
  CpuId cpu;
  Act step;
  std::vector<WakeupNode> children;
  // A branch of a node's `later`: the part it was given away as (Split), or -1.
  std::int64_t given = -1;
};
using WakeupForest = std::vector<WakeupNode>;

bool SameAct(const Act& a, const Act& b) {
  return a.object == b.object && a.kind == b.kind && a.read_only == b.read_only &&
         a.blocking == b.blocking && a.first == b.first;
}

bool SameForest(const WakeupForest& a, const WakeupForest& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].cpu != b[i].cpu || !SameAct(a[i].step, b[i].step) || !SameForest(a[i].children, b[i].children)) {
      return false;
    }
  }
  return true;
}

// True if CPU `p`, whose next step is `step`, can start a schedule
// equivalent to one that begins with `w`, up to what follows (p is a weak
// initial of w): p's first step in w depends on none before it, or p has no
// step in w and depends on none of them. Sets *at to p's first step in w,
// or to w.size() if it has none.
bool WeakInitial(CpuId p, const Act& step, const std::vector<Step>& w, std::size_t* at) {
  std::size_t first = 0;
  while (first < w.size() && w[first].cpu != p) ++first;
  *at = first;
  const Act& mine = first < w.size() ? w[first].step : step;
  for (std::size_t i = 0; i < first; ++i) {
    if (Dependent(w[i].step, mine)) return false;
  }
  return true;
}

// Adds `w` to `forest` unless a branch already covers it: descends through
// the leftmost child whose CPU is a weak initial of what is left of w; a
// leaf reached, or w used up, means it is covered. Else w's rest becomes a
// new rightmost chain where the descent stopped.
// Returns the branch of `forest` under which w was added, or null when
// it was covered or became a branch of its own.
WakeupNode* Insert(WakeupForest* forest, std::vector<Step> w) {
  WakeupNode* top = nullptr;
  for (;;) {
    if (w.empty()) return nullptr;
    WakeupNode* next = nullptr;
    for (WakeupNode& child : *forest) {
      std::size_t at;
      if (WeakInitial(child.cpu, child.step, w, &at)) {
        if (at < w.size()) w.erase(w.begin() + static_cast<std::ptrdiff_t>(at));
        next = &child;
        break;
      }
    }
    if (next == nullptr) break;
    if (next->children.empty()) return nullptr;
    if (top == nullptr) top = next;
    forest = &next->children;
  }
  for (const Step& s : w) {
    forest->push_back({s.cpu, s.step, {}});
    forest = &forest->back().children;
  }
  return top;
}

// The wire form of a part (Pack) and of what it found (PackOutcome).
void Put(WireWriter& out, const Act& a) {
  out.U(static_cast<std::uint64_t>(a.object.value())).S(a.kind.name()).B(a.read_only).B(a.blocking).B(a.first);
}
Act GetAct(WireReader& in) {
  Act a;
  a.object = machine::ObjectId(static_cast<machine::ObjectId::Rep>(in.U()));
  a.kind = InternKind(in.S());
  a.read_only = in.B();
  a.blocking = in.B();
  a.first = in.B();
  return a;
}
void Put(WireWriter& out, const WakeupForest& f) {
  out.U(f.size());
  for (const WakeupNode& w : f) {
    PutCpu(out, w.cpu);
    Put(out, w.step);
    Put(out, w.children);
  }
}
// Grown as it is read (not sized from its count first), so that a
// malformed count cannot allocate more than the message holds.
WakeupForest GetForest(WireReader& in) {
  WakeupForest f;
  for (std::size_t n = in.Count(); n > 0 && in.ok(); --n) {
    WakeupNode& w = f.emplace_back();
    w.cpu = GetCpu(in);
    w.step = GetAct(in);
    w.children = GetForest(in);
  }
  return f;
}
void Put(WireWriter& out, const std::vector<Step>& w) {
  out.U(w.size());
  for (const Step& s : w) {
    PutCpu(out, s.cpu);
    Put(out, s.step);
  }
}
std::vector<Step> GetSteps(WireReader& in) {
  std::vector<Step> w(in.Count());
  for (Step& s : w) {
    s.cpu = GetCpu(in);
    s.step = GetAct(in);
  }
  return w;
}

// The dfs search tree along the current path. Each execution replays the
// path's choices and extends it; Backtrack moves to the next branch.
class DfsTree {
 public:
  DfsTree(Reduction reduction, int preemption_bound, bool symmetric)
      : reduction_(reduction), preemption_bound_(preemption_bound), symmetric_(symmetric) {}

  struct Node {
    std::vector<CpuId> enabled;
    std::vector<Act> pending;  // parallel to enabled
    std::vector<CpuId> done;           // explored choices
    std::vector<CpuId> sleep;          // asleep on entry
    CpuId chosen;
    CpuId last;                        // who took the previous step
    int preemptions = 0;               // on the path before this node
    bool forced = false;               // the fairness guard chose
    // sleep/none: the branches given away (Split), with their parts.
    std::vector<std::pair<CpuId, std::uint64_t>> given;
    // Symmetry: which cpus started before this node, and whether no cpu
    // could move in order here, so any may (see Allowed).
    std::vector<bool> started;
    bool unordered = false;
    // dpor: the branches still to explore here after `chosen`, and the
    // wakeup subtree under `chosen` (handed to the next node).
    WakeupForest later;
    WakeupForest below;
    // dpor: the value of the word `chosen` steps on, before it does (for
    // judging whether a blocked step could run in its place).
    bool on_word = false;
    std::int64_t before = 0;

    // Back to a new node's values, every field, keeping what the vectors
    // have allocated (DfsTree::Fresh).
    void Reset() {
      enabled.clear();
      pending.clear();
      done.clear();
      sleep.clear();
      chosen = CpuId();
      last = CpuId();
      preemptions = 0;
      forced = false;
      given.clear();
      started.clear();
      unordered = false;
      later.clear();
      below.clear();
      on_word = false;
      before = 0;
    }
  };

  // A node for the next step: a spare one if there is one. Nodes leave the
  // path in every execution and as many come back in the next; reusing
  // their vectors saves allocating them anew (malloc and free were 13% of
  // a dfs run of the ticket lock on 6 cpus).
  Node Fresh() {
    if (spare_.empty()) return Node{};
    Node n = std::move(spare_.back());
    spare_.pop_back();
    n.Reset();
    return n;
  }

  // The choice at `d`, or none when the execution is pruned (every enabled
  // CPU is asleep or would exceed the preemption bound).
  CpuId Pick(const Decision& d) {
    const std::size_t depth = d.step;
    if (depth == 0) {
      if (reduction_ == Reduction::kDpor) {
        objects_.clear();
        starts_ = -1;
        accounted_ = 0;
        last_of_.assign(static_cast<std::size_t>(d.machine->cpus()), -1);
      }
    }
    if (depth < path_.size()) {
      STRATA_CHECK(std::binary_search(d.runnable.begin(), d.runnable.end(), path_[depth].chosen),
                   "dfs replay diverged at step {} (nondeterministic module?)", depth);
      if (reduction_ == Reduction::kDpor && depth >= analyzed_) Analyze(depth, d);
      return path_[depth].chosen;
    }
    Node n = Fresh();
    n.enabled.assign(d.runnable.begin(), d.runnable.end());
    if (symmetric_) {
      if (path_.empty()) {
        n.started.assign(static_cast<std::size_t>(d.machine->cpus()), false);
      } else {
        const Node& parent = path_.back();
        n.started = parent.started;
        if (parent.pending[Index(parent, parent.chosen)].first) {
          n.started[static_cast<std::size_t>(parent.chosen.value())] = true;
        }
      }
    }
    for (CpuId c : n.enabled) {
      Act a{d.machine->pending(c)};
      a.first = symmetric_ && !n.started[static_cast<std::size_t>(c.value())] &&
                d.machine->own_cpu(a.object) != c;
      n.pending.push_back(a);
    }
    n.last = d.last;
    WakeupForest handed;
    if (!path_.empty()) {
      Node& parent = path_.back();
      handed = std::move(parent.below);
      parent.below.clear();
      n.preemptions = parent.preemptions + (Preempts(parent, parent.chosen) ? 1 : 0);
      if (reduction_ != Reduction::kNone) {
        const Act& ran = parent.pending[Index(parent, parent.chosen)];
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
      for (WakeupNode& w : handed) {
        if (w.cpu == d.overdue) {
          n.below = std::move(w.children);
        } else {
          ++dropped_;
          // A branch that could have run here, had the guard let it.
          if (Contains(n.enabled, w.cpu) && Allowed(n, w.cpu)) ++cut_;
        }
      }
      // Sleep sets: the cpus that could have run here are not tried, and
      // the sleep sets below stand for subtrees the guard cut short.
      if (reduction_ == Reduction::kSleep &&
          std::any_of(n.enabled.begin(), n.enabled.end(),
                      [&](CpuId c) { return c != d.overdue && Allowed(n, c); })) {
        ++cut_;
      }
    } else {
      // dpor: the leftmost handed branch that can run here; the rest wait.
      for (std::size_t i = 0; i < handed.size(); ++i) {
        if (!n.chosen.valid() && Contains(n.enabled, handed[i].cpu) && Allowed(n, handed[i].cpu)) {
          n.chosen = handed[i].cpu;
          n.below = std::move(handed[i].children);
        } else if (n.chosen.valid()) {
          n.later.push_back(std::move(handed[i]));
        } else {
          ++dropped_;
        }
      }
      for (std::size_t i = 0; !n.chosen.valid() && i < n.enabled.size(); ++i) {
        if (Allowed(n, n.enabled[i])) n.chosen = n.enabled[i];
      }
      // Every cpu that could run waits to start for a lower one that cannot
      // start here (it is asleep, or over the preemption bound; or, in a
      // module that is not symmetric after all, blocked or ended before
      // starting): the order of starts is given up here. Pruning would be
      // sound too; this only adds executions.
      if (!n.chosen.valid() && symmetric_) {
        n.unordered = true;
        for (std::size_t i = 0; !n.chosen.valid() && i < n.enabled.size(); ++i) {
          if (Allowed(n, n.enabled[i])) n.chosen = n.enabled[i];
        }
      }
    }
    if (!n.chosen.valid()) {
      ++pruned_;
      return CpuId();
    }
    path_.push_back(std::move(n));
    if (reduction_ == Reduction::kDpor) Analyze(depth, d);
    return path_.back().chosen;
  }

  // Moves to the next branch; false when the space is exhausted.
  // A part's tree stops at its floor: the nodes above belong to its owner.
  bool Backtrack() {
    while (path_.size() > floor_) {
      Node& n = path_.back();
      n.done.push_back(n.chosen);
      if (reduction_ == Reduction::kDpor) {
        while (!n.later.empty()) {
          WakeupNode w = std::move(n.later.front());
          n.later.erase(n.later.begin());
          if (Dropped(n, n.done, w.cpu)) {
            STRATA_CHECK(w.given < 0, "dfs dropped the branch it gave away as part {}", w.given);
            ++dropped_;
            continue;
          }
          n.chosen = w.cpu;
          n.below = std::move(w.children);
          if (w.given >= 0) joining_ = static_cast<std::uint64_t>(w.given);
          analyzed_ = std::min(analyzed_, path_.size() - 1);
          return true;
        }
      } else if (!n.forced) {
        for (CpuId c : n.enabled) {
          if (Contains(n.done, c)) continue;
          if (Allowed(n, c)) {
            n.chosen = c;
            for (const auto& [cpu, part] : n.given) {
              if (cpu == c) joining_ = part;
            }
            return true;
          }
          if (Contains(n.sleep, c)) ++pruned_;
        }
      }
      spare_.push_back(std::move(path_.back()));
      path_.pop_back();
    }
    return false;
  }

  std::uint64_t pruned() const { return pruned_ + dropped_; }
  std::uint64_t cut() const { return cut_; }

  // Gives away, as part `id`, the first branch still to explore at the
  // shallowest node that has one not given yet (the largest subtree): dpor
  // a branch of the node's wakeup tree, sleep/none the next cpu Backtrack
  // would take there. Returns the part's tree, or null.
  std::unique_ptr<DfsTree> Split(std::uint64_t id) {
    for (std::size_t b = floor_; b < path_.size(); ++b) {
      Node& n = path_[b];
      if (n.forced) continue;
      // The done set Backtrack will have when it takes each branch.
      std::vector<CpuId> done = n.done;
      done.push_back(n.chosen);
      if (reduction_ == Reduction::kDpor) {
        for (WakeupNode& w : n.later) {
          if (Dropped(n, done, w.cpu)) continue;
          if (w.given >= 0) {
            done.push_back(w.cpu);
            continue;
          }
          w.given = static_cast<std::int64_t>(id);
          return MakePart(b, w.cpu, std::move(done), w.children);
        }
      } else {
        for (CpuId c : n.enabled) {
          if (Contains(done, c) || !Allowed(n, c)) continue;
          if (std::any_of(n.given.begin(), n.given.end(), [c](const auto& g) { return g.first == c; })) {
            done.push_back(c);
            continue;
          }
          n.given.emplace_back(c, id);
          return MakePart(b, c, std::move(done), {});
        }
      }
    }
    return nullptr;
  }

  // The part Backtrack reached, if its branch was given away.
  std::optional<std::uint64_t> joining() const { return joining_; }

  // The parts given away whose branches have grown since (they can no
  // longer fit), once each; their branches may be given away again.
  std::vector<std::uint64_t> TakeAbandoned() { return std::exchange(abandoned_, {}); }

  // True if `part` explores the branch Backtrack just reached, as this
  // tree would: the same node, done set and wakeup subtree. Reads only what
  // the part was made with (Split).
  bool Fits(const DfsTree& part) const {
    const Node& n = path_.back();
    return joining_ && part.floor_ == path_.size() && part.split_done_ == n.done &&
           SameForest(part.split_below_, n.below);
  }

  // Takes the ended part back: its reversals above its floor are inserted
  // (or, above this tree's own floor, handed on), in the order it found
  // them; then on to the next branch, as Backtrack.
  bool Join(DfsTree& part) {
    for (Request& r : part.requests_) {
      if (r.at < floor_) {
        requests_.push_back(std::move(r));
      } else {
        Adding(Insert(&path_[r.at].later, std::move(r.w)));
      }
    }
    pruned_ += part.pruned_;
    dropped_ += part.dropped_;
    cut_ += part.cut_;
    joining_.reset();
    return Backtrack();
  }

  // The part is not taken: the branch is explored here.
  void Reclaim() { joining_.reset(); }

  // A part as bytes (Split made it; it has not run), and back into a tree
  // made with the same options; false if the bytes are not a part.
  void Save(WireWriter& out) const {
    out.U(floor_).U(analyzed_).U(clock_.size());
    for (std::uint32_t v : clock_) out.U(v);
    out.U(path_.size());
    for (const Node& n : path_) {
      PutCpus(out, n.enabled);
      out.U(n.pending.size());
      for (const Act& a : n.pending) Put(out, a);
      PutCpus(out, n.done);
      PutCpus(out, n.sleep);
      PutCpu(out, n.chosen);
      PutCpu(out, n.last);
      out.I(n.preemptions).B(n.forced).U(n.started.size());
      for (bool b : n.started) out.B(b);
      out.B(n.unordered);
      Put(out, n.later);
      Put(out, n.below);
      out.B(n.on_word).I(n.before);
    }
  }
  bool Load(WireReader& in) {
    floor_ = static_cast<std::size_t>(in.U());
    analyzed_ = static_cast<std::size_t>(in.U());
    clock_.resize(in.Count());
    for (std::uint32_t& v : clock_) v = static_cast<std::uint32_t>(in.U());
    path_.resize(in.Count());
    for (Node& n : path_) {
      n.enabled = GetCpus(in);
      n.pending.resize(in.Count());
      for (Act& a : n.pending) a = GetAct(in);
      n.done = GetCpus(in);
      n.sleep = GetCpus(in);
      n.chosen = GetCpu(in);
      n.last = GetCpu(in);
      n.preemptions = static_cast<int>(in.I());
      n.forced = in.B();
      n.started.resize(in.Count());
      for (std::size_t i = 0; i < n.started.size(); ++i) n.started[i] = in.B();
      n.unordered = in.B();
      n.later = GetForest(in);
      n.below = GetForest(in);
      n.on_word = in.B();
      n.before = in.I();
      // What Pick and Backtrack index by: the choice is an enabled cpu,
      // each with its pending step.
      if (!in.ok() || n.pending.size() != n.enabled.size() || !Contains(n.enabled, n.chosen)) return false;
      for (CpuId c : n.enabled) {
        if (c.value() < 0 || c.value() >= machine::kMaxCpus) return false;
        if (symmetric_ && static_cast<std::size_t>(c.value()) >= n.started.size()) return false;
      }
    }
    return in.done() && floor_ == path_.size() && floor_ > 0 && analyzed_ < floor_;
  }
  // What a part that ran found for its owner (Join), as bytes, and back.
  void SaveOutcome(WireWriter& out) const {
    out.U(pruned_).U(dropped_).U(cut_).U(requests_.size());
    for (const Request& r : requests_) {
      out.U(r.at);
      Put(out, r.w);
    }
  }
  bool LoadOutcome(WireReader& in) {
    pruned_ = in.U();
    dropped_ = in.U();
    cut_ = in.U();
    requests_.resize(in.Count());
    for (Request& r : requests_) {
      r.at = static_cast<std::size_t>(in.U());
      r.w = GetSteps(in);
      if (r.at >= floor_) return false;
    }
    return in.done();
  }

  // Knuth's estimate of the explored fraction of the tree, from the path:
  // the subtrees left of the path, each taken to be as large as its
  // siblings (a node's share of its parent's is 1 / its branching: the
  // children it explores, not those asleep or over the preemption bound;
  // for dpor the branches it has and those known to wait).
  double Covered() const {
    double covered = 0, share = 1;
    for (const Node& n : path_) {
      std::size_t branches = 1;
      if (reduction_ == Reduction::kDpor) {
        branches = n.done.size() + 1 + n.later.size();
      } else if (!n.forced) {
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
  // A part that explores the branch of `cpu` at node b, whose done set is
  // `done` when the branch is taken there, with the wakeup subtree `below`.
  std::unique_ptr<DfsTree> MakePart(std::size_t b, CpuId cpu, std::vector<CpuId> done, const WakeupForest& below) {
    auto part = std::make_unique<DfsTree>(reduction_, preemption_bound_, symmetric_);
    part->path_.reserve(b + 1);
    for (std::size_t i = 0; i <= b; ++i) {
      // The part never reads the owner's pending branches.
      WakeupForest later = std::move(path_[i].later);
      part->path_.push_back(path_[i]);
      path_[i].later = std::move(later);
      part->path_.back().given.clear();
    }
    Node& at = part->path_.back();
    at.done = done;
    at.chosen = cpu;
    at.below = below;
    part->floor_ = b + 1;
    part->analyzed_ = b;
    part->clock_.assign(clock_.begin(), clock_.begin() + static_cast<std::ptrdiff_t>(b * last_of_.size()));
    part->split_done_ = std::move(done);
    part->split_below_ = below;
    return part;
  }

  // An insertion went below `changed` (Insert): a part given that branch
  // explores a subtree that is no longer the branch's.
  void Adding(WakeupNode* changed) {
    if (changed == nullptr || changed->given < 0) return;
    abandoned_.push_back(static_cast<std::uint64_t>(changed->given));
    changed->given = -1;
  }

  static std::size_t Index(const Node& n, CpuId c) {
    return static_cast<std::size_t>(std::find(n.enabled.begin(), n.enabled.end(), c) -
                                    n.enabled.begin());
  }
  static bool Preempts(const Node& n, CpuId c) {
    return n.last.valid() && c != n.last && Contains(n.enabled, n.last);
  }
  // dpor: Backtrack drops a branch of cpu c at n (it cannot be taken) when
  // c is done there (with `done`), not enabled, or not allowed.
  bool Dropped(const Node& n, const std::vector<CpuId>& done, CpuId c) const {
    return Contains(done, c) || !Contains(n.enabled, c) || !Allowed(n, c);
  }
  bool Allowed(const Node& n, CpuId c) const {
    if (Contains(n.sleep, c)) return false;
    if (symmetric_ && !n.unordered) {
      const std::size_t i = Index(n, c);
      if (i < n.pending.size() && n.pending[i].first && !InOrder(n.started, c)) return false;
    }
    if (preemption_bound_ >= 0 && Preempts(n, c) && n.preemptions + 1 > preemption_bound_) {
      return false;
    }
    return true;
  }
  const Act& StepAt(std::size_t i) const {
    const Node& n = path_[i];
    return n.pending[Index(n, n.chosen)];
  }

  // dpor: step k (new in this execution: the steps before it were
  // searched by this or an earlier one) is about to run. Computes its
  // vector clock, finds its races with the steps before it and adds their
  // reversals to the wakeup trees.
  void Analyze(std::size_t k, const Decision& d) {
    const std::size_t width = last_of_.size();
    while (accounted_ < k) Account(accounted_++);
    Node& node = path_[k];
    const CpuId q = node.chosen;
    const auto c = static_cast<std::size_t>(q.value());
    const Act& step = StepAt(k);
    node.on_word = d.machine->type(step.object) == machine::Machine::ObjectType::kWord;
    if (node.on_word) node.before = d.machine->value(machine::Word{step.object});
    clock_.resize((k + 1) * width);
    std::uint32_t* vc = &clock_[k * width];
    const std::int64_t pred = last_of_[c];
    if (pred >= 0) {
      std::copy_n(&clock_[static_cast<std::size_t>(pred) * width], width, vc);
    } else {
      std::fill_n(vc, width, 0);
    }
    const auto o = step.object.index();
    if (o >= objects_.size()) objects_.resize(o + 1);
    const Access& access = objects_[o];
    candidates_.clear();
    if (access.write >= 0) candidates_.push_back(static_cast<std::size_t>(access.write));
    if (!step.read_only) {
      candidates_.insert(candidates_.end(), access.reads.begin(), access.reads.end());
    }
    if (step.first && starts_ >= 0) candidates_.push_back(static_cast<std::size_t>(starts_));
    // Races: a dependent step of another cpu that happens before none of
    // the others, nor before this cpu's previous step.
    for (std::size_t e : candidates_) {
      const auto ce = static_cast<std::size_t>(path_[e].chosen.value());
      if (ce == c) continue;
      if (pred >= 0 && clock_[static_cast<std::size_t>(pred) * width + ce] > e) continue;
      bool through_other = false;
      for (std::size_t other : candidates_) {
        if (other != e && clock_[other * width + ce] > e) through_other = true;
      }
      if (through_other) continue;
      // A blocking step could run in e's place only if its object as it
      // was before e let it: no step of the reversal touches the object.
      // Where it did not, it could still have run before an earlier write
      // that blocked it (TAS: spinning while the word is 1, which another
      // cpu's release and next acquire set back to 1; the spec lock's
      // WAIT_LOCK, blocked from the holder's WAIT_LOCK to its REL_LOCK):
      // that race is reversed instead.
      if (step.blocking && StepAt(e).object == step.object) {
        const Could could = CouldRunAt(e, k, pred, d);
        if (could != Could::kNo) Reverse(e, k, width);
        if (could != Could::kYes) ReverseBlocked(e, k, pred, width, d);
        continue;
      }
      Reverse(e, k, width);
    }
    for (std::size_t other : candidates_) {
      const std::uint32_t* oc = &clock_[other * width];
      for (std::size_t i = 0; i < width; ++i) vc[i] = std::max(vc[i], oc[i]);
    }
    vc[c] = static_cast<std::uint32_t>(k + 1);
    analyzed_ = k + 1;
  }

  // Adds step j to the per-object accesses and the cpus' last steps.
  void Account(std::size_t j) {
    const Act& step = StepAt(j);
    const auto o = step.object.index();
    if (o >= objects_.size()) objects_.resize(o + 1);
    Access& access = objects_[o];
    if (step.read_only) {
      access.reads.push_back(j);
    } else {
      access.write = static_cast<std::int64_t>(j);
      access.reads.clear();
    }
    if (step.first) starts_ = static_cast<std::int64_t>(j);
    last_of_[static_cast<std::size_t>(path_[j].chosen.value())] = static_cast<std::int64_t>(j);
  }

  // Whether the blocking step k could have run at node w, before w's step
  // on k's object: on a word, if the word as it was before w let
  // it (Machine::ReadyWith). On another object its state cannot be set
  // back, but where k was already its cpu's pending step (after that
  // cpu's previous step, pred) the node's enabled set says; before, it is
  // not known and taken as yes: a reversal that proves impossible when
  // followed is dropped there and counted in skipped().
  enum class Could { kNo, kYes, kMaybe };
  Could CouldRunAt(std::size_t w, std::size_t k, std::int64_t pred, const Decision& d) const {
    const CpuId q = path_[k].chosen;
    if (path_[w].on_word) return d.machine->ReadyWith(q, path_[w].before) ? Could::kYes : Could::kNo;
    if (static_cast<std::int64_t>(w) > pred) return Contains(path_[w].enabled, q) ? Could::kYes : Could::kNo;
    return Could::kMaybe;
  }

  // Step k, a blocking step, was blocked where the write e to its object
  // before it ran; every write to the object between an earlier one and e
  // blocked it too (k waits until the object lets it). So k could have
  // run before the last write w before e at whose node the object let it,
  // and not later: races k with w. Writes to one object are ordered by
  // happens-before, so none before the first that happens before k's
  // cpu's previous step (pred) can be passed.
  void ReverseBlocked(std::size_t e, std::size_t k, std::int64_t pred, std::size_t width, const Decision& d) {
    const CpuId q = path_[k].chosen;
    const Act& step = StepAt(k);
    for (std::size_t w = e; w-- > 0;) {
      const Act& a = StepAt(w);
      if (a.object != step.object || a.read_only) continue;
      const auto cw = static_cast<std::size_t>(path_[w].chosen.value());
      if (path_[w].chosen == q || (pred >= 0 && clock_[static_cast<std::size_t>(pred) * width + cw] > w)) return;
      const Could could = CouldRunAt(w, k, pred, d);
      if (could != Could::kNo) Reverse(w, k, width);
      if (could == Could::kYes) return;
    }
  }

  // Reverses the race of step e before step k: at e's node, the steps
  // after e that do not happen after it, then k's.
  void Reverse(std::size_t e, std::size_t k, std::size_t width) {
    Node& at = path_[e];
    const CpuId q = path_[k].chosen;
    const auto ce = static_cast<std::size_t>(at.chosen.value());
    std::vector<Step> w;
    bool q_stepped = false;
    for (std::size_t j = e + 1; j < k; ++j) {
      if (clock_[j * width + ce] > e) continue;  // happens after e
      w.push_back({path_[j].chosen, StepAt(j)});
      if (path_[j].chosen == q) q_stepped = true;
    }
    // q blocked on its step where e ran: it cannot run before e.
    if (!q_stepped && !Contains(at.enabled, q)) return;
    w.push_back({q, StepAt(k)});
    // Symmetry: the reversal must start its cpus in order too.
    if (symmetric_ && !at.unordered) {
      std::vector<bool> started = at.started;
      for (const Step& s : w) {
        if (!s.step.first) continue;
        if (!InOrder(started, s.cpu)) return;
        started[static_cast<std::size_t>(s.cpu.value())] = true;
      }
    }
    for (const auto* set : {&at.sleep, &at.done}) {
      for (CpuId s : *set) {
        std::size_t unused;
        if (WeakInitial(s, at.pending[Index(at, s)], w, &unused)) return;
      }
    }
    if (at.forced) {
      ++cut_;  // the guard ran e's cpu there: a reversal needed is not tried
      return;
    }
    if (e < floor_) {
      requests_.push_back({e, std::move(w)});
    } else {
      Adding(Insert(&at.later, std::move(w)));
    }
  }

  Reduction reduction_;
  int preemption_bound_;
  bool symmetric_;
  std::vector<Node> path_;
  std::vector<Node> spare_;  // off the path, for Fresh
  // dpor. The steps of the path searched for races (their clocks are
  // valid); clock_[k * cpus + c] is 1 + the position of the last step of
  // cpu c that happens before step k (or is it), 0 for none.
  std::size_t analyzed_ = 0;
  std::vector<std::uint32_t> clock_;
  // The path's steps before accounted_, per object (the last write and the
  // reads since) and per cpu (its last step), rebuilt in each execution.
  struct Access {
    std::int64_t write = -1;
    std::vector<std::size_t> reads;
  };
  std::vector<Access> objects_;
  // Symmetry: the last start (starts all depend on each other, so it
  // happens after the others), or -1.
  std::int64_t starts_ = -1;
  std::size_t accounted_ = 0;
  std::vector<std::int64_t> last_of_;
  std::vector<std::size_t> candidates_;
  std::uint64_t pruned_ = 0;
  std::uint64_t dropped_ = 0;  // dpor: wakeup branches that proved impossible
  // Where the fairness guard ran a cpu and the reduction needed another
  // there (Strategy::guard_cuts).
  std::uint64_t cut_ = 0;
  // Parallel (Split): a part's tree holds its owner's nodes above floor_ and
  // explores one branch of node floor_ - 1; reversals it finds there or
  // above go to requests_, for the owner to insert (Join).
  std::size_t floor_ = 0;
  struct Request {
    std::size_t at;
    std::vector<Step> w;
  };
  std::vector<Request> requests_;
  std::optional<std::uint64_t> joining_;  // Backtrack reached a branch given away
  std::vector<std::uint64_t> abandoned_;  // parts whose branch grew (Adding)
  // What a part was given (read by its owner's Fits while it runs).
  std::vector<CpuId> split_done_;
  WakeupForest split_below_;
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

// DPOR reverses races in every schedule; a preemption bound cuts schedules
// out, so a bounded dfs uses sleep sets instead.
Reduction Effective(const StrategyOptions& o) {
  return o.reduction == Reduction::kDpor && o.preemption_bound >= 0 ? Reduction::kSleep
                                                                      : o.reduction;
}

class DfsStrategy final : public Strategy {
 public:
  explicit DfsStrategy(const StrategyOptions& o)
      : DfsStrategy(o, std::make_unique<DfsTree>(Effective(o), o.preemption_bound, o.symmetric)) {}
  DfsStrategy(const StrategyOptions& o, std::unique_ptr<DfsTree> tree)
      : o_(o),
        seed_(o.seed),
        reduction_(Effective(o)),
        preemption_bound_(o.preemption_bound),
        symmetric_(o.symmetric),
        tree_(std::move(tree)),
        oracle_(tree_.get()) {}
  Oracle& Next(std::uint64_t) override { return oracle_; }
  bool Advance() override { return tree_->Backtrack(); }
  bool exhaustive() const override { return true; }
  std::string bound() const override {
    return preemption_bound_ >= 0
               ? fmt::format("at most {} preemption{}", preemption_bound_,
                             preemption_bound_ == 1 ? "" : "s")
               : std::string();
  }
  std::uint64_t skipped() const override { return tree_->pruned(); }
  std::uint64_t guard_cuts() const override { return tree_->cut(); }
  bool reduced() const override { return reduction_ != Reduction::kNone; }
  std::optional<double> covered() const override { return tree_->Covered(); }
  // A part explores a subtree; its executions share the one client.
  std::unique_ptr<Strategy> Split(std::uint64_t id, std::uint64_t* first) override {
    std::unique_ptr<DfsTree> part = tree_->Split(id);
    if (part == nullptr) return nullptr;
    *first = 0;
    return std::make_unique<DfsStrategy>(o_, std::move(part));
  }
  std::optional<std::uint64_t> Joining() const override { return tree_->joining(); }
  std::vector<std::uint64_t> Abandoned() override { return tree_->TakeAbandoned(); }
  bool Fits(const Strategy& part) const override {
    return tree_->Fits(*static_cast<const DfsStrategy&>(part).tree_);
  }
  bool Join(Strategy& part) override { return tree_->Join(*static_cast<DfsStrategy&>(part).tree_); }
  void Reclaim() override { tree_->Reclaim(); }
  std::optional<std::string> Pack() const override {
    WireWriter out;
    tree_->Save(out);
    return out.Take();
  }
  std::unique_ptr<Strategy> Unpack(std::string_view bytes) const override {
    auto tree = std::make_unique<DfsTree>(reduction_, preemption_bound_, symmetric_);
    WireReader in(bytes);
    if (!tree->Load(in)) return nullptr;
    return std::make_unique<DfsStrategy>(o_, std::move(tree));
  }
  std::string PackOutcome() const override {
    WireWriter out;
    tree_->SaveOutcome(out);
    return out.Take();
  }
  bool UnpackOutcome(std::string_view bytes) override {
    WireReader in(bytes);
    return tree_->LoadOutcome(in);
  }
  // One client: the tree's executions must be runs of the same program.
  machine::MachineOptions MachineFor(const machine::MachineOptions& base) const override {
    machine::MachineOptions run = base;
    run.client_seed = seed_;
    return run;
  }
  std::string Describe() const override {
    std::string out = reduction_ == Reduction::kDpor    ? "dfs (optimal DPOR"
                      : reduction_ == Reduction::kSleep ? "dfs (sleep-set reduction"
                                                        : "dfs (no reduction";
    if (preemption_bound_ >= 0) out += ", " + bound();
    if (symmetric_) out += ", symmetry: interchangeable cpus start in order";
    return out + ")";
  }

 private:
  StrategyOptions o_;
  std::uint64_t seed_;
  Reduction reduction_;
  int preemption_bound_;
  bool symmetric_;
  std::unique_ptr<DfsTree> tree_;
  DfsOracle oracle_;
};

}  // namespace

std::string_view ReductionName(Reduction r) {
  switch (r) {
    case Reduction::kNone: return "none";
    case Reduction::kSleep: return "sleep";
    case Reduction::kDpor: return "dpor";
  }
  return "?";
}

std::optional<Reduction> ParseReduction(std::string_view name) {
  for (Reduction r : {Reduction::kNone, Reduction::kSleep, Reduction::kDpor}) {
    if (ReductionName(r) == name) return r;
  }
  return std::nullopt;
}

std::unique_ptr<Strategy> MakeDfsStrategy(const StrategyOptions& options) {
  return std::make_unique<DfsStrategy>(options);
}

void AddBuiltinStrategies(StrategyRegistry& strategies) {
  strategies.Add({"random", "independent runs under one seeded random oracle", false, "",
                  MakeRandomStrategy});
  strategies.Add({"pct", "runs under PCT (depth d), run i seeded seed + i", false, "",
                  MakePctStrategy});
  strategies.Add({"dfs",
                  "every F-fair schedule up to the order of independent steps (--reduction: "
                  "optimal DPOR by default; runs = a cap)",
                  false, "", MakeDfsStrategy});
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
