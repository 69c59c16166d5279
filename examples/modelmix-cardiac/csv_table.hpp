#pragma once
// Reading back the program's own CSV files (curves.csv, interpolation.csv) for `compare`:
// RFC 4180 fields (quoted where csv_field quoted them), a header line, every row as long as the
// header. Numbers are read per cell: an empty cell is NaN (curves.csv leaves non-finite values
// empty), anything else must parse completely.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"

namespace modelmix_cardiac {

struct csv_table {
  std::filesystem::path path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // The column named `name`, or -1.
  [[nodiscard]] long column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return long(i);
    return -1;
  }
  [[nodiscard]] std::size_t require_column(const std::string& name) const {
    const long i = column(name);
    MODELMIX_REQUIRE(i >= 0, path.string(), ": no column '", name, "'");
    return std::size_t(i);
  }
  // Cell (row, col) as a number; row counts from 0 after the header.
  [[nodiscard]] double number(std::size_t row, std::size_t col) const {
    const std::string& cell = rows[row][col];
    if (cell.empty()) return NAN;
    char* end = nullptr;
    const double v = std::strtod(cell.c_str(), &end);
    MODELMIX_REQUIRE(end == cell.c_str() + cell.size(), path.string(), ": line ", row + 2, ", column ", header[col],
                     ": '", cell, "' is not a number");
    return v;
  }
};

// The fields of one CSV line (no line breaks inside quotes: the program never writes them).
inline std::vector<std::string> split_csv_line(const std::string& line, const std::filesystem::path& path,
                                               std::size_t line_number) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') fields.back() += c;
      else if (i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else quoted = false;
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  MODELMIX_REQUIRE(!quoted, path.string(), ": line ", line_number, " ends inside a quoted field");
  return fields;
}

// `what` names the file's role in the error for a missing file ("--run runs/pce: no curves.csv").
inline csv_table read_csv_table(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  MODELMIX_REQUIRE(in.good() && std::filesystem::is_regular_file(path), what, ": cannot read ", path.string());
  csv_table t{path, {}, {}};
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = split_csv_line(line, path, line_number);
    if (t.header.empty()) {
      t.header = std::move(fields);
      continue;
    }
    MODELMIX_REQUIRE(fields.size() == t.header.size(), path.string(), ": line ", line_number, " has ", fields.size(),
                     " fields, the header ", t.header.size());
    t.rows.push_back(std::move(fields));
  }
  MODELMIX_REQUIRE(!t.header.empty(), path.string(), ": empty file");
  return t;
}

}  // namespace modelmix_cardiac
