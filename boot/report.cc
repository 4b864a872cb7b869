#include "boot/report.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "boot/schedule_file.h"
#include "machine/check.h"

namespace strata::boot {
namespace {

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A letter of a word or number of a state ("tcb_3", "-1").
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// The words and numbers of a state ("block holds [2001, 2002]").
std::vector<std::string> Tokens(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (IsWordChar(c)) {
      cur += c;
    } else {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// `s` escaped, its numbers that `other` does not hold marked as differences
// (<mark class="diff">): what the two sides disagree on stands out.
std::string Marked(const std::string& s, const std::string& other) {
  const std::vector<std::string> theirs = Tokens(other);
  std::multiset<std::string> left(theirs.begin(), theirs.end());
  std::string out, cur;
  auto flush = [&] {
    if (cur.empty()) return;
    const bool number = std::isdigit(static_cast<unsigned char>(cur.back())) != 0;
    auto it = left.find(cur);
    if (it != left.end()) {
      left.erase(it);
      out += Escape(cur);
    } else if (number) {
      out += "<mark class=\"diff\">" + Escape(cur) + "</mark>";
    } else {
      out += Escape(cur);
    }
    cur.clear();
  };
  for (char c : s) {
    if (IsWordChar(c)) {
      cur += c;
    } else {
      flush();
      out += Escape(std::string_view(&c, 1));
    }
  }
  flush();
  return out;
}

// Swim lanes: a lane per CPU, then per thread, a column per event of
// [from, to); markers as ticks, steps as boxes, the bad event in red.
std::string SwimLanes(const machine::Log& log, std::size_t from, std::size_t to,
                      std::optional<std::size_t> bad) {
  std::map<std::int64_t, int> cpu_lane, thread_lane;
  for (std::size_t i = from; i < to; ++i) {
    cpu_lane.emplace(log[i].cpu.value(), 0);
    if (log[i].thread.valid()) thread_lane.emplace(log[i].thread.value(), 0);
  }
  int lanes = 0;
  std::vector<std::string> names;
  for (auto& [cpu, lane] : cpu_lane) {
    lane = lanes++;
    names.push_back(fmt::format("cpu {}", cpu));
  }
  for (auto& [thread, lane] : thread_lane) {
    lane = lanes++;
    names.push_back(fmt::format("thread {}", thread));
  }
  constexpr int kLabel = 80, kColumn = 7, kLane = 22;
  const int width = kLabel + static_cast<int>(to - from) * kColumn + 10;
  const int height = lanes * kLane + 24;
  std::string svg = fmt::format(
      "<svg id=\"lanes\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "role=\"img\" aria-label=\"swim lanes\">\n",
      width, height);
  for (int l = 0; l < lanes; ++l) {
    svg += fmt::format(
        "<g class=\"lane\"><rect x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"lane-bg{}\"/>"
        "<text x=\"4\" y=\"{}\" class=\"lane-name\">{}</text></g>\n",
        l * kLane, width, kLane, l % 2, l * kLane + 15, Escape(names[static_cast<std::size_t>(l)]));
  }
  for (std::size_t i = from; i < to; ++i) {
    const machine::Event& e = log[i];
    const int x = kLabel + static_cast<int>(i - from) * kColumn;
    const bool is_bad = bad && *bad == i;
    const std::string cls = is_bad ? "ev bad" : e.marker() ? "ev marker" : e.linearizes ? "ev lin" : "ev step";
    const std::string tip = Escape(log.RenderTextWhere(i));
    auto mark = [&](int lane) {
      const int y = lane * kLane + (e.marker() ? 7 : 3);
      const int h = e.marker() ? 8 : kLane - 6;
      svg += fmt::format(
          "<a href=\"#e{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"{}\" "
          "data-seq=\"{}\"><title>{}</title></rect></a>\n",
          i, x, y, kColumn - 1, h, cls, i, tip);
    };
    mark(cpu_lane.at(e.cpu.value()));
    if (e.thread.valid()) mark(thread_lane.at(e.thread.value()));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">t={}</text>", kLabel, height - 6, from);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">t={}</text>\n",
                     width - 4, height - 6, to == 0 ? 0 : to - 1);
  svg += "</svg>\n";
  return svg;
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 20px; margin: 0 0 8px; }
.verdict { font-size: 18px; padding: 8px 12px; border-radius: 6px; display: inline-block; }
.verdict.ok { background: #dafbe1; } .verdict.failed { background: #ffebe9; }
table.facts td { padding: 2px 12px 2px 0; vertical-align: top; }
code, pre, .steps td { font-family: ui-monospace, monospace; font-size: 12px; }
.states { display: grid; grid-template-columns: 8em 1fr 1fr; gap: 4px 16px; }
.states div { padding: 4px 8px; background: #f6f8fa; border-radius: 4px; font-family: ui-monospace, monospace; font-size: 12px; }
.states .head { background: none; font-weight: 600; font-family: system-ui, sans-serif; }
mark.diff { background: #ffd33d; }
.lanes { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: 4px; }
.lane-bg0 { fill: #ffffff; } .lane-bg1 { fill: #f6f8fa; }
.lane-name, .axis { font: 11px system-ui, sans-serif; fill: #57606a; }
.ev.step { fill: #0969da; } .ev.lin { fill: #8250df; } .ev.marker { fill: #8c959f; } .ev.bad { fill: #cf222e; }
.steps { border-collapse: collapse; } .steps td { padding: 1px 10px 1px 0; white-space: nowrap; }
.steps tr.bad { background: #ffebe9; font-weight: 600; }
.where { color: #57606a; } .note { color: #8250df; }
)";

// Ticks the page as loaded (the browser test reads it) and lets a click on
// a lane's box show its step.
constexpr const char* kScript = R"(
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('#lanes rect.ev').forEach(function (r) {
    r.addEventListener('click', function () {
      var row = document.getElementById('e' + r.getAttribute('data-seq'));
      if (row) row.scrollIntoView({block: 'center'});
    });
  });
  document.body.setAttribute('data-ready', '1');
});
)";

}  // namespace

std::string RenderHtmlReport(const HtmlReport& r) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n<style>{}</style>\n<script>{}</script>\n</head><body>\n",
                   Escape(r.title), kStyle, kScript);
  h += fmt::format("<h1>{}</h1>\n", Escape(r.title));
  h += fmt::format("<p id=\"verdict\" class=\"verdict {}\">{}{}</p>\n", r.ok ? "ok" : "failed",
                   Escape(r.verdict), r.message.empty() ? "" : ": " + Escape(r.message));
  if (!r.checked.empty()) h += fmt::format("<p id=\"checked\">{}</p>\n", Escape(r.checked));
  h += "<table class=\"facts\" id=\"facts\">\n";
  for (const auto& [name, value] : r.facts) {
    h += fmt::format("<tr><td>{}</td><td>{}</td></tr>\n", Escape(name), Escape(value));
  }
  if (!r.replay.empty()) {
    h += fmt::format("<tr><td>replay</td><td><code id=\"replay\">{}</code></td></tr>\n", Escape(r.replay));
  }
  h += "</table>\n";
  if (!r.module_after.empty() || !r.spec_after.empty()) {
    h += "<h2>States around the first bad event</h2>\n<div class=\"states\" id=\"states\">\n";
    h += "<div class=\"head\"></div><div class=\"head\">module (lower, replayed)</div>"
         "<div class=\"head\">spec (upper, over the mapped log)</div>\n";
    if (!r.module_before.empty() || !r.spec_before.empty()) {
      h += fmt::format(
          "<div class=\"head\">before</div><div class=\"before module\">{}</div>"
          "<div class=\"before spec\">{}</div>\n",
          Marked(r.module_before, r.spec_before), Marked(r.spec_before, r.module_before));
    }
    h += fmt::format(
        "<div class=\"head\">after</div><div class=\"after module\">{}</div>"
        "<div class=\"after spec\">{}</div>\n</div>\n",
        Marked(r.module_after, r.spec_after), Marked(r.spec_after, r.module_after));
  }
  if (r.log == nullptr) {
    h += "</body></html>\n";
    return h;
  }
  const machine::Log& log = *r.log;
  // The steps shown: up to the bad event (or the end), the last 400.
  const std::size_t to = r.bad && *r.bad < log.size() ? *r.bad + 1 : log.size();
  const std::size_t from = to > 400 ? to - 400 : 0;
  h += fmt::format("<h2>The run{}</h2>\n<div class=\"lanes\">\n{}</div>\n",
                   from > 0 ? fmt::format(" (its last {} events of {})", to - from, log.size()) : "",
                   SwimLanes(log, from, to, r.bad));
  h += "<h2>Step by step</h2>\n<table class=\"steps\" id=\"steps\">\n";
  for (std::size_t i = from; i < to; ++i) {
    const bool is_bad = r.bad && *r.bad == i;
    const std::string note = r.note ? r.note(i) : std::string();
    h += fmt::format(
        "<tr id=\"e{}\"{}><td>{}</td><td class=\"note\">{}</td><td class=\"where\">{}</td><td>{}</td></tr>\n",
        i, is_bad ? " class=\"bad\"" : "", Escape(log.RenderText(log[i])), Escape(note),
        Escape(machine::FormatWhere(log.where(i))), is_bad ? "&lArr; first bad event" : "");
  }
  h += "</table>\n";
  if (to < log.size()) {
    h += fmt::format("<p>{} more events after the first bad one.</p>\n", log.size() - to);
  }
  if (!r.stopped.empty()) h += fmt::format("<p id=\"stopped\">&lArr; {}</p>\n", Escape(r.stopped));
  h += "</body></html>\n";
  return h;
}

absl::Status WriteHtmlReport(const std::string& path, const HtmlReport& report) {
  return WriteFileAtomically(path, RenderHtmlReport(report));
}

}  // namespace strata::boot
