// The catalog's building block: a registry of named entries of one kind (lock
// implementations, workloads, strategies, ...). An entry has a name, a
// one-line summary, a known-bad flag with the verdict a known-bad entry must
// get, and a factory. Config validation, help texts, error messages and
// `strata layers` read registries; nothing else lists names. A registry is a
// plain value: the catalog that holds them is passed explicitly.
#ifndef STRATA_LAYERS_REGISTRY_H_
#define STRATA_LAYERS_REGISTRY_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "machine/check.h"
#include "machine/report.h"

namespace strata::layers {

template <class Factory>
struct Entry {
  std::string name;     // "ticket": what configs and the command line say
  std::string summary;  // one line for help texts and `strata layers`
  bool known_bad = false;
  // For a known-bad entry: the name of the outcome or verdict it must end
  // in (machine/report.h: "deadlock", "impossible-upper-log", ...); empty
  // for a good one.
  std::string expect;
  Factory make;
  // The implementation treats cpus alike (it never branches on a cpu's id
  // except to pick that cpu's own objects, made with NewWord's `mine`, and
  // to name itself in values it stores), so renaming the cpus of one of
  // its runs gives a run of it, with the same waits and bounds, renamed
  // (so its view orders cpus at shared steps, never by the order of their
  // calls). A check may then explore one schedule per renaming
  // (LayerPair::interchangeable). Say so only if it is true.
  bool symmetric = false;
};

template <class Factory>
class Registry {
 public:
  using EntryType = Entry<Factory>;

  // `what` names the kind in messages: "lock implementation".
  explicit Registry(std::string what) : what_(std::move(what)) {}

  // Adds an entry. Precondition: no entry has its name, the name is not
  // empty, and a known-bad entry says what it expects.
  Registry& Add(EntryType entry) {
    STRATA_CHECK(!entry.name.empty(), "a {} without a name", what_);
    STRATA_CHECK(Find(entry.name) == nullptr, "two {}s named {}", what_, entry.name);
    STRATA_CHECK(!entry.known_bad || (machine::ParseOutcome(entry.expect).has_value() &&
                                      machine::IsFailure(*machine::ParseOutcome(entry.expect))),
                 "known-bad {} {} declares no failure of machine/report.h (\"{}\")", what_,
                 entry.name, entry.expect);
    // Names go into configs and schedule files as they are.
    STRATA_CHECK(entry.name.find_first_not_of(
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                     std::string::npos,
                 "{} name \"{}\": use letters, digits, '.', '_' and '-' only", what_, entry.name);
    entries_.push_back(std::move(entry));
    return *this;
  }

  // The entry called `name`, or nullptr.
  const EntryType* Find(std::string_view name) const {
    for (const EntryType& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  const std::vector<EntryType>& entries() const { return entries_; }
  const std::string& what() const { return what_; }

  // "spec, ticket, mcs": every name, in the order added.
  std::string Names() const {
    std::string out;
    for (const EntryType& e : entries_) out += fmt::format("{}{}", out.empty() ? "" : ", ", e.name);
    return out;
  }
  // `expected one of spec, ticket, got "x"`: the tail of an error message.
  std::string Expected(std::string_view got) const {
    return fmt::format("expected one of {}, got \"{}\"", Names(), got);
  }

 private:
  std::string what_;
  std::vector<EntryType> entries_;
};

}  // namespace strata::layers

#endif  // STRATA_LAYERS_REGISTRY_H_
