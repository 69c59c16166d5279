#pragma once
// Output files of the program (reports, CSV, PNG): written to a temporary sibling and renamed
// into place when complete, so an interrupted run never leaves a half-written file.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <system_error>

#include "modelmix/core/error.hpp"

namespace modelmix_cardiac {

namespace fs = std::filesystem;

// Create `folder` (and parents) or fail naming it.
inline void ensure_folder(const fs::path& folder) {
  if (folder.empty()) return;
  std::error_code ec;
  fs::create_directories(folder, ec);
  MODELMIX_REQUIRE(!ec && fs::is_directory(folder), "cannot create folder ", folder.string(),
                   ec ? " (" + ec.message() + ")" : std::string());
}

// write(temp) fills the temporary file; it is renamed to `target` only if write returns normally.
inline void write_atomically(const fs::path& target, const std::function<void(const fs::path&)>& write) {
  static std::atomic<unsigned> counter{0};
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const fs::path temp = dir / modelmix::cat(".", target.filename().string(), ".", ::getpid(), "-", counter++, ".tmp");
  try {
    write(temp);
    std::error_code ec;
    fs::rename(temp, target, ec);
    MODELMIX_REQUIRE(!ec, "cannot write ", target.string(), " (", ec.message(), ")");
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
}

inline void write_text_atomically(const fs::path& target, const std::string& text) {
  write_atomically(target, [&](const fs::path& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    MODELMIX_REQUIRE(out.good(), "cannot create ", target.string(), " (temporary ", temp.filename().string(), ")");
    out << text;
    out.close();
    MODELMIX_REQUIRE(!out.fail(), "writing ", target.string(), " failed (disk full?)");
  });
}

}  // namespace modelmix_cardiac
