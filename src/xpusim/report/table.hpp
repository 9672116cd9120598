#pragma once
// Plain-text and CSV tables with aligned columns.

#include <string>
#include <vector>

namespace xpusim {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Columns padded to their widest cell; text left-aligned, numbers right-aligned.
  [[nodiscard]] std::string to_text() const;
  /// RFC 4180 CSV: cells with commas or quotes are quoted.
  [[nodiscard]] std::string to_csv() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace xpusim
