#include "boot/witness.h"

#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boot/json_text.h"
#include "boot/schedule_file.h"
#include "machine/check.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/schedule.h"

namespace strata::boot {
namespace {

using nlohmann::ordered_json;

const layers::Primitive* PrimitiveOf(const layers::LayerPair& pair, const machine::Event& e) {
  for (const layers::Primitive& p : pair.primitives()) {
    if ((e.op == machine::OpCode::kCall && p.call == e.kind) ||
        (e.op == machine::OpCode::kReturn && p.ret == e.kind)) {
      return &p;
    }
  }
  return nullptr;
}

// Calls are per agent: the thread when there is one, else the cpu.
std::pair<bool, std::int64_t> AgentOf(const machine::Event& e) {
  return {e.thread.valid(), e.thread.valid() ? e.thread.value() : e.cpu.value()};
}

// The blocks `agent` pulls (`pulls`) or pushes in the lower log from `from`
// to `to` (inclusive), with their contents then and the lower event that
// moved them ("at": a call's blocks are pulled later, inside the call):
// Mem of a crossing.
ordered_json Memory(const machine::Machine& m, std::size_t from, std::size_t to,
                    std::pair<bool, std::int64_t> agent, bool pulls) {
  const machine::Log& log = m.log();
  ordered_json mem = ordered_json::object();
  for (std::size_t i = from; i <= to && i < log.size(); ++i) {
    const machine::Event& e = log[i];
    if (AgentOf(e) != agent) continue;
    if (e.op != (pulls ? machine::OpCode::kPull : machine::OpCode::kPush)) continue;
    std::span<const std::int64_t> contents;
    if (pulls) {
      // What it pulled: the block's last push before the pull.
      for (std::size_t j = i; j-- > 0;) {
        if (log[j].op == machine::OpCode::kPush && log[j].object == e.object) {
          contents = m.pushed(j);
          break;
        }
      }
    } else {
      contents = m.pushed(i);
    }
    mem[std::string(log.object_name(e.object))] = {
        {"version", e.result},
        {"contents", std::vector<std::int64_t>(contents.begin(), contents.end())},
        {"at", i}};
  }
  return mem;
}

std::string Label(const layers::Primitive* p, const machine::Event& e, const ordered_json& mem) {
  std::string shared;
  for (const auto& [block, v] : mem.items()) {
    shared += fmt::format("{}{}: {}", shared.empty() ? "" : ", ", block, JsonText(v["contents"]));
  }
  const std::string name = p != nullptr ? p->name : std::string(e.kind.name());
  if (e.op == machine::OpCode::kCall) {
    return fmt::format("call({}) {} {} ? {{{}}}", name, e.arg0, e.arg1, shared);
  }
  return fmt::format("ret({}) {} ! {{{}}}", name, e.result, shared);
}

}  // namespace

std::string WitnessJson(const layers::LayerPair& pair, const layers::Execution& x) {
  const machine::Machine& m = *x.machine;
  const machine::Log& log = m.log();
  ordered_json j;
  j["schedule"] = machine::EncodeChoices({m.schedule().begin(), m.schedule().end()});
  j["verdict"] = x.verdict.name();
  j["message"] = x.verdict.message;
  j["first_bad"] = x.verdict.event ? ordered_json(*x.verdict.event) : ordered_json();
  const std::size_t last = x.verdict.event ? static_cast<std::size_t>(*x.verdict.event) : log.size();
  ordered_json map = ordered_json::array();
  for (std::size_t i = 0; i < log.size(); ++i) {
    const machine::Event& e = log[i];
    ordered_json row;
    row["seq"] = i;
    row["event"] = log.RenderText(e);
    row["where"] = machine::FormatWhere(log.where(i));
    const std::int64_t to = i < x.image.size() ? x.image[i] : -1;
    if (to >= 0) {
      const machine::Event& u = x.mapped[static_cast<std::size_t>(to)];
      row["upper"] = {{"seq", to}, {"event", log.RenderText(u)}};
      row["role"] = e.marker() ? "border" : u.kind != e.kind ? "linearization point" : "kept";
    } else {
      row["upper"] = nullptr;
      row["role"] = i > last ? "after the first bad event"
                    : e.marker() ? "dropped: a marker of the layer below"
                                 : "dropped: internal";
    }
    map.push_back(std::move(row));
  }
  j["map"] = std::move(map);
  ordered_json crossings = ordered_json::array();
  std::map<std::pair<bool, std::int64_t>, std::size_t> open;  // agent -> its call's seq
  for (const layers::Crossing& c : x.crossings) {
    if (c.seq > last) break;  // a verdict found after the walk: up to its event
    const machine::Event& e = log[c.seq];
    const layers::Primitive* p = PrimitiveOf(pair, e);
    const auto agent = AgentOf(e);
    const bool call = e.op == machine::OpCode::kCall;
    // Into a call, the blocks it pulls (up to its return, or the log's end);
    // out of it, the blocks it pushed since its call.
    std::size_t from = c.seq, to = c.seq;
    if (call) {
      open[agent] = c.seq;
      to = log.size() - 1;
      for (std::size_t i = c.seq + 1; i < log.size(); ++i) {
        if (AgentOf(log[i]) == agent && log[i].op == machine::OpCode::kReturn && PrimitiveOf(pair, log[i]) == p) {
          to = i;
          break;
        }
      }
    } else if (auto it = open.find(agent); it != open.end()) {
      from = it->second;
    }
    const ordered_json mem = Memory(m, from, to, agent, call);
    ordered_json row;
    row["seq"] = c.seq;
    row["label"] = Label(p, e, mem);
    row["primitive"] = p != nullptr ? p->name : std::string(e.kind.name());
    row["direction"] = call ? "call" : "return";
    row["values"] = call ? ordered_json::array({e.arg0, e.arg1}) : ordered_json::array({e.result});
    row["memory"] = mem;
    row["module_state"] = c.lower_state;
    row["spec_state"] = c.upper_state;
    row["relation"] = c.broken ? "broken: " + *c.broken : std::string("holds");
    // The relation may hold where the check failed otherwise (a return the
    // spec would not give): the first bad event says so itself.
    const bool bad = x.verdict.event && *x.verdict.event == c.seq;
    row["first_bad"] = bad;
    row["failure"] = bad ? ordered_json(fmt::format("{}: {}", x.verdict.name(), x.verdict.message))
                         : ordered_json();
    crossings.push_back(std::move(row));
  }
  j["crossings"] = std::move(crossings);
  return JsonText(j);
}

absl::Status WitnessFile::Open(const std::string& path) {
  if (absl::Status s = out_.Open(path); !s.ok()) return s;
  out_.Append("{\"witness\":1,\"layers\":[");
  return absl::OkStatus();
}

void WitnessFile::BeginLayer(const std::string& layer, const layers::LayerPair& pair) {
  if (!out_.open()) return;
  out_.Append(fmt::format("{}{{\"layer\":{},\"lower\":{},\"upper\":{},\"executions\":[",
                          layers_ == 0 ? "" : "]},", JsonText(layer), JsonText(pair.lower()),
                          JsonText(pair.upper())));
  ++layers_;
  in_layer_ = 0;
}

void WitnessFile::Add(std::string_view execution_json) {
  if (!out_.open()) return;
  STRATA_CHECK(layers_ > 0, "a witness added before its layer");
  if (in_layer_++ > 0) out_.Append(",");
  out_.Append(execution_json);
  ++executions_;
}

absl::Status WitnessFile::Write() {
  STRATA_CHECK(out_.open(), "WitnessFile::Write without Open");
  out_.Append(layers_ == 0 ? "]}\n" : "]}]}\n");
  return out_.Commit();
}

}  // namespace strata::boot
