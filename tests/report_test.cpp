// The HTML report (report/html_report.hpp) on results produced by the commands themselves
// (api/command.hpp, in process), and the commands' progress callback.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "xpusim/api/command.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/report/html_report.hpp"

namespace xpusim {
namespace {

using Json = nlohmann::json;

struct CommandRun {
  int status = 0;
  std::string out, err;
};

CommandRun run(std::vector<std::string> args, const ProgressFn& progress = {}) {
  args.insert(args.begin(), {"--data-dir", XPUSIM_SOURCE_DATADIR});
  std::ostringstream out, err;
  const int status = api::run_command(args, {out, err, progress});
  return {status, out.str(), err.str()};
}

Json result_of(const std::vector<std::string>& args) {
  std::vector<std::string> with_json = args;
  with_json.insert(with_json.end(), {"--format", "json"});
  const CommandRun r = run(with_json);
  EXPECT_LE(r.status, 1) << r.err;
  return Json::parse(r.out);
}

/// The x and y encodings of a chart and of its layers.
std::vector<Json> axes_of(const Json& spec, const char* axis) {
  std::vector<Json> found;
  if (spec.contains("encoding") && spec.at("encoding").contains(axis))
    found.push_back(spec.at("encoding").at(axis));
  if (spec.contains("layer")) {
    for (const Json& layer : spec.at("layer")) {
      for (Json& e : axes_of(layer, axis)) found.push_back(std::move(e));
    }
  }
  return found;
}

/// Every chart has a title, a caption, its data inlined and a titled quantitative axis for x and
/// y (a nominal y, one bar per category, may go untitled).
void expect_labelled(const HtmlReport& report) {
  ASSERT_FALSE(report.charts.empty());
  for (const Chart& chart : report.charts) {
    const Json& spec = chart.spec;
    SCOPED_TRACE(spec.at("title").get<std::string>());
    EXPECT_FALSE(spec.at("title").get<std::string>().empty());
    EXPECT_GT(chart.caption.size(), 40u);
    for (const char* axis : {"x", "y"}) {
      bool titled = false;
      for (const Json& e : axes_of(spec, axis)) {
        titled = titled || !e.value("title", std::string()).empty() ||
                 (std::string(axis) == "y" && e.value("type", std::string()) == "nominal");
      }
      EXPECT_TRUE(titled) << axis;
    }
    EXPECT_NE(spec.dump().find("\"values\""), std::string::npos) << "data inlined";
  }
}

TEST(HtmlReport, RecognisesEveryKindFromItsCommandsJson) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"compare", {"compare", "--model", "llama-3.1-8b", "--devices", "1"}},
      {"infer", {"infer", "--model", "llama-2-70b", "--hw", "h100-sxm", "--devices", "8"}},
      {"train",
       {"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2", "--pp", "2",
        "--global-batch", "64", "--seq-len", "4096"}},
      {"search",
       {"train", "--search", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2",
        "--global-batch", "64", "--seq-len", "4096", "--top", "4"}},
      {"serve",
       {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "4", "--num-requests",
        "100"}},
      {"validate", {"validate", "inference"}},
      {"sensitivity",
       {"sensitivity", "infer", "--model", "llama-2-70b", "--hw", "h100-sxm", "--devices", "8"}},
  };
  for (const auto& [kind, args] : cases) {
    SCOPED_TRACE(kind);
    const HtmlReport report = build_report(result_of(args), "result.json");
    EXPECT_EQ(report.kind, kind);
    expect_labelled(report);
  }
}

TEST(HtmlReport, TrainCarriesThePipelineTimelineAndServeItsCdfs) {
  const Json train = result_of({"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes",
                                "2", "--pp", "2", "--global-batch", "64", "--seq-len", "4096"});
  const Json& ops = train.at("pipeline_schedule").at("ops");
  EXPECT_EQ(ops.size(), 2u * 2u * train.at("micro_batches").get<std::size_t>());  // pp x m x F/B
  EXPECT_EQ(build_report(train, "t.json").charts.size(), 3u);
  const Json serve = result_of({"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate",
                                "4", "--num-requests", "100"});
  const Json& p = serve.at("ttft_s").at("percentiles");
  ASSERT_EQ(p.size(), 101u);
  EXPECT_LE(p.front().get<double>(), serve.at("ttft_s").at("p50").get<double>());
  EXPECT_EQ(p[50], serve.at("ttft_s").at("p50"));
  EXPECT_EQ(p[99], serve.at("ttft_s").at("p99"));
}

TEST(HtmlReport, SearchMarksTheFastestAsChosenOnTheFront) {
  const Json ranked =
      result_of({"train", "--search", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2",
                 "--global-batch", "64", "--seq-len", "4096", "--top", "6"});
  const HtmlReport report = build_report(ranked, "s.json");
  const Json& points = report.charts.front().spec.at("data").at("values");
  ASSERT_EQ(points.size(), 6u);
  EXPECT_TRUE(points[0].at("chosen").get<bool>());
  int front = 0;
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_FALSE(points[i].at("chosen").get<bool>());
    EXPECT_GE(points[i].at("step_time_s").get<double>(), points[0].at("step_time_s").get<double>());
    front += points[i].at("pareto").get<bool>() ? 1 : 0;
    // On the front exactly when no other point is as fast and as light, and better in one.
    bool dominated = false;
    for (const Json& q : points) {
      const double t = q.at("step_time_s"), m = q.at("memory_gb");
      const double pt = points[i].at("step_time_s"), pm = points[i].at("memory_gb");
      dominated = dominated || (t <= pt && m <= pm && (t < pt || m < pm));
    }
    EXPECT_EQ(points[i].at("pareto").get<bool>(), !dominated);
  }
  EXPECT_GE(front + (points[0].at("pareto").get<bool>() ? 1 : 0), 1);
}

TEST(HtmlReport, RefusesAnythingElseNamingTheFile) {
  try {
    (void)build_report(Json{{"hello", 1}}, "x.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "x.json: expected the JSON of one of xpusim search, sensitivity, compare, infer, train, "
        "serve, plan, validate, got none of them");
  }
  Json broken = result_of({"infer", "--model", "llama-2-70b", "--hw", "h100-sxm"});
  broken.erase("roofline");
  EXPECT_THROW((void)build_report(broken, "y.json"), Error);
}

TEST(HtmlReport, PageInlinesEverythingAndNoScriptEndsEarly) {
  const HtmlReport report =
      build_report(result_of({"infer", "--model", "llama-2-70b", "--hw", "h100-sxm"}), "r.json");
  const ChartScripts scripts{"var a = '</script><b>';", "var b = 1;", "var c = 2;"};
  const std::string page = html_page(report, scripts);
  EXPECT_NE(page.find("var a = '<\\/script><b>';"), std::string::npos);
  std::size_t closers = 0;
  for (auto at = page.find("</script>"); at != std::string::npos;
       at = page.find("</script>", at + 1))
    ++closers;
  EXPECT_EQ(closers, 5u);  // three libraries, the specifications, the renderer
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos);
}

TEST(HtmlReport, MissingScriptsNameTheFile) {
  try {
    (void)load_chart_scripts("/nonexistent/node_modules");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/node_modules/vega/build/vega.min.js: cannot read the charting script "
              "(run npm ci in tools/report)");
  }
}

TEST(Commands, ReportProgressUpToTheTotal) {
  std::vector<ProgressUpdate> updates;
  std::vector<std::string> tasks;
  const ProgressFn collect = [&](const ProgressUpdate& u) {
    updates.push_back(u);
    tasks.emplace_back(u.task);
  };
  const CommandRun r =
      run({"train", "--search", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2",
           "--global-batch", "64", "--seq-len", "4096", "--top", "3"},
          collect);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(tasks.back(), "search");
  EXPECT_EQ(updates.back().done, updates.back().total);
  for (std::size_t i = 1; i < updates.size(); ++i) EXPECT_GT(updates[i].done, updates[i - 1].done);
  updates.clear();
  ASSERT_EQ(run({"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "4",
                 "--num-requests", "1000"},
                collect)
                .status,
            0);
  ASSERT_GE(updates.size(), 50u);  // about one call per percent, not one per request
  EXPECT_LE(updates.size(), 101u);
  EXPECT_EQ(updates.back().done, 1000);
}

TEST(Commands, ErrorsAreOneLineOnTheErrorStream) {
  const CommandRun r = run({"infer", "--model", "no-such", "--hw", "h100-sxm"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err.find("xpusim: command line: --model: unknown model 'no-such'"), 0u);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
}

}  // namespace
}  // namespace xpusim
