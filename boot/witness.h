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

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "layers/layer.h"
#include "layers/refinement.h"

namespace strata::boot {

// One execution's witness as a JSON object. Precondition: `x` was checked
// with layers::Checking::kWitness (else it has no crossings and no pushed
// contents).
std::string WitnessJson(const layers::LayerPair& pair, const layers::Execution& x);

// What `--witness` collects: per checked layer, its executions' witnesses.
class WitnessFile {
 public:
  void BeginLayer(const std::string& layer, const layers::LayerPair& pair);
  void Add(std::string execution_json) { layers_.back().executions.push_back(std::move(execution_json)); }
  std::size_t executions() const;
  // Writes the file whole or not at all (a temporary file renamed into place).
  absl::Status Write(const std::string& path) const;

 private:
  struct Layer {
    std::string name, lower, upper;
    std::vector<std::string> executions;
  };
  std::vector<Layer> layers_;
};

}  // namespace strata::boot

#endif  // STRATA_BOOT_WITNESS_H_
