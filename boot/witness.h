// The refinement witness (`strata check --witness FILE`): for a checked
// execution, the log map from lower events to upper ones (each
// linearization point, each internal event dropped), and at every border
// crossing the label of the crossing — `call(f) v̄ ?  Mem` for a call,
// `ret(f) v ! Mem` for a return, as the trace labels of fully-abstract
// compilation proofs: the values and the shared blocks that cross the border
// with it (contents, not hashes) — the replayed module and spec states just
// after it, and the relation R there.
//
// JSON, one file: {"witness": 1, "layers": [{"layer", "lower", "upper",
// "executions": [execution, ...]}]}; an execution is {"schedule",
// "verdict", "message", "first_bad", "map": [...], "crossings": [...]} (the
// keys are listed in README.md).
#ifndef STRATA_BOOT_WITNESS_H_
#define STRATA_BOOT_WITNESS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "boot/files.h"
#include "layers/layer.h"
#include "layers/refinement.h"

namespace strata::boot {

// One execution's witness as a JSON object. Precondition: `x` was checked
// with layers::Checking::kWitness (else it has no crossings and no pushed
// contents).
std::string WitnessJson(const layers::LayerPair& pair, const layers::Execution& x);

// What `--witness` writes: per checked layer, its executions' witnesses,
// each written to the file as it is added (every execution's, with
// --witness-all, can be far larger than memory), the file whole or not at
// all (boot/files.h's OutputWriter).
class WitnessFile {
 public:
  // Starts the file at `path` (its temporary file). Error as
  // OutputWriter::Open. Without it, the rest does nothing.
  absl::Status Open(const std::string& path);
  void BeginLayer(const std::string& layer, const layers::LayerPair& pair);
  // Precondition: a layer was begun.
  void Add(std::string_view execution_json);
  std::size_t executions() const { return executions_; }
  // Ends the JSON and moves the file into place. Error as
  // OutputWriter::Commit.
  absl::Status Write();

 private:
  OutputWriter out_;
  std::size_t layers_ = 0;     // begun
  std::size_t in_layer_ = 0;   // executions added to the last one
  std::size_t executions_ = 0; // in all
};

}  // namespace strata::boot

#endif  // STRATA_BOOT_WITNESS_H_
