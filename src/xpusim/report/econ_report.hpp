#pragma once
// `xpusim tco` and `xpusim build-vs-buy`: results with every assumption they rest on. No
// computation happens here.

#include <nlohmann/json.hpp>
#include <string>

#include "xpusim/econ/build_vs_buy.hpp"
#include "xpusim/econ/tco.hpp"

namespace xpusim {

/// The economics defaults in force, keys with their units (the "assumptions" block).
[[nodiscard]] nlohmann::json economics_json(const Economics& economics);

[[nodiscard]] nlohmann::json tco_json(const AcceleratorSpec& hw, const Economics& economics,
                                      const TcoRequest& request, const TcoResult& result);
[[nodiscard]] std::string tco_text(const AcceleratorSpec& hw, const Economics& economics,
                                   const TcoRequest& request, const TcoResult& result);

[[nodiscard]] nlohmann::json build_vs_buy_json(const AcceleratorSpec& in_house,
                                               const AcceleratorSpec& bought,
                                               const Economics& economics,
                                               const BuildVsBuyRequest& request,
                                               const BuildVsBuyResult& result);
[[nodiscard]] std::string build_vs_buy_text(const AcceleratorSpec& in_house,
                                            const AcceleratorSpec& bought,
                                            const Economics& economics,
                                            const BuildVsBuyRequest& request,
                                            const BuildVsBuyResult& result);

}  // namespace xpusim
