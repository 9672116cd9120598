#pragma once
// `xpusim stack list` and `xpusim stack show`: a stack's choices and figures with sources.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xpusim/stack/stack.hpp"

namespace xpusim {

/// Every choice with its YAML name, numbers with unit-suffixed keys, figures and sources.
[[nodiscard]] nlohmann::json stack_json(const StackSpec& stack);
/// The choices, then every figure with its source, for `xpusim stack show`.
[[nodiscard]] std::string stack_text(const StackSpec& stack);
/// One row per stack: id, framework, version, date, kind, name.
[[nodiscard]] std::string stack_list_text(const std::vector<StackSpec>& all);

}  // namespace xpusim
