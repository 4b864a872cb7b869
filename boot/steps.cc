#include "boot/steps.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace strata::boot {

void PrintSteps(std::FILE* out, const machine::Log& log, const StepsOptions& options,
                std::optional<std::size_t> bad,
                const std::function<std::string(std::size_t seq)>& note,
                const std::function<std::span<const std::int64_t>(std::size_t seq)>& contents) {
  std::size_t from = 0, to = log.size();  // [from, to)
  if (!options.all) {
    if (bad && *bad < log.size()) to = *bad + 1;
    if (to > options.tail) from = to - options.tail;
  }
  fmt::print(out,
             "  legend     `| call f` / `| ret f`: a primitive's call and return at its layer's "
             "border;\n"
             "             `*`: the step the module flags as the call's linearization point (`**`: "
             "of two nested calls);\n"
             "             `KIND[op]`: a module's named step and the machine operation it is;\n"
             "             `(a, b) -> r`: arguments and result; `@ file:line`: the code that made "
             "it\n");
  if (from > 0) {
    fmt::print(out, "    ... {} earlier events (--all shows them)\n", from);
  }
  auto line = [&](std::size_t i) {
    const std::string noted = note ? note(i) : std::string();
    const std::string at = machine::FormatWhere(log.where(i));
    const bool is_bad = bad && *bad == i;
    const std::span<const std::int64_t> pushed =
        contents && log[i].op == machine::OpCode::kPush ? contents(i) : std::span<const std::int64_t>();
    fmt::print(out, "    {}{}{}{}\n", log.RenderText(log[i], pushed), noted, at.empty() ? "" : "  @ " + at,
               is_bad ? "   <== first bad event" : "");
  };
  if (!options.by_thread) {
    for (std::size_t i = from; i < to; ++i) line(i);
  } else {
    // Agents in the order of their first event; a thread with its cpu.
    std::vector<std::pair<std::string, std::vector<std::size_t>>> groups;
    std::map<std::pair<bool, std::int64_t>, std::size_t> index;
    for (std::size_t i = from; i < to; ++i) {
      const machine::Event& e = log[i];
      const bool thread = e.thread.valid();
      const std::pair<bool, std::int64_t> key(thread, thread ? e.thread.value() : e.cpu.value());
      auto [it, fresh] = index.emplace(key, groups.size());
      if (fresh) {
        groups.emplace_back(thread ? fmt::format("thread {}", e.thread) : fmt::format("cpu {}", e.cpu),
                            std::vector<std::size_t>());
      }
      groups[it->second].second.push_back(i);
    }
    for (const auto& [name, events] : groups) {
      fmt::print(out, "  {} ({} events)\n", name, events.size());
      for (std::size_t i : events) line(i);
    }
  }
  if (to < log.size()) {
    fmt::print(out, "    ... {} more events after the first bad one (--all shows them)\n",
               log.size() - to);
  }
}

}  // namespace strata::boot
