#pragma once
// The shared data's manifest (../shared/data/manifest.csv): one row per volume, columns named
// by its header (dataset, split, case, image, label, scribble, ...). Tests take the counts they
// expect from here instead of hard-coding them, so a re-split of the data set changes the
// manifest, not the tests.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"

namespace modelmix::test {

class shared_manifest {
 public:
  using row = std::map<std::string, std::string>;

  // Reads <root>/manifest.csv (plain comma-separated, no quoting; empty fields allowed).
  explicit shared_manifest(const std::filesystem::path& root) {
    const std::filesystem::path path = root / "manifest.csv";
    std::ifstream in(path);
    MODELMIX_REQUIRE(in.good(), "shared_manifest: cannot read ", path.string());
    std::string line;
    MODELMIX_REQUIRE(bool(std::getline(in, line)), "shared_manifest: ", path.string(), " is empty");
    const std::vector<std::string> header = split(line);
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const std::vector<std::string> fields = split(line);
      MODELMIX_REQUIRE(fields.size() == header.size(), "shared_manifest: ", path.string(), ": a row has ",
                       fields.size(), " fields, the header ", header.size());
      row r;
      for (std::size_t i = 0; i < header.size(); ++i) r[header[i]] = fields[i];
      rows_.push_back(std::move(r));
    }
  }

  [[nodiscard]] const std::vector<row>& rows() const { return rows_; }

  // Rows of one dataset and split ("acdc", "val"), optionally only those with a non-empty column.
  [[nodiscard]] std::vector<row> select(const std::string& dataset, const std::string& split,
                                        const std::string& non_empty_column = "") const {
    std::vector<row> out;
    for (const row& r : rows_)
      if (r.at("dataset") == dataset && r.at("split") == split && (non_empty_column.empty() || !r.at(non_empty_column).empty()))
        out.push_back(r);
    return out;
  }

 private:
  static std::vector<std::string> split(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    std::string field;
    std::istringstream s(line);
    while (std::getline(s, field, ',')) fields.push_back(field);
    if (!line.empty() && line.back() == ',') fields.emplace_back();  // a trailing empty field
    return fields;
  }

  std::vector<row> rows_;
};

}  // namespace modelmix::test
