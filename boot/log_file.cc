#include "boot/log_file.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boot/files.h"
#include "machine/check.h"

namespace strata::boot {
namespace {

using nlohmann::json;

// A field of one line, checked: every error names the file, the line and
// the field.
class Line {
 public:
  Line(const std::string& path, std::size_t number, const json& object)
      : path_(path), number_(number), object_(object) {}

  absl::Status Error(std::string_view field, const std::string& what) const {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}: {}", path_, number_, field, what));
  }

  const json* Find(std::string_view field) const {
    const auto it = object_.find(field);
    return it == object_.end() ? nullptr : &*it;
  }

  // An integer in [lo, hi].
  absl::StatusOr<std::int64_t> Int(std::string_view field, std::int64_t lo, std::int64_t hi,
                                   bool required = true, std::int64_t otherwise = 0) const {
    const json* v = Find(field);
    if (v == nullptr) {
      if (!required) return otherwise;
      return Error(field, fmt::format("missing (expected an integer from {} to {})", lo, hi));
    }
    return IntOf(*v, field, lo, hi);
  }

  absl::StatusOr<std::int64_t> IntOf(const json& v, std::string_view field, std::int64_t lo,
                                     std::int64_t hi) const {
    const bool in_range =
        v.is_number_unsigned()
            ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
            : v.is_number_integer() && v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
    if (!in_range) {
      return Error(field, fmt::format("{} (expected an integer from {} to {})", v.dump(), lo, hi));
    }
    return v.is_number_unsigned() ? static_cast<std::int64_t>(v.get<std::uint64_t>())
                                  : v.get<std::int64_t>();
  }

  absl::StatusOr<std::string> String(std::string_view field) const {
    const json* v = Find(field);
    if (v == nullptr || !v->is_string()) {
      return Error(field, fmt::format("{} (expected a string)", v == nullptr ? "missing" : v->dump()));
    }
    return v->get<std::string>();
  }

 private:
  const std::string& path_;
  std::size_t number_;
  const json& object_;
};

constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kIdMax = std::numeric_limits<std::int32_t>::max();

constexpr std::string_view kFields[] = {"seq",  "cpu",  "thread", "object",     "oid",
                                        "op",   "kind", "arg0",   "arg1",       "result",
                                        "marker", "linearizes", "contents"};

}  // namespace

bool IsLogFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '{';
  }
  return false;
}

absl::StatusOr<LogFile> LoadLogFile(const std::string& path, int cpus) {
  STRATA_RETURN_IF_ERROR(
      CheckInputFile(path, "the log (expected a log file strata boot --log wrote)"));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format(
        "{}: cannot open the log (expected a log file strata boot --log wrote)", path));
  }
  LogFile file;
  machine::Recording& r = file.recording;
  r.cpus = cpus;
  machine::Log log;  // for the hash
  std::string text;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: a blank line (expected one event per line, as strata boot --log writes)", path,
          number));
    }
    const json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: not a JSON object (expected one event per line, as strata boot --log writes)",
          path, number));
    }
    const Line line(path, number, object);
    for (const auto& [key, value] : object.items()) {
      if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
        return line.Error(key, "unknown field (expected the fields of an event strata wrote)");
      }
    }
    machine::Event e;
    STRATA_ASSIGN_OR_RETURN(const std::int64_t seq, line.Int("seq", 0, kInt64Max));
    if (static_cast<std::size_t>(seq) != r.events.size()) {
      return line.Error("seq", fmt::format("{} (expected {}: the events in order, from 0)", seq,
                                           r.events.size()));
    }
    STRATA_ASSIGN_OR_RETURN(const std::int64_t cpu, line.Int("cpu", 0, kIdMax));
    if (cpu >= cpus) {
      return line.Error("cpu", fmt::format("{} is not a cpu of this config's machine (expected 0 "
                                           "to {}: a log of a run of this config)",
                                           cpu, cpus - 1));
    }
    e.cpu = machine::CpuId(static_cast<machine::CpuId::Rep>(cpu));
    STRATA_ASSIGN_OR_RETURN(const std::int64_t thread, line.Int("thread", -1, kIdMax));
    e.thread = machine::ThreadId(static_cast<machine::ThreadId::Rep>(thread));
    STRATA_ASSIGN_OR_RETURN(const std::int64_t oid, line.Int("oid", -1, kIdMax));
    e.object = machine::ObjectId(static_cast<machine::ObjectId::Rep>(oid));
    STRATA_ASSIGN_OR_RETURN(std::string name, line.String("object"));
    if (e.object.valid()) {
      auto known = std::find_if(file.objects.begin(), file.objects.end(),
                                [&](const LogFile::Object& o) { return o.id == e.object; });
      if (known == file.objects.end()) {
        file.objects.push_back({e.object, std::move(name), number});
      } else if (known->name != name) {
        return line.Error("object", fmt::format("\"{}\", but line {} names object {} \"{}\" "
                                                "(expected one name per oid)",
                                                name, known->line, oid, known->name));
      }
    }
    STRATA_ASSIGN_OR_RETURN(const std::string op, line.String("op"));
    const std::optional<machine::OpCode> code = machine::OpCodeNamed(op);
    if (!code.has_value()) {
      return line.Error("op", fmt::format("\"{}\" (expected a machine operation: faa, cas, swap, "
                                          "load, store, pull, push, atomic, call, ret or ghost)",
                                          op));
    }
    e.op = *code;
    STRATA_ASSIGN_OR_RETURN(const std::string kind, line.String("kind"));
    e.kind = machine::EventKind(r.kind_names.insert(kind).first->c_str());
    STRATA_ASSIGN_OR_RETURN(e.arg0, line.Int("arg0", kInt64Min, kInt64Max));
    STRATA_ASSIGN_OR_RETURN(e.arg1, line.Int("arg1", kInt64Min, kInt64Max));
    STRATA_ASSIGN_OR_RETURN(e.result, line.Int("result", kInt64Min, kInt64Max));
    STRATA_ASSIGN_OR_RETURN(const std::int64_t linearizes,
                            line.Int("linearizes", 0, 255, /*required=*/false));
    e.linearizes = static_cast<std::uint8_t>(linearizes);
    const json* contents = line.Find("contents");
    if (e.op == machine::OpCode::kPush) {
      if (contents == nullptr || !contents->is_array()) {
        return line.Error("contents",
                          fmt::format("{} (expected the pushed block's words: a log strata boot "
                                      "--log wrote keeps them)",
                                      contents == nullptr ? "missing" : contents->dump()));
      }
      std::vector<std::int64_t> words;
      for (const json& w : *contents) {
        STRATA_ASSIGN_OR_RETURN(const std::int64_t word,
                                line.IntOf(w, "contents", kInt64Min, kInt64Max));
        words.push_back(word);
      }
      r.pushed.emplace(r.events.size(), std::move(words));
    } else if (contents != nullptr) {
      return line.Error("contents", fmt::format("on a {} (expected contents on a push only)", op));
    }
    e.seq = r.events.size();
    r.events.push_back(e);
    log.Append(e);
  }
  if (in.bad()) return absl::InvalidArgumentError(fmt::format("{}: cannot read the log", path));
  if (r.events.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: no events (expected a log file strata boot --log wrote)", path));
  }
  r.schedule = machine::ScheduleOf(r.events);
  r.log_hash = log.hash();
  return file;
}

absl::Status CheckLogFits(std::span<const LogFile::Object> objects,
                          const machine::Recording& recording, const std::string& path,
                          const machine::Machine& made) {
  const machine::Log& log = made.log();
  for (const LogFile::Object& o : objects) {
    if (o.id.index() >= log.object_count()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: oid: {} (\"{}\") is not an object of this config's machine (expected ids 0 to "
          "{}: a log of a run of this config)",
          path, o.line, o.id.value(), o.name, log.object_count() - 1));
    }
    if (log.object_name(o.id) != o.name) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: object: \"{}\" is object {} here, \"{}\" in this config's machine (expected a "
          "log of a run of this config)",
          path, o.line, o.name, o.id.value(), log.object_name(o.id)));
    }
  }
  using Type = machine::Machine::ObjectType;
  for (const machine::Event& e : recording.events) {
    const std::size_t line = e.seq + 1;  // one event per line, from line 1
    if (!e.object.valid()) {
      if (e.marker()) continue;
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: oid: -1 on a {} (expected a shared step's object)", path, line, OpCodeName(e.op)));
    }
    const Type type = made.type(e.object);
    const bool word_op = e.op <= machine::OpCode::kStore;
    const bool block_op = e.op == machine::OpCode::kPull || e.op == machine::OpCode::kPush;
    if ((word_op && type != Type::kWord) || (block_op && type != Type::kBlock)) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: op: {} on \"{}\", which is not a {} in this config's machine (expected a log "
          "of a run of this config)",
          path, line, OpCodeName(e.op), log.object_name(e.object), word_op ? "word" : "block"));
    }
    if (e.op == machine::OpCode::kPush) {
      const std::size_t words = made.contents(machine::Block{e.object}).size();
      const auto it = recording.pushed.find(e.seq);
      const std::size_t pushed = it == recording.pushed.end() ? 0 : it->second.size();
      if (pushed != words) {
        return absl::InvalidArgumentError(fmt::format(
            "{}:{}: contents: {} words pushed to \"{}\", a block of {} in this config's machine "
            "(expected a log of a run of this config)",
            path, line, pushed, log.object_name(e.object), words));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace strata::boot
