#include "boot/keys.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "boot/config.h"
#include "layers/strategy.h"
#include "machine/machine.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
// Host threads a check may use (check.jobs).
constexpr std::int64_t kMaxJobs = 256;

// An integer key stored in the config member `field(c)` (any integer type).
template <class Field>
Key Int(std::string table, std::string key, std::int64_t lo, std::int64_t hi, std::string meaning,
        Field field, std::string flag = "", unsigned commands = 0) {
  Key k{.table = std::move(table), .key = std::move(key), .type = Key::Type::kInt,
        .meaning = std::move(meaning), .flag = std::move(flag), .commands = commands,
        .lo = lo, .hi = hi};
  k.get_int = [field](const Config& c) {
    return static_cast<std::int64_t>(field(const_cast<Config&>(c)));
  };
  k.set_int = [field](Config& c, std::int64_t v) {
    field(c) = static_cast<std::remove_reference_t<decltype(field(c))>>(v);
  };
  return k;
}

// A string key; `names` (may be null: any string) lists what it accepts.
template <class Field>
Key String(std::string table, std::string key, std::string meaning, Field field,
           std::function<std::string(const Catalog&)> names,
           std::function<bool(const Catalog&, const std::string&)> known, std::string flag = "",
           unsigned commands = 0, std::string hint = "") {
  Key k{.table = std::move(table), .key = std::move(key), .type = Key::Type::kString,
        .meaning = std::move(meaning), .flag = std::move(flag), .commands = commands,
        .names = std::move(names), .known = std::move(known), .hint = std::move(hint)};
  k.get_string = [field](const Config& c) { return field(const_cast<Config&>(c)); };
  k.set_string = [field](Config& c, const std::string& v) { field(c) = v; };
  return k;
}

// A string key naming an entry of the registry `pick(catalog)`.
template <class Field, class Pick>
Key Name(std::string table, std::string key, std::string meaning, Field field, Pick pick,
         std::string flag = "", unsigned commands = 0, std::string hint = "") {
  return String(
      std::move(table), std::move(key), std::move(meaning), field,
      [pick](const Catalog& c) { return pick(c).Names(); },
      [pick](const Catalog& c, const std::string& v) { return pick(c).Find(v) != nullptr; },
      std::move(flag), commands, std::move(hint));
}

template <class Field>
Key Bool(std::string table, std::string key, std::string meaning, Field field,
         std::string flag = "", unsigned commands = 0) {
  Key k{.table = std::move(table), .key = std::move(key), .type = Key::Type::kBool,
        .meaning = std::move(meaning), .flag = std::move(flag), .commands = commands};
  k.get_bool = [field](const Config& c) { return field(const_cast<Config&>(c)); };
  k.set_bool = [field](Config& c, bool v) { field(c) = v; };
  return k;
}

#define STRATA_FIELD(expr) [](Config& c) -> auto& { return c.expr; }

std::vector<Key> MakeKeys() {
  constexpr unsigned kRuns = kBootCommand | kCheckCommand | kTLinkCommand | kComposeCommand;
  constexpr unsigned kThreadRuns = kBootCommand | kTLinkCommand | kComposeCommand;
  std::vector<Key> keys;
  keys.push_back(Int("machine", "cpus", 1, machine::kMaxCpus, "CPUs", STRATA_FIELD(machine.cpus),
                     "--cpus", kRuns));
  Key stack = Int("machine", "stack_kib", 16, 65536,
                  "stack per CPU and per thread, KiB (plus 2 pages: a guard page and room to "
                  "stagger the tops)",
                  STRATA_FIELD(machine.stack_bytes));
  stack.get_int = [](const Config& c) {
    return static_cast<std::int64_t>(c.machine.stack_bytes / 1024);
  };
  stack.set_int = [](Config& c, std::int64_t kib) {
    c.machine.stack_bytes = static_cast<std::size_t>(kib) * 1024;
  };
  keys.push_back(stack);
  keys.push_back(Name("oracle", "kind", "the hardware scheduler", STRATA_FIELD(oracle),
                      [](const Catalog& c) -> const auto& { return c.oracles; }, "--oracle",
                      kThreadRuns,
                      " (a recorded schedule is replayed with `strata replay FILE`)"));
  keys.back().replay_ignores = true;
  keys.push_back(Int("oracle", "seed", 0, kMaxInt64,
                     "seed of random and pct, and the first seed of a check",
                     STRATA_FIELD(seed), "--seed", kRuns));
  keys.push_back(Int("oracle", "fairness", 0, 1'000'000'000,
                     "F: every runnable CPU steps within F switch points; 0 = 8 x cpus, else >= cpus",
                     STRATA_FIELD(machine.fairness)));
  keys.push_back(Int("oracle", "pct_depth", 1, 64, "PCT bug depth d (d - 1 priority change points)",
                     STRATA_FIELD(pct_depth)));
  keys.back().replay_ignores = true;
  keys.push_back(Int("oracle", "pct_horizon", 0, 1'000'000'000,
                     "steps over which PCT draws its change points; 0 = the measured length of "
                     "the runs (check: the longest so far, the first run without change points; "
                     "boot, compose, tlink: a first run without change points)",
                     STRATA_FIELD(pct_horizon)));
  keys.back().replay_ignores = true;
  keys.push_back(Int("oracle", "thread_limit", 0, 1'000'000'000,
                     "TSched: most scheduling queries a READY thread waits; 0 = off",
                     STRATA_FIELD(stack.bounds.limit)));
  keys.push_back(Int("oracle", "thread_progress", 0, 1'000'000'000,
                     "TSched: most own steps a thread runs without switching; 0 = off",
                     STRATA_FIELD(stack.bounds.progress)));
  keys.push_back(Name("env", "kind", "the environment context of the per-CPU machine",
                      STRATA_FIELD(env),
                      [](const Catalog& c) -> const auto& { return c.environments; }, "--env",
                      kBootCommand | kCheckCommand | kComposeCommand));
  keys.push_back(Int("env", "focus", -1, machine::kMaxCpus - 1,
                     "the per-CPU machine's CPU (below machine.cpus); -1 = none: every CPU live, or in a "
                     "per-CPU check each CPU in turn",
                     STRATA_FIELD(focus), "--focus", kBootCommand | kCheckCommand | kComposeCommand));
  keys.push_back(String(
      "env", "recording",
      "a recorded environment's run: a schedule file a boot run of the same config wrote, or the "
      "JSON-lines log of one (boot --log), relative to the config file's folder; \"\" = record "
      "the config's own multicore run first",
      STRATA_FIELD(recording), nullptr, nullptr, "--recording", kBootCommand | kComposeCommand));
  keys.back().is_path = true;
  keys.push_back(Int("run", "max_steps", 1, 1'000'000'000'000,
                     "shared steps before the run is stopped as step-budget",
                     STRATA_FIELD(machine.max_steps)));
  keys.push_back(String(
      "workload", "kind", "what `strata boot` runs: a bare-machine or a thread workload",
      STRATA_FIELD(workload), [](const Catalog& c) { return WorkloadNames(c); },
      [](const Catalog& c, const std::string& v) { return FindWorkload(c, v).has_value(); },
      "--workload", kThreadRuns));
  keys.push_back(Int("workload", "iterations", 0, 100'000'000,
                     "loop count per CPU (per thread for thread workloads)",
                     STRATA_FIELD(iterations)));
  keys.push_back(Int("workload", "threads", 1, 65536, "threads per CPU (thread workloads)",
                     STRATA_FIELD(threads)));
  keys.push_back(Name("stack", "lock", "the lock layer's implementation (under the queue and the scheduler too)",
                      STRATA_FIELD(stack.lock),
                      [](const Catalog& c) -> const auto& { return c.locks; }, "--lock",
                      kRuns));
  keys.push_back(Name("stack", "queue",
                      "the queue layer's implementation (the scheduler's pending and sleep queues too)",
                      STRATA_FIELD(stack.queue),
                      [](const Catalog& c) -> const auto& { return c.queues; }, "--queue",
                      kRuns));
  keys.push_back(Name("stack", "tcb", "the TCB-pool layer's implementation (the scheduler's TCBs)",
                      STRATA_FIELD(stack.tcb),
                      [](const Catalog& c) -> const auto& { return c.tcbs; }, "--tcb",
                      kRuns));
  keys.push_back(Name("stack", "sched", "the scheduler: module, spec, or another module",
                      STRATA_FIELD(stack.sched),
                      [](const Catalog& c) -> const auto& { return c.scheds; }, "--sched",
                      kRuns));
  keys.push_back(Int("stack", "max_threads", 0, 65536, "TCB pool size; 0 = enough for the workload",
                     STRATA_FIELD(stack.max_threads)));
  keys.push_back(String(
      "check", "layer", "the layer `strata check` checks: all, or one of the stack's",
      STRATA_FIELD(check_layer), [](const Catalog&) { return "all, " + sched::LayerNames(); },
      [](const Catalog&, const std::string& v) {
        if (v == "all") return true;
        for (const kernel::LayerInfo& l : sched::Stack({})) {
          if (l.name == v) return true;
        }
        return false;
      },
      "--layer", kCheckCommand));
  keys.push_back(Name("check", "strategy", "how `strata check` explores", STRATA_FIELD(strategy),
                      [](const Catalog& c) -> const auto& { return c.strategies; }, "--strategy",
                      kCheckCommand));
  keys.push_back(Int("check", "runs", 1, 1'000'000'000'000,
                     "executions to check; for an exhaustive strategy a cap", STRATA_FIELD(runs),
                     "--runs", kCheckCommand));
  keys.push_back(Int("check", "preemption_bound", -1, 1'000'000,
                     "dfs: most preemptions per schedule; -1 = none",
                     STRATA_FIELD(preemption_bound), "--preemption-bound", kCheckCommand));
  keys.back().strategies = "dfs, portfolio";
  keys.push_back(String(
      "check", "reduction",
      "dfs: dpor (optimal DPOR: each class of schedules equal up to the order of independent "
      "steps once), sleep (sleep sets) or none",
      STRATA_FIELD(reduction), [](const Catalog&) { return std::string("dpor, sleep, none"); },
      [](const Catalog&, const std::string& v) { return layers::ParseReduction(v).has_value(); },
      "--reduction", kCheckCommand));
  keys.back().strategies = "dfs, portfolio";
  keys.push_back(Bool("check", "symmetry",
                      "dfs: where the layer's client and modules declare the cpus interchangeable, "
                      "one schedule per renaming of them",
                      STRATA_FIELD(symmetry), "--no-symmetry", kCheckCommand));
  keys.back().strategies = "dfs, portfolio";
  keys.push_back(Int("check", "jobs", 0, kMaxJobs,
                     "host threads that make and check executions (random, pct and dfs split "
                     "their work; the portfolio runs on one); 0 = one per core it may run on "
                     "(under mpirun, the host's cores shared by its ranks). The result does not "
                     "depend on it",
                     STRATA_FIELD(jobs), "--jobs", kCheckCommand));
  keys.push_back(Bool("check", "shrink", "shrink a failure's schedule (check and boot)", STRATA_FIELD(shrink),
                      "--no-shrink", kCheckCommand | kBootCommand));
  keys.push_back(Int("check", "iterations", 1, 1'000'000, "calls per CPU of each pair's client",
                     STRATA_FIELD(stack.iterations)));
  keys.push_back(Int("check", "bound", 0, 1'000'000,
                     "the lock client's critical-section bound (events)", STRATA_FIELD(stack.bound)));
  keys.push_back(Int("check", "overrun", 0, 1'000'000,
                     "extra events the lock client appends past its bound (known-bad when > 0)",
                     STRATA_FIELD(stack.overrun)));
  keys.push_back(Int("check", "capacity", 1, 1'000'000, "the capacity of the queue and TCB-pool clients' queue and pool",
                     STRATA_FIELD(stack.capacity)));
  keys.push_back(String(
      "check", "client",
      "each pair's client: general (every layer's most-general client), fixed (each layer's "
      "fixed client; the sched layer's is ping-pong), or a thread workload for the sched check "
      "(the kernel layers then run their fixed clients)",
      STRATA_FIELD(stack.client),
      [](const Catalog& c) { return "fixed, " + c.threads.Names(); },
      [](const Catalog& c, const std::string& v) {
        return v == "fixed" || c.threads.Find(v) != nullptr;
      }));
  keys.push_back(Int("check", "threads", 1, 4096, "threads per CPU of the sched check's client",
                     STRATA_FIELD(stack.threads)));
  for (Key& k : keys) {
    if (k.table == "env" || k.table == "check") k.replay_ignores = true;
  }
  return keys;
}

#undef STRATA_FIELD

std::string ExpectedInt(std::int64_t lo, std::int64_t hi) {
  return fmt::format("an integer from {} to {}", lo, hi);
}

}  // namespace

std::optional<std::string> OutOfRange(std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value >= lo && value <= hi) return std::nullopt;
  return fmt::format("expected {}, got {}", ExpectedInt(lo, hi), value);
}

std::string Key::Expected(const Catalog& catalog) const {
  switch (type) {
    case Type::kInt:
      return ExpectedInt(lo, hi);
    case Type::kBool:
      return "true or false";
    case Type::kString:
      return names ? fmt::format("one of {}", names(catalog)) : std::string("a string");
  }
  return "?";
}

std::string Key::Toml(const Config& c) const {
  switch (type) {
    case Type::kInt:
      return fmt::format("{}", get_int(c));
    case Type::kBool:
      return get_bool(c) ? "true" : "false";
    case Type::kString:
      return fmt::format("\"{}\"", get_string(c));
  }
  return "?";
}

const std::vector<Key>& Keys() {
  // A constant table (it holds no state): built once, never changed.
  static const std::vector<Key> keys = MakeKeys();
  return keys;
}

std::vector<std::string> KeyTables() {
  std::vector<std::string> tables;
  for (const Key& k : Keys()) {
    if (tables.empty() || tables.back() != k.table) tables.push_back(k.table);
  }
  return tables;
}

std::optional<std::string> SetInt(const Key& k, const Catalog& /*catalog*/, Config& c,
                                  std::int64_t value) {
  if (std::optional<std::string> wrong = OutOfRange(value, k.lo, k.hi)) return wrong;
  k.set_int(c, value);
  return std::nullopt;
}

std::optional<std::string> SetString(const Key& k, const Catalog& catalog, Config& c,
                                     const std::string& value) {
  if (k.known && !k.known(catalog, value)) {
    return fmt::format("expected {}, got \"{}\"{}", k.Expected(catalog), value, k.hint);
  }
  k.set_string(c, value);
  return std::nullopt;
}

absl::Status ApplyFlag(const Key& k, const Catalog& catalog, const std::string& text, Config& c) {
  std::optional<std::string> wrong;
  switch (k.type) {
    case Key::Type::kInt: {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        wrong = fmt::format("expected {}, got \"{}\"", k.Expected(catalog), text);
      } else {
        wrong = SetInt(k, catalog, c, v);
      }
      break;
    }
    case Key::Type::kString:
      wrong = SetString(k, catalog, c, text);
      break;
    case Key::Type::kBool:
      k.set_bool(c, !k.get_bool(Config{}));
      break;
  }
  if (wrong) return absl::InvalidArgumentError(fmt::format("{}: {}", k.flag, *wrong));
  return absl::OkStatus();
}

std::string KeyTableMarkdown(const Catalog& catalog) {
  const Config defaults;
  std::string out = "| key | default | meaning | flag |\n|---|---|---|---|\n";
  for (const Key& k : Keys()) {
    std::string meaning = k.meaning;
    if (k.type == Key::Type::kString && k.names) meaning += fmt::format(" ({})", k.names(catalog));
    if (k.type == Key::Type::kInt) meaning += fmt::format("; {} to {}", k.lo, k.hi);
    out += fmt::format("| `{}` | `{}` | {} | {} |\n", k.name(), k.Toml(defaults), meaning,
                       k.flag.empty() ? std::string() : fmt::format("`{}`", k.flag));
  }
  return out;
}

}  // namespace strata::boot
