// `--report FILE.html` on boot, check and replay, loaded in a real browser:
// headless Chromium (Debian's; `./run test` installs it) must load every
// report without a console error, find the expected elements in the DOM,
// and take a screenshot. A report must be self-contained: nothing it loads
// comes from elsewhere.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/boot/test_util.h"

namespace strata::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

struct Browser {
  int exit_code = -1;
  std::string dom;     // the DOM after the page's scripts ran
  std::string errors;  // the console messages it logged
};

// Loads `file` in headless Chromium (its own profile in `dir`); with
// `screenshot`, also writes a PNG of the page there.
Browser Load(const TempDir& dir, const std::string& file, const std::string& screenshot = "") {
  const std::string chromium = "chromium";
  REQUIRE_MESSAGE(std::system("command -v chromium >/dev/null 2>&1") == 0,
                  "chromium is not installed: `./run test` installs it (Debian package chromium)");
  const std::string common = fmt::format(
      "timeout 120 {} --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
      "--user-data-dir='{}' --enable-logging=stderr --v=0",
      chromium, dir.File("chromium-profile"));
  Browser b;
  const std::string dom = dir.File("dom.html"), log = dir.File("chromium.log");
  b.exit_code = std::system(
      fmt::format("{} --dump-dom 'file://{}' >'{}' 2>'{}'", common, file, dom, log).c_str());
  b.dom = Slurp(dom);
  std::istringstream lines(Slurp(log));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) b.errors += line + "\n";
  }
  if (!screenshot.empty()) {
    REQUIRE(std::system(fmt::format("{} --window-size=1280,1400 --screenshot='{}' 'file://{}' >/dev/null 2>&1",
                                    common, screenshot, file)
                            .c_str()) == 0);
  }
  return b;
}

// What every report holds, loaded: the verdict and the facts, no console
// error, nothing fetched from elsewhere.
void CheckReport(const TempDir& dir, const std::string& name, const std::string& verdict) {
  CAPTURE(name);
  const std::string path = dir.File(name);
  REQUIRE(std::filesystem::exists(path));
  const std::string html = Slurp(path);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  // Self-contained: no external script, style, image, font or frame.
  CHECK_FALSE(std::regex_search(html, std::regex(R"((src|href)\s*=\s*"(https?:|//))")));
  CHECK(html.find("@import") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  const Browser b = Load(dir, path);
  CHECK(b.exit_code == 0);
  CHECK(b.errors == "");
  CHECK(b.dom.find("data-ready=\"1\"") != std::string::npos);  // its script ran
  CHECK(std::regex_search(b.dom, std::regex("<p id=\"verdict\" class=\"verdict (ok|failed)\">" + verdict)));
  CHECK(b.dom.find("<table class=\"facts\" id=\"facts\">") != std::string::npos);
}

TEST_CASE("a check failure's report shows the lanes, the first bad event, the states side by side "
          "and the replay command, in a real browser") {
  TempDir dir;
  Command c = RunStrata("check '" + Source("configs/check/bad/queue-lifo.toml") +
                            "' --report lifo.html --schedule lifo.schedule",
                        dir.path());
  CHECK(c.exit_code == 1);
  CHECK(c.out.find("  report     written to lifo.html\n") != std::string::npos);
  CheckReport(dir, "lifo.html", "relation-broken");
  const Browser b = Load(dir, dir.File("lifo.html"), dir.File("lifo.png"));
  // Swim lanes per cpu, the bad event red in them and highlighted in the steps.
  CHECK(b.dom.find("<svg id=\"lanes\"") != std::string::npos);
  CHECK(b.dom.find(">cpu 0</text>") != std::string::npos);
  CHECK(b.dom.find(">cpu 1</text>") != std::string::npos);
  CHECK(std::regex_search(b.dom, std::regex("class=\"ev bad\" data-seq=\"109\"")));
  CHECK(std::regex_search(b.dom, std::regex("<tr id=\"e109\" class=\"bad\"><td>t=109 cpu=1 \\| ret deq q "
                                            "-&gt; 2003</td><td class=\"note\"></td><td class=\"where\">"
                                            "kernel/queue.cc:[0-9]+</td>")));
  // The states before and after, module and spec side by side, the
  // differences marked: after, the module lost 2003 and kept 2001.
  CHECK(b.dom.find("<div class=\"states\" id=\"states\">") != std::string::npos);
  CHECK(b.dom.find("<div class=\"before module\">block holds [2001, 2002, 2003]</div>") != std::string::npos);
  CHECK(b.dom.find("<div class=\"after module\">block holds [<mark class=\"diff\">2001</mark>, 2002]</div>") !=
        std::string::npos);
  CHECK(b.dom.find("<div class=\"after spec\">[2002, <mark class=\"diff\">2003</mark>]</div>") !=
        std::string::npos);
  CHECK(b.dom.find("<code id=\"replay\">strata replay lifo.schedule</code>") != std::string::npos);
  const std::string png = Slurp(dir.File("lifo.png"));
  CHECK(png.size() > 10000);
  CHECK(png.rfind("\x89PNG", 0) == 0);
  // Its replay writes the same failure's report.
  Command r = RunStrata("replay lifo.schedule --report replay.html", dir.path());
  CHECK(r.exit_code == 1);
  CheckReport(dir, "replay.html", "relation-broken");
}

TEST_CASE("boot reports, of a good run, of a failure and of its replay, load in a real browser") {
  TempDir dir;
  Command ok = RunStrata("boot '" + Source("configs/default.toml") + "' --cpus 2 --report ok.html",
                         dir.path());
  CHECK(ok.exit_code == 0);
  CheckReport(dir, "ok.html", "ok");
  const Browser good = Load(dir, dir.File("ok.html"));
  CHECK(std::regex_search(good.dom, std::regex(">thread [0-9]+</text>")));  // lanes per thread too
  CHECK(good.dom.find("its last 400 events of") != std::string::npos);
  Command bad = RunStrata("boot '" + Source("configs/bad/racy-push.toml") +
                              "' --report race.html --schedule race.schedule",
                          dir.path());
  CHECK(bad.exit_code == 1);
  CheckReport(dir, "race.html", "data-race");
  const Browser race = Load(dir, dir.File("race.html"));
  CHECK(race.dom.find("<p id=\"stopped\">⇐ the run stops here: data-race: cpu 1 pulls block `data` while "
                      "cpu 0 owns it</p>") != std::string::npos);
  Command replay = RunStrata("replay race.schedule --report race-replay.html", dir.path());
  CHECK(replay.exit_code == 1);
  CheckReport(dir, "race-replay.html", "data-race");
  // A check that passes writes its verdict.
  Command pass = RunStrata("check '" + Source("configs/check/ticket.toml") + "' --runs 20 --report pass.html",
                           dir.path());
  CHECK(pass.exit_code == 0);
  CheckReport(dir, "pass.html", "no-violation");
  CHECK(Slurp(dir.File("pass.html")).find("no violation (not exhaustive) in 20 executions; seed 1, log hash " +
                                          HashIn(pass.out)) != std::string::npos);
}

TEST_CASE("a boot failure at an event a monitor refused marks it: in the report, the replay and "
          "the JSON") {
  TempDir dir;
  Command c = RunStrata("boot '" + Source("configs/bad/double-unlock.toml") +
                            "' --report du.html --schedule du.schedule --json",
                        dir.path());
  CHECK(c.exit_code == 1);
  // The second release of the spinlock is the event its replay refuses.
  CHECK(c.out.find("\"first_bad\":{\"seq\":2,\"event\":\"t=2 cpu=0 store lock -> 0\","
                   "\"where\":\"boot/workloads.cc:") != std::string::npos);
  CHECK(c.out.find("\"report\":\"du.html\"") != std::string::npos);
  const std::string html = Slurp(dir.File("du.html"));
  CHECK(std::regex_search(html, std::regex("class=\"ev bad\" data-seq=\"2\"")));
  CHECK(std::regex_search(html, std::regex("<tr id=\"e2\" class=\"bad\">")));
  Command r = RunStrata("replay du.schedule", dir.path());
  CHECK(r.exit_code == 1);
  CHECK(std::regex_search(r.out, std::regex("t=2 cpu=0 store lock -> 0  @ boot/workloads.cc:[0-9]+   "
                                            "<== first bad event\n    <== the run stops here: "
                                            "impossible-log")));
  // A race is refused before its step is logged, a lock invariant before
  // the release's step: no event is marked.
  for (const char* bad : {"racy-push", "fork-lock-broken-invariant"}) {
    CAPTURE(bad);
    Command c2 = RunStrata("boot '" + Source(std::string("configs/bad/") + bad + ".toml") + "' --json",
                           dir.path());
    CHECK(c2.exit_code == 1);
    CHECK(c2.out.find("\"first_bad\":null") != std::string::npos);
  }
}

TEST_CASE("an unwritable --report path is a one-line error before the run, and leaves no file") {
  TempDir dir;
  for (const std::string& cmd : {"boot '" + Source("configs/default.toml") + "'",
                                 "check '" + Source("configs/check/ticket.toml") + "'"}) {
    CAPTURE(cmd);
    Command c = RunStrata(cmd + " --report no/such/r.html", dir.path());
    CHECK(c.exit_code == 2);
    CHECK(c.err ==
          "strata: error: no/such/r.html: --report: cannot write this file (expected a path in a "
          "writable directory)\n");
    CHECK(c.out.empty());
    CHECK_FALSE(std::filesystem::exists(dir.File("no")));
  }
}

TEST_CASE("what a report shows is escaped: a config path with <, & and quotes stays text") {
  TempDir dir;
  const std::string name = "a<b&c>\"'.toml";
  std::filesystem::copy_file(Source("configs/bad/racy-push.toml"), dir.File(name));
  Command c = RunStrata("boot 'a<b&c>\"'\\''.toml' --report r.html", dir.path());
  CHECK(c.exit_code == 1);
  const std::string html = Slurp(dir.File("r.html"));
  CHECK(html.find("<title>strata boot a&lt;b&amp;c&gt;&quot;&#39;.toml</title>") != std::string::npos);
  CHECK(html.find("a<b&c>") == std::string::npos);
  const Browser b = Load(dir, dir.File("r.html"));
  CHECK(b.errors == "");
  CHECK(b.dom.find("<h1>strata boot a&lt;b&amp;c&gt;\"'.toml</h1>") != std::string::npos);
}

}  // namespace
}  // namespace strata::testing
