#include "boot/config.h"

#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "boot/workloads.h"
#include "kernel/lock.h"
#include "kernel/queue.h"
#include "machine/check.h"

namespace strata::boot {
namespace {

// Builds "FILE:LINE: key: message" errors for one parsed table.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  absl::Status Error(const toml::node* node, std::string_view key, std::string_view what) const {
    if (node != nullptr && node->source().begin) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}: {}", source_, node->source().begin.line, key, what));
    }
    return absl::InvalidArgumentError(fmt::format("{}: {}: {}", source_, key, what));
  }

  // Rejects keys of `table` not in `known`.
  absl::Status OnlyKeys(const toml::table& table, std::string_view prefix,
                        std::initializer_list<std::string_view> known) const {
    for (const auto& [key, node] : table) {
      bool ok = false;
      for (std::string_view k : known) ok = ok || key.str() == k;
      if (!ok) {
        std::string names;
        for (std::string_view k : known) names += fmt::format("{}{}", names.empty() ? "" : ", ", k);
        return Error(&node, prefix.empty() ? std::string(key.str())
                                           : fmt::format("{}.{}", prefix, key.str()),
                     fmt::format("unknown key (expected one of: {})", names));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<const toml::table*> Table(const toml::table& root, std::string_view name) const {
    const toml::node* node = root.get(name);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) return Error(node, name, "expected a table like [" + std::string(name) + "]");
    return node->as_table();
  }

  // Reads an integer in [lo, hi] into `out` if the key is present.
  template <class T>
  absl::Status Int(const toml::table* t, std::string_view table, std::string_view key,
                   std::int64_t lo, std::int64_t hi, T& out) const {
    if (t == nullptr) return absl::OkStatus();
    const toml::node* node = t->get(key);
    if (node == nullptr) return absl::OkStatus();
    std::string name = fmt::format("{}.{}", table, key);
    if (!node->is_integer()) {
      return Error(node, name, fmt::format("expected an integer from {} to {}, got {}", lo, hi,
                                           TypeName(*node)));
    }
    std::int64_t v = node->as_integer()->get();
    if (v < lo || v > hi) {
      return Error(node, name, fmt::format("expected an integer from {} to {}, got {}", lo, hi, v));
    }
    out = static_cast<T>(v);
    return absl::OkStatus();
  }

  // A string that must be one of a set of names: `known(value)` says if it
  // is; `names` lists them for the error.
  template <class Known>
  absl::Status Name(const toml::table* t, std::string_view table, std::string_view key,
                    std::string& out, Known known, const std::string& names) const {
    const toml::node* node = nullptr;
    STRATA_RETURN_IF_ERROR(String(t, table, key, out, &node));
    if (known(out)) return absl::OkStatus();
    return Error(node, fmt::format("{}.{}", table, key),
                 fmt::format("expected one of {}, got \"{}\"", names, out));
  }

  // A string that must name an entry of `registry`.
  template <class Factory>
  absl::Status Name(const toml::table* t, std::string_view table, std::string_view key,
                    std::string& out, const layers::Registry<Factory>& registry) const {
    return Name(
        t, table, key, out, [&](const std::string& n) { return registry.Find(n) != nullptr; },
        registry.Names());
  }

  absl::Status String(const toml::table* t, std::string_view table, std::string_view key,
                      std::string& out, const toml::node** where) const {
    if (t == nullptr) return absl::OkStatus();
    const toml::node* node = t->get(key);
    if (node == nullptr) return absl::OkStatus();
    *where = node;
    if (!node->is_string()) {
      return Error(node, fmt::format("{}.{}", table, key),
                   fmt::format("expected a string, got {}", TypeName(*node)));
    }
    out = node->as_string()->get();
    return absl::OkStatus();
  }

  absl::Status Bool(const toml::table* t, std::string_view table, std::string_view key,
                    bool& out) const {
    if (t == nullptr) return absl::OkStatus();
    const toml::node* node = t->get(key);
    if (node == nullptr) return absl::OkStatus();
    if (!node->is_boolean()) {
      return Error(node, fmt::format("{}.{}", table, key),
                   fmt::format("expected true or false, got {}", TypeName(*node)));
    }
    out = node->as_boolean()->get();
    return absl::OkStatus();
  }

  static std::string_view TypeName(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      default: return "a date or time";
    }
  }

 private:
  const std::string& source_;
};

}  // namespace

absl::StatusOr<Config> ParseConfig(const toml::table& root, const std::string& source,
                                   bool allow_schedule, const Catalog& catalog) {
  Reader r(source);
  Config c;
  c.source = source;
  if (allow_schedule) {
    STRATA_RETURN_IF_ERROR(r.OnlyKeys(
        root, "", {"machine", "oracle", "run", "workload", "stack", "check", "schedule"}));
  } else {
    STRATA_RETURN_IF_ERROR(
        r.OnlyKeys(root, "", {"machine", "oracle", "run", "workload", "stack", "check"}));
  }

  STRATA_ASSIGN_OR_RETURN(const toml::table* m, r.Table(root, "machine"));
  if (m != nullptr) STRATA_RETURN_IF_ERROR(r.OnlyKeys(*m, "machine", {"cpus", "stack_kib"}));
  STRATA_RETURN_IF_ERROR(r.Int(m, "machine", "cpus", 1, machine::kMaxCpus, c.machine.cpus));
  std::int64_t stack_kib = static_cast<std::int64_t>(c.machine.stack_bytes / 1024);
  STRATA_RETURN_IF_ERROR(r.Int(m, "machine", "stack_kib", 16, 65536, stack_kib));
  c.machine.stack_bytes = static_cast<std::size_t>(stack_kib) * 1024;

  STRATA_ASSIGN_OR_RETURN(const toml::table* o, r.Table(root, "oracle"));
  if (o != nullptr) {
    STRATA_RETURN_IF_ERROR(
        r.OnlyKeys(*o, "oracle", {"kind", "seed", "fairness", "pct_depth", "pct_horizon",
                                  "thread_limit", "thread_progress"}));
  }
  const toml::node* kind_node = nullptr;
  STRATA_RETURN_IF_ERROR(r.String(o, "oracle", "kind", c.oracle, &kind_node));
  if (catalog.oracles.Find(c.oracle) == nullptr) {
    return r.Error(kind_node, "oracle.kind",
                   catalog.oracles.Expected(c.oracle) +
                       " (a recorded schedule is replayed with `strata replay FILE`)");
  }
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "seed", 0,
                                             std::numeric_limits<std::int64_t>::max(),
                                             c.seed));
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "thread_limit", 0, 1'000'000'000,
                               c.thread_bounds.limit));
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "thread_progress", 0, 1'000'000'000,
                               c.thread_bounds.progress));
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "fairness", 0, 1'000'000'000,
                                             c.machine.fairness));
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "pct_depth", 1, 64, c.pct_depth));
  STRATA_RETURN_IF_ERROR(r.Int(o, "oracle", "pct_horizon", 1, 1'000'000'000,
                                             c.pct_horizon));

  STRATA_ASSIGN_OR_RETURN(const toml::table* run, r.Table(root, "run"));
  if (run != nullptr) STRATA_RETURN_IF_ERROR(r.OnlyKeys(*run, "run", {"max_steps"}));
  STRATA_RETURN_IF_ERROR(r.Int(run, "run", "max_steps", 1, 1'000'000'000'000,
                                             c.machine.max_steps));

  STRATA_ASSIGN_OR_RETURN(const toml::table* w, r.Table(root, "workload"));
  if (w != nullptr) {
    STRATA_RETURN_IF_ERROR(r.OnlyKeys(*w, "workload", {"kind", "iterations", "threads"}));
  }
  STRATA_RETURN_IF_ERROR(r.Name(
      w, "workload", "kind", c.workload,
      [&](const std::string& n) { return FindWorkload(catalog, n).has_value(); },
      WorkloadNames(catalog)));
  STRATA_RETURN_IF_ERROR(r.Int(w, "workload", "iterations", 0, 100'000'000,
                                             c.iterations));
  STRATA_RETURN_IF_ERROR(r.Int(w, "workload", "threads", 1, 65536, c.threads));

  STRATA_ASSIGN_OR_RETURN(const toml::table* st, r.Table(root, "stack"));
  if (st != nullptr) {
    STRATA_RETURN_IF_ERROR(r.OnlyKeys(*st, "stack", {"lock", "queue", "sched", "max_threads"}));
  }
  STRATA_RETURN_IF_ERROR(r.Name(st, "stack", "lock", c.stack.lock, catalog.locks));
  STRATA_RETURN_IF_ERROR(r.Name(st, "stack", "queue", c.stack.queue, catalog.queues));
  STRATA_RETURN_IF_ERROR(r.Name(st, "stack", "sched", c.stack.sched, catalog.scheds));
  STRATA_RETURN_IF_ERROR(r.Int(st, "stack", "max_threads", 0, 65536, c.stack.max_threads));

  STRATA_ASSIGN_OR_RETURN(const toml::table* ch, r.Table(root, "check"));
  if (ch != nullptr) {
    STRATA_RETURN_IF_ERROR(r.OnlyKeys(*ch, "check",
                                      {"layer", "strategy", "runs", "preemption_bound",
                                       "reduction", "shrink", "iterations", "bound", "overrun",
                                       "capacity", "client", "threads"}));
  }
  const toml::node* layer_node = nullptr;
  STRATA_RETURN_IF_ERROR(r.String(ch, "check", "layer", c.check_layer, &layer_node));
  if (c.check_layer != "all" && sched::MakePair(c.check_layer, c.stack, catalog) == nullptr) {
    return r.Error(layer_node, "check.layer",
                   fmt::format("expected all or one of {}, got \"{}\"", sched::LayerNames(),
                               c.check_layer));
  }
  STRATA_RETURN_IF_ERROR(r.Name(ch, "check", "strategy", c.strategy, catalog.strategies));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "runs", 1, 1'000'000'000'000, c.runs));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "preemption_bound", -1, 1'000'000, c.preemption_bound));
  STRATA_RETURN_IF_ERROR(r.Bool(ch, "check", "reduction", c.reduction));
  STRATA_RETURN_IF_ERROR(r.Bool(ch, "check", "shrink", c.shrink));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "iterations", 1, 1'000'000, c.stack.iterations));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "bound", 0, 1'000'000, c.stack.bound));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "overrun", 0, 1'000'000, c.stack.overrun));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "capacity", 1, 1'000'000, c.stack.capacity));
  STRATA_RETURN_IF_ERROR(r.Name(ch, "check", "client", c.stack.client, catalog.threads));
  STRATA_RETURN_IF_ERROR(r.Int(ch, "check", "threads", 1, 4096, c.stack.threads));
  return c;
}

sched::SchedOptions SchedOptionsFor(const Config& c) {
  // 0: room for every workload's threads (at most threads + 2 per CPU).
  const int auto_size = std::max(256, c.machine.cpus * (c.threads + 2));
  return {.impl = c.stack.sched,
          .lock = c.stack.lock,
          .max_threads = c.stack.max_threads != 0 ? c.stack.max_threads : auto_size,
          .stack_bytes = c.machine.stack_bytes};
}

absl::StatusOr<Config> LoadConfig(const std::string& path, const Catalog& catalog) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format("{}: cannot open the config file (expected a TOML file)",
                                           path));
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table table;
  try {
    table = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: malformed TOML: {}", path,
                                                  e.source().begin.line, e.source().begin.column,
                                                  e.description()));
  }
  STRATA_ASSIGN_OR_RETURN(Config c, ParseConfig(table, path, /*allow_schedule=*/false, catalog));
  STRATA_RETURN_IF_ERROR(ValidateConfig(c, catalog));
  return c;
}

absl::Status ValidateConfig(const Config& c, const Catalog& catalog) {
  if (c.machine.cpus < 1 || c.machine.cpus > machine::kMaxCpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: expected an integer from 1 to {}, got {}", c.source, machine::kMaxCpus,
        c.machine.cpus));
  }
  if (c.machine.fairness != 0 && c.machine.fairness < static_cast<std::uint64_t>(c.machine.cpus)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: oracle.fairness: expected 0 (auto) or at least machine.cpus ({}), got {}", c.source,
        c.machine.cpus, c.machine.fairness));
  }
  const std::optional<Workload> w = FindWorkload(catalog, c.workload);
  if (w && c.machine.cpus < w->min_cpus) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: machine.cpus: workload \"{}\" needs at least {} cpus, got {}", c.source, c.workload,
        w->min_cpus, c.machine.cpus));
  }
  if (w && w->threaded) {
    // Every CPU keeps a pending queue as large as the TCB pool.
    const std::int64_t pool = SchedOptionsFor(c).max_threads;
    if (static_cast<std::int64_t>(c.machine.cpus) * (c.threads + 2) > 65536 ||
        static_cast<std::int64_t>(c.machine.cpus) * pool > (std::int64_t{1} << 22)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: workload.threads: {} threads per cpu on {} cpus (a TCB pool of {}) is more than "
          "this machine simulates (at most 65536 threads, cpus x pool at most 4194304)",
          c.source, c.threads, c.machine.cpus, pool));
    }
  }
  return absl::OkStatus();
}

std::string ConfigToToml(const Config& c) {
  return fmt::format(
      "[machine]\ncpus = {}\nstack_kib = {}\n\n"
      "[oracle]\nkind = \"{}\"\nseed = {}\nfairness = {}\npct_depth = {}\npct_horizon = {}\n"
      "thread_limit = {}\nthread_progress = {}\n\n"
      "[run]\nmax_steps = {}\n\n"
      "[workload]\nkind = \"{}\"\niterations = {}\nthreads = {}\n\n"
      "[stack]\nlock = \"{}\"\nqueue = \"{}\"\nsched = \"{}\"\nmax_threads = {}\n\n"
      "[check]\nlayer = \"{}\"\nstrategy = \"{}\"\nruns = {}\npreemption_bound = {}\n"
      "reduction = {}\nshrink = {}\niterations = {}\nbound = {}\noverrun = {}\ncapacity = {}\n"
      "client = \"{}\"\nthreads = {}\n",
      c.machine.cpus, c.machine.stack_bytes / 1024, c.oracle, c.seed,
      c.machine.fairness, c.pct_depth, c.pct_horizon, c.thread_bounds.limit,
      c.thread_bounds.progress, c.machine.max_steps, c.workload,
      c.iterations, c.threads, c.stack.lock, c.stack.queue, c.stack.sched, c.stack.max_threads,
      c.check_layer, c.strategy, c.runs, c.preemption_bound, c.reduction,
      c.shrink, c.stack.iterations, c.stack.bound, c.stack.overrun, c.stack.capacity,
      c.stack.client, c.stack.threads);
}

}  // namespace strata::boot
