#pragma once
// `xpusim report`: one self-contained HTML page of charts for a result that another command
// wrote as JSON (compare, infer, train, train --search, serve, plan, validate). Each result kind
// is one entry of a table: how to recognise its JSON and which Vega-Lite charts it gets; the
// charting scripts (Vega, Vega-Lite, vega-embed from npm, tools/report/) are inlined, so that
// nothing is fetched when the page is opened.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace xpusim {

/// The browser builds of the charting libraries, as text.
struct ChartScripts {
  std::string vega, vega_lite, vega_embed;
};

/// Reads vega/build/vega.min.js, vega-lite/build/vega-lite.min.js and
/// vega-embed/build/vega-embed.min.js under an npm `node_modules` directory. Throws
/// Error(kNotFound) naming the missing file.
[[nodiscard]] ChartScripts load_chart_scripts(const std::filesystem::path& node_modules);

/// One chart: a Vega-Lite specification (title, axes with units, data inlined) and a caption
/// saying what the numbers assume.
struct Chart {
  nlohmann::json spec;
  std::string caption;
};

struct HtmlReport {
  std::string kind;   ///< "compare", "infer", "train", "search", "serve", "plan", "validate"
  std::string title;  ///< one line: what was run
  std::vector<Chart> charts;
};

/// The result kinds the report knows, in the order they are tried.
[[nodiscard]] std::vector<std::string> report_kinds();

/// The charts of `result`, recognised by its shape. Throws Error(kInput) located at `source`
/// when it is not the JSON of any of report_kinds().
[[nodiscard]] HtmlReport build_report(const nlohmann::json& result, const std::string& source);

/// The whole page: styles, scripts, specifications and data inlined; charts rendered as SVG.
/// Once drawn, `document.body.dataset.rendered` is "true" (or "error: ..." if one failed).
[[nodiscard]] std::string html_page(const HtmlReport& report, const ChartScripts& scripts);

}  // namespace xpusim
