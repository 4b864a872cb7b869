#include "boot/trace.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "boot/schedule_file.h"
#include "machine/check.h"
#include "sched/stack.h"

namespace strata::boot {
namespace {

using machine::Event;
using machine::OpCode;

constexpr int kCpusPid = 1;
constexpr int kThreadsPid = 2;
constexpr int kObjectsPid = 3;

// Where an agent's events go: its thread's track, or its CPU's for the code
// a CPU runs outside any thread. Ordered, so that iteration is deterministic.
struct Track {
  int pid = kCpusPid;
  std::int64_t tid = 0;
  friend auto operator<=>(const Track&, const Track&) = default;
};

Track TrackOf(const Event& e) {
  if (e.thread.valid()) return {kThreadsPid, e.thread.value()};
  return {kCpusPid, e.cpu.value()};
}

// Timestamps in quarter microseconds, printed exactly ("12", "12.25",
// "12.5"): a slice closes at its return + 0.5, an arrow into a slice that a
// call opens lands at the call + 0.25.
using Quarter = std::int64_t;
Quarter At(std::uint64_t seq, int quarters = 0) {
  return static_cast<Quarter>(seq) * 4 + quarters;
}
std::string Ts(Quarter q) {
  static constexpr const char* kFraction[] = {"", ".25", ".5", ".75"};
  return fmt::format("{}{}", q / 4, kFraction[q % 4]);
}

// A declared primitive's slice: its name and the layer that declares it.
struct SliceKind {
  std::string_view layer;
  std::string_view primitive;
  machine::EventKind ret;
};

// An arrow from one event to another.
struct Flow {
  std::uint64_t id = 0;
  std::uint64_t from = 0;  // seq
  std::uint64_t to = 0;    // seq
  std::string_view name;
  std::string_view layer;
};

// Where an arrow binds at event `e`: inside the slice a call opens, else at
// the event (inside the slice a return closes, or around a step).
Quarter FlowPoint(const Event& e) { return At(e.seq, e.op == OpCode::kCall ? 1 : 0); }

// Every declared hand-over in the log, in the order the arrows end; ids in
// that order from 1.
std::vector<Flow> FindFlows(const machine::Log& log, std::span<const layers::Timeline> timelines) {
  struct Declared {
    const layers::HandOver* hand_over;
    std::string_view layer;
    std::map<std::int64_t, std::uint64_t> last_by_object;         // kSameObject: object -> seq
    std::map<std::int64_t, std::vector<std::uint64_t>> waiting;  // kResultThread: tid -> seqs
  };
  std::vector<Declared> declared;
  for (const layers::Timeline& t : timelines) {
    for (const layers::HandOver& h : t.hand_overs) declared.push_back({&h, t.layer, {}, {}});
  }
  std::vector<Flow> flows;
  for (const Event& e : log.events()) {
    for (Declared& d : declared) {
      const layers::HandOver& h = *d.hand_over;
      // An event that both ends and starts one arrow ends the earlier one
      // first: it never points at itself.
      if (h.target == layers::HandOver::Target::kSameObject) {
        if (h.to.Matches(e)) {
          auto it = d.last_by_object.find(e.object.value());
          if (it != d.last_by_object.end()) {
            if (TrackOf(log[it->second]) != TrackOf(e)) {
              flows.push_back({flows.size() + 1, it->second, e.seq, h.name, d.layer});
            }
            d.last_by_object.erase(it);
          }
        }
        if (h.from.Matches(e)) d.last_by_object[e.object.value()] = e.seq;
      } else {
        if (e.thread.valid() && h.to.Matches(e)) {
          auto it = d.waiting.find(e.thread.value());
          if (it != d.waiting.end()) {
            for (std::uint64_t from : it->second) {
              flows.push_back({flows.size() + 1, from, e.seq, h.name, d.layer});
            }
            d.waiting.erase(it);
          }
        }
        if (h.from.Matches(e) && e.result >= 0) d.waiting[e.result].push_back(e.seq);
      }
    }
  }
  return flows;
}

// The text of one trace: events appended one per line.
class Writer {
 public:
  void Add(std::string line) {
    out_ += first_ ? "\n" : ",\n";
    first_ = false;
    out_ += line;
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
  bool first_ = true;
};

std::string Quoted(std::string_view s) { return "\"" + machine::JsonEscape(s) + "\""; }

std::string TrackFields(const Track& t) {
  return fmt::format("\"pid\":{},\"tid\":{}", t.pid, t.tid);
}

std::string Where(const machine::Log& log, std::uint64_t seq) {
  return Quoted(machine::FormatWhere(log.where(seq)));
}

std::string ObjectName(const machine::Log& log, const Event& e) {
  return e.object.valid() ? std::string(log.object_name(e.object)) : std::string();
}

// One open slice on a track.
struct Open {
  std::string name;
  std::string_view layer;
  std::int64_t object = -1;
  std::optional<machine::EventKind> ret;  // nullopt: an undeclared call, closed by any return
};

class Renderer {
 public:
  Renderer(const machine::Log& log, std::span<const layers::Timeline> timelines,
           const TraceSource& source)
      : log_(log), source_(source) {
    for (const layers::Timeline& t : timelines) {
      for (const layers::Primitive& p : t.primitives) {
        slices_.try_emplace(p.call.name(), SliceKind{t.layer, p.name, p.ret});
      }
      for (const layers::Counter& c : t.counters) counters_.push_back({&c, {}});
    }
    flows_ = FindFlows(log, timelines);
    for (const Flow& f : flows_) starts_.push_back(&f);
    std::stable_sort(starts_.begin(), starts_.end(),
                     [](const Flow* a, const Flow* b) { return a->from < b->from; });
  }

  std::string Render() {
    std::set<Track> tracks;
    std::set<std::int64_t> cpus;
    for (int c = 0; c < source_.cpus; ++c) cpus.insert(c);
    for (const Event& e : log_.events()) {
      tracks.insert(TrackOf(e));
      cpus.insert(e.cpu.value());
    }
    for (std::int64_t c : cpus) tracks.insert({kCpusPid, c});
    Metadata(tracks);
    for (const Event& e : log_.events()) Step(e);
    const Quarter end = At(log_.size());
    while (!running_.empty()) CloseRunning(running_.begin()->first);
    for (auto& [track, stack] : open_) {
      while (!stack.empty()) Close(track, end, "{\"unfinished\":true}");
    }
    std::string& text = writer_.text();
    return fmt::format(
        "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"title\":{},\"events\":{},\"log_hash\":"
        "\"{}\",\"time\":\"one microsecond per log position\"}},\"traceEvents\":[{}\n]}}\n",
        Quoted(source_.title), log_.size(), machine::FormatHash(log_.hash()), text);
  }

 private:
  void Metadata(const std::set<Track>& tracks) {
    const std::pair<int, const char*> processes[] = {
        {kCpusPid, "cpus"}, {kThreadsPid, "threads"}, {kObjectsPid, "objects"}};
    for (const auto& [pid, name] : processes) {
      writer_.Add(fmt::format("{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{},\"tid\":0,"
                              "\"args\":{{\"name\":\"{}\"}}}}",
                              pid, name));
      writer_.Add(fmt::format("{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{},\"tid\":0,"
                              "\"args\":{{\"sort_index\":{}}}}}",
                              pid, pid));
    }
    for (const Track& t : tracks) {
      writer_.Add(fmt::format(
          "{{\"name\":\"thread_name\",\"ph\":\"M\",{},\"args\":{{\"name\":\"{} {}\"}}}}",
          TrackFields(t), t.pid == kCpusPid ? "cpu" : "thread", t.tid));
      writer_.Add(fmt::format(
          "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",{},\"args\":{{\"sort_index\":{}}}}}",
          TrackFields(t), t.tid));
    }
  }

  void Step(const Event& e) {
    const Track track = TrackOf(e);
    ShowRunning(e);
    // Before the event itself: a return closes its slice just after it.
    if (source_.bad == e.seq) {
      writer_.Add(fmt::format(
          "{{\"name\":{},\"cat\":\"failure\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},{},\"args\":{{"
          "\"seq\":{},\"failure\":{},\"where\":{}}}}}",
          Quoted("first bad event: " + source_.failure), Ts(At(e.seq)), TrackFields(track), e.seq,
          Quoted(source_.failure), Where(log_, e.seq)));
    }
    switch (e.op) {
      case OpCode::kCall:
        Call(track, e);
        break;
      case OpCode::kReturn:
        Return(track, e);
        break;
      default:
        Instant(track, e);
        Flows(track, e);
        break;
    }
    Count(e);
    last_on_cpu_[e.cpu.value()] = e.seq;
  }

  // A CPU's track shows "thread N" while the CPU runs thread N's events.
  void ShowRunning(const Event& e) {
    const std::int64_t cpu = e.cpu.value();
    auto it = running_.find(cpu);
    const bool same = it != running_.end() && e.thread.valid() && it->second == e.thread.value();
    if (same) return;
    if (it != running_.end()) CloseRunning(cpu);
    if (!e.thread.valid()) return;
    running_[cpu] = e.thread.value();
    RunningMark('B', e.thread.value(), At(e.seq), cpu);
  }

  void CloseRunning(std::int64_t cpu) {
    auto it = running_.find(cpu);
    if (it == running_.end()) return;
    RunningMark('E', it->second, At(last_on_cpu_[cpu], 2), cpu);
    running_.erase(it);
  }

  void RunningMark(char ph, std::int64_t thread, Quarter ts, std::int64_t cpu) {
    writer_.Add(fmt::format(
        "{{\"name\":\"thread {}\",\"cat\":\"running\",\"ph\":\"{}\",\"ts\":{},{}}}", thread,
        ph, Ts(ts), TrackFields({kCpusPid, cpu})));
  }

  void Call(const Track& track, const Event& e) {
    const std::string object = ObjectName(log_, e);
    Open open;
    open.object = e.object.value();
    auto it = slices_.find(e.kind.name());
    if (it != slices_.end()) {
      open.name = fmt::format("{} {}", it->second.primitive, object);
      open.layer = it->second.layer;
      open.ret = it->second.ret;
    } else {
      open.name = fmt::format("{} {}", e.kind.name(), object);
      open.layer = "call";
    }
    writer_.Add(fmt::format(
        "{{\"name\":{},\"cat\":{},\"ph\":\"B\",\"ts\":{},{},\"args\":{{\"object\":{},\"arg0\":{},"
        "\"arg1\":{},\"seq\":{},\"cpu\":{},\"call\":{}}}}}",
        Quoted(open.name), Quoted(open.layer), Ts(At(e.seq)), TrackFields(track), Quoted(object),
        e.arg0, e.arg1, e.seq, e.cpu.value(), Where(log_, e.seq)));
    open_[track].push_back(std::move(open));
    Flows(track, e);
  }

  void Return(const Track& track, const Event& e) {
    std::vector<Open>& stack = open_[track];
    auto closes = [&e](const Open& o) {
      return o.object == e.object.value() && (!o.ret || *o.ret == e.kind);
    };
    auto it = std::find_if(stack.rbegin(), stack.rend(), closes);
    if (it == stack.rend()) {
      // A return without its call (a log that starts mid-call): a step-like mark.
      Instant(track, e);
      Flows(track, e);
      return;
    }
    Flows(track, e);
    const std::size_t depth = static_cast<std::size_t>(stack.rend() - it) - 1;
    while (stack.size() > depth + 1) Close(track, At(e.seq, 2), "{\"unfinished\":true}");
    Close(track, At(e.seq, 2),
          fmt::format("{{\"result\":{},\"return\":{}}}", e.result, Where(log_, e.seq)));
  }

  void Close(const Track& track, Quarter ts, const std::string& args) {
    std::vector<Open>& stack = open_[track];
    STRATA_CHECK(!stack.empty(), "closing a slice on a track without one");
    writer_.Add(fmt::format("{{\"name\":{},\"cat\":{},\"ph\":\"E\",\"ts\":{},{},\"args\":{}}}",
                            Quoted(stack.back().name), Quoted(stack.back().layer), Ts(ts),
                            TrackFields(track), args));
    stack.pop_back();
  }

  void Instant(const Track& track, const Event& e) {
    const std::string object = ObjectName(log_, e);
    const bool ghost = e.marker();
    writer_.Add(fmt::format(
        "{{\"name\":{},\"cat\":\"{}\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},{},\"args\":{{\"kind\":{},"
        "\"op\":\"{}\",\"object\":{},\"arg0\":{},\"arg1\":{},\"result\":{},\"linearizes\":{},"
        "\"seq\":{},\"cpu\":{},\"where\":{}}}}}",
        Quoted(fmt::format("{} {}", e.kind.name(), object)), ghost ? "ghost" : "step",
        Ts(At(e.seq)), TrackFields(track), Quoted(e.kind.name()), machine::OpCodeName(e.op),
        Quoted(object), e.arg0, e.arg1, e.result, e.linearizes, e.seq, e.cpu.value(),
        Where(log_, e.seq)));
  }

  // The arrows that end and start at `e` (ended first), on its track.
  void Flows(const Track& track, const Event& e) {
    const Quarter ts = FlowPoint(e);
    // An arrow into an event outside any slice (a thread's first step) binds
    // to the next slice of the track, the format's default.
    const bool enclosed = !open_[track].empty();
    while (next_finish_ < flows_.size() && flows_[next_finish_].to == e.seq) {
      const Flow& f = flows_[next_finish_++];
      writer_.Add(fmt::format("{{\"name\":{},\"cat\":{},\"ph\":\"f\",{}\"id\":{},\"ts\":{},{}}}",
                              Quoted(f.name), Quoted(f.layer), enclosed ? "\"bp\":\"e\"," : "",
                              f.id, Ts(ts), TrackFields(track)));
    }
    while (next_start_ < starts_.size() && starts_[next_start_]->from == e.seq) {
      const Flow& f = *starts_[next_start_++];
      writer_.Add(fmt::format("{{\"name\":{},\"cat\":{},\"ph\":\"s\",\"id\":{},\"ts\":{},{}}}",
                              Quoted(f.name), Quoted(f.layer), f.id, Ts(ts), TrackFields(track)));
    }
  }

  void Count(const Event& e) {
    for (auto& [counter, values] : counters_) {
      const bool up = counter->up.Matches(e);
      if (!up && !counter->down.Matches(e)) continue;
      const std::string name = fmt::format("{} {}", ObjectName(log_, e), counter->name);
      std::string args;
      if (counter->kind == layers::Counter::Kind::kLevel) {
        std::int64_t& v = values[e.object.value()];
        v += up ? 1 : -1;
        args = fmt::format("{{{}:{}}}", Quoted(counter->name), v);
      } else {
        args = up ? fmt::format("{{\"cpu\":{},\"thread\":{}}}", e.cpu.value(),
                                e.thread.valid() ? e.thread.value() : -1)
                  : std::string("{\"cpu\":-1,\"thread\":-1}");
      }
      writer_.Add(
          fmt::format("{{\"name\":{},\"ph\":\"C\",\"ts\":{},\"pid\":{},\"tid\":0,\"args\":{}}}",
                      Quoted(name), Ts(At(e.seq)), kObjectsPid, args));
    }
  }

  const machine::Log& log_;
  const TraceSource& source_;
  std::map<std::string_view, SliceKind> slices_;
  std::vector<std::pair<const layers::Counter*, std::map<std::int64_t, std::int64_t>>> counters_;
  std::vector<Flow> flows_;           // in the order they end
  std::vector<const Flow*> starts_;   // in the order they start
  std::size_t next_finish_ = 0, next_start_ = 0;
  std::map<Track, std::vector<Open>> open_;
  std::map<std::int64_t, std::int64_t> running_;      // cpu -> the thread its track shows
  std::map<std::int64_t, std::uint64_t> last_on_cpu_;  // cpu -> its last event's seq
  Writer writer_;
};

}  // namespace

std::string RenderTrace(const machine::Log& log, std::span<const layers::Timeline> timelines,
                        const TraceSource& source) {
  return Renderer(log, timelines, source).Render();
}

absl::Status WriteTrace(const std::string& path, const machine::Log& log,
                        std::span<const layers::Timeline> timelines, const TraceSource& source) {
  return WriteFileAtomically(path, RenderTrace(log, timelines, source));
}

std::vector<layers::Timeline> StackTimelines(const Config& config) {
  std::vector<layers::Timeline> out;
  for (const kernel::LayerInfo& layer : sched::Stack(config.stack)) {
    out.push_back(layer.timeline);
  }
  return out;
}

absl::Status WriteStackTrace(const std::string& path, const Config& config, const machine::Machine& m,
                             const std::string& title, std::optional<std::size_t> bad,
                             const std::string& failure) {
  if (path.empty()) return absl::OkStatus();
  const std::vector<layers::Timeline> timelines = StackTimelines(config);
  return WriteTrace(path, m.log(), timelines,
                    {.title = title, .cpus = m.cpus(), .bad = bad, .failure = failure});
}

void PrintTraceLine(std::FILE* out, const std::string& path, std::string_view what) {
  fmt::print(out, "  trace      written to {} (open in https://ui.perfetto.dev){}{}\n", path,
             what.empty() ? "" : ": ", what);
}

}  // namespace strata::boot
