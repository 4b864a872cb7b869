// Environment contexts of the per-CPU machine Boot[cid, ε] (DESIGN §2.2).
//
// A per-CPU machine is a Machine whose options name a focused CPU
// (MachineOptions::focus): that CPU runs its code live; every other CPU is
// the environment context ε, whose events reach the same log, monitors and
// replay functions as live ones. What an ε appends is its own business —
// an event a monitor refuses is an invalid environment, never the focused
// CPU's failure — and an ε never appends an event of the focused CPU: it
// runs on the other CPUs only. Where the focused CPU's next step falls
// among ε's events is the oracle's choice, as on the multicore machine.
//
// The kinds, each a catalog entry (boot/catalog.h: `env.kind`, `--env`):
//   live         the other CPUs run their own code under the configured
//                oracle: the multicore machine as a special case;
//   recorded     the other CPUs' events from a recorded run, replayed in
//                order by machine operation, under the recorded schedule,
//                so each falls at its recorded position relative to the
//                focused CPU's (RecordedEnvironment);
//   random       for a layer's per-CPU check (CheckEnvironment): the other
//                CPUs make seeded random moves within the layer's rely —
//                its check client's calls (by default the most-general
//                client's: every call sequence and argument the rely
//                allows), through the module — in random bursts between
//                the focused CPU's steps (RandomBursts), under the
//                fairness bound F;
//   adversarial  the same moves chosen to hurt (AdversarialEnvironment).
// What the machine attributes to the environment is what a monitor refuses
// of its events; a data race an environment CPU's replayed pull or push
// runs into is reported as the data race it is.
#ifndef STRATA_MACHINE_ENVIRONMENT_H_
#define STRATA_MACHINE_ENVIRONMENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"

#include "machine/event.h"
#include "machine/machine.h"
#include "machine/oracle.h"

namespace strata::machine {

// Appends recorded event `e` again on `cpu`, as e's thread: the same
// machine operation with the same arguments and event kind (a layer's
// INC_TICKET is the fetch-and-add it is; an atomic step returns its
// recorded result), a push with `pushed` as the block's contents, the
// linearization flag kept. A wait is replayed as the load it was recorded
// as (with the value it waited for): the recorded schedule says when. Shared by every recorded
// environment (a per-CPU machine's, a per-thread machine's).
void ReplayEvent(Cpu& cpu, const Event& e, std::span<const std::int64_t> pushed);

// A recorded run, as a recorded environment replays it: the log's events,
// the contents of every block pushed, the oracle's choices and the log's
// hash. Made from a machine that ran (RecordingOf) or read from a log file
// strata wrote (boot/log_file.h).
struct Recording {
  int cpus = 0;
  std::vector<Event> events;
  // The contents pushed at each push, by the push's position in `events`.
  absl::btree_map<std::uint64_t, std::vector<std::int64_t>> pushed;
  // The CPU chosen at each shared step. From a machine, its own; from a log,
  // the CPUs of its shared steps in order (the same, but for a failed run's
  // last choice, whose step appended nothing).
  std::vector<CpuId> schedule;
  std::uint64_t log_hash = 0;
  // The kind names of events read from a file: their EventKinds point here
  // (set nodes stay put when the Recording moves).
  std::set<std::string, std::less<>> kind_names;
};

// `recorded`'s run. Precondition: it kept its pushed contents
// (Machine::KeepPushedContents) if any block was pushed.
Recording RecordingOf(const Machine& recorded);

// The schedule a log's events imply: the CPU of each shared step, in order.
std::vector<CpuId> ScheduleOf(std::span<const Event> events);

// The recorded environment: a recorded run's events of each CPU, to replay
// on that CPU of another machine made the same way (the same objects, in
// the same order).
class RecordedEnvironment {
 public:
  explicit RecordedEnvironment(Recording recording);
  // Moves keep the pointers into the recording's buffers; copies would not.
  RecordedEnvironment(RecordedEnvironment&&) = default;
  RecordedEnvironment& operator=(RecordedEnvironment&&) = default;
  RecordedEnvironment(const RecordedEnvironment&) = delete;
  RecordedEnvironment& operator=(const RecordedEnvironment&) = delete;
  // Replays all of CPU `cpu.id()`'s recorded events on `cpu`, in order.
  void Run(Cpu& cpu) const;
  // The recorded schedule: the oracle choices that put each replayed event
  // at its recorded position.
  const std::vector<CpuId>& schedule() const { return recording_.schedule; }
  int cpus() const { return recording_.cpus; }
  std::uint64_t log_hash() const { return recording_.log_hash; }
  const Recording& recording() const { return recording_; }

 private:
  // A recorded event and, for a push, the contents it pushed (into
  // recording_'s buffers, which a move keeps).
  struct Replayed {
    const Event* event;
    std::span<const std::int64_t> pushed;
  };
  Recording recording_;
  std::vector<std::vector<Replayed>> events_;  // per CPU: its events, in log order
};

// What an environment context is given for one per-CPU run.
struct EnvironmentInput {
  Machine::Program live;           // the workload's program, which the focused CPU runs
  std::unique_ptr<Oracle> oracle;  // the configured hardware scheduler
  // A recorded run of the same config on the multicore machine, for kinds
  // that replay one (EnvironmentContext::replays_recording); else null.
  const RecordedEnvironment* recording = nullptr;
};

// What it makes: every CPU's program (the focused one runs `live`) and the
// oracle that interleaves them.
struct EnvironmentRun {
  Machine::Program program;
  std::unique_ptr<Oracle> oracle;
};

// What an environment context is for a layer's per-CPU check (strata
// check --env): the focused CPU runs the check client over the module; the
// other CPUs run it too, drawing their moves as `draws` says, and `schedule`
// shapes the strategy's interleaving. The check of DESIGN §5 then applies
// to the focused CPU's calls: an execution in which an environment CPU's
// event is the first one the check refuses left the rely, and is counted,
// never blamed on the focused CPU (layers/explorer.h).
struct CheckEnvironment {
  Draws draws = Draws::kUniform;
  // The oracle of execution `i` (0, 1, ...) over the strategy's, which
  // stays valid while it is used (until the strategy's next execution);
  // null: the strategy's oracle as it is.
  std::function<std::unique_ptr<Oracle>(CpuId focus, std::uint64_t i, Oracle& strategy)> schedule;
};

// The machine of a per-CPU check of `focus` against `env`, from `base`.
MachineOptions CheckOptions(MachineOptions base, CpuId focus, const CheckEnvironment& env);

// An environment context as the catalog holds it.
struct EnvironmentContext {
  // Whether it needs a recorded multicore run of the config first.
  bool replays_recording = false;
  // Makes a boot run (strata boot --env); null for a kind that moves within
  // a layer's rely, which only a layer's check has.
  std::function<EnvironmentRun(CpuId focus, EnvironmentInput input)> make;
  // What it is for a per-CPU check; nullopt for a kind a check cannot use.
  std::optional<CheckEnvironment> check;
};

// The options of a per-CPU machine focused on `focus` under `context`,
// from the multicore machine's: a context that replays a recording turns
// the fairness guard off (fairness was the recorded run's to keep, and a
// replayed wait is a plain load, so an environment CPU is runnable where it
// was blocked).
MachineOptions PerCpuOptions(MachineOptions multicore, CpuId focus,
                             const EnvironmentContext& context);

// `live`: every CPU runs `live` under the configured oracle.
EnvironmentContext LiveEnvironment();
// `recorded`: the focused CPU runs `live`, the others replay the recording,
// under the recorded schedule.
EnvironmentContext RecordedEnvironmentContext();
// `random`: the check client's seeded moves on the other CPUs, in bursts
// (RandomBursts).
EnvironmentContext RandomEnvironment();
// The schedule of a random environment in execution `i`: after each step
// of the focused CPU the environment takes a burst of steps before the
// focused CPU's next one — a seeded draw per burst: 0 to twice the number
// of runnable environment CPUs (one step each on average, as a multicore
// run gives), or one time in eight 0 to F - 1 (at most 63) —
// each by the environment CPU `strategy`'s oracle picks; the focused CPU
// steps at once when no environment CPU can, and the fairness guard's
// overdue CPU always steps.
std::unique_ptr<Oracle> RandomBursts(CpuId focus, std::uint64_t i, Oracle& strategy);
// `adversarial`, each choice made to hurt the focused CPU:
//   - values at the edges: the other CPUs' clients draw Draws::kEdges (the
//     largest bound, the longest critical section, the most calls, ids and
//     values out of range where the client tries them);
//   - who goes first, in turn from execution to execution:
//     even executions, the environment first: an environment CPU takes the
//     step whenever one can, the focused CPU when none can or the fairness
//     guard makes it, so each of its calls waits as long as F allows;
//     odd ones, the focused CPU first: the environment moves only when the
//     focused CPU cannot or the guard makes it, so its events land in the
//     middle of the focused CPU's calls, as late as F allows (and a bug
//     every CPU's own calls hit shows on the focused CPU first);
//   - an environment CPU that ran last goes on while it can, so what it
//     holds (a lock, a TCB) it holds as long as its bound and F allow, and
//     it releases, wakes or hands over as late as they allow;
//   - otherwise the strategy's oracle picks among the environment CPUs.
EnvironmentContext AdversarialEnvironment();
// The adversarial schedule of execution `i` over `strategy`'s oracle (above).
std::unique_ptr<Oracle> AdversarialSchedule(CpuId focus, std::uint64_t i, Oracle& strategy);

}  // namespace strata::machine

#endif  // STRATA_MACHINE_ENVIRONMENT_H_
