// The catalog: every choose-by-name thing of strata in one value — lock,
// queue and scheduler implementations, bare-machine and thread workloads
// (the thread workloads are also the sched check's clients), oracles,
// exploration strategies and environment contexts. Each is a layers::Registry of entries (name,
// summary, known-bad flag with its expected verdict, factory). Config
// validation, help texts, error messages, `strata layers` and the README's
// lists read it; nothing else lists names.
//
// The catalog is passed explicitly. A user's project starts from
// BuiltinCatalog(), adds its own entries, and hands it to strata::Main
// (boot/main.h): its binary then has every strata command and its modules.
#ifndef STRATA_BOOT_CATALOG_H_
#define STRATA_BOOT_CATALOG_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "boot/workloads.h"
#include "layers/registry.h"
#include "layers/strategy.h"
#include "machine/environment.h"
#include "machine/oracle.h"
#include "sched/stack.h"

namespace strata::boot {

// Makes the hardware scheduler of a run from the config's oracle options
// (seed, cpus, pct depth and horizon).
using OracleFactory =
    std::function<std::unique_ptr<machine::Oracle>(const machine::OracleOptions& options)>;
using OracleRegistry = layers::Registry<OracleFactory>;

struct Catalog : sched::SchedCatalog {
  WorkloadRegistry workloads{"workload"};        // bare-machine workloads
  OracleRegistry oracles{"oracle"};
  layers::StrategyRegistry strategies{"strategy"};
  // Environment contexts of the per-CPU machine (machine/environment.h).
  layers::Registry<machine::EnvironmentContext> environments{"environment context"};
};

// Everything strata ships.
Catalog BuiltinCatalog();

// The workload `workload.kind` names: a bare-machine one or a thread
// workload; nullopt if neither registry has it.
std::optional<Workload> FindWorkload(const Catalog& catalog, std::string_view name);
// "counter, lost-update, ..., thread-counter, ...": both registries' names.
std::string WorkloadNames(const Catalog& catalog);

}  // namespace strata::boot

#endif  // STRATA_BOOT_CATALOG_H_
