#pragma once
// Output files of the program (reports, CSV, PNG): written to a temporary sibling and renamed
// into place when complete, so an interrupted run never leaves a half-written file.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

#include "modelmix/core/error.hpp"
#include "modelmix/data/dataset_folder.hpp"

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

// One CSV field per RFC 4180: quoted, with quotes doubled, when it holds a comma, quote or line break.
inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The writer's process id of a temporary file left by an atomic write, if `name` is one:
//   .<target>.<pid>-<n>.tmp   (write_atomically here, io::write_nifti)
//   <target>.tmp-<pid>        (io::save_safetensors: checkpoints)
inline std::optional<long> temporary_owner(const std::string& name) {
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (const auto at = name.rfind(".tmp-"); at != std::string::npos && digits(name.substr(at + 5)))
    return std::stol(name.substr(at + 5));
  if (name.size() > 5 && name[0] == '.' && name.ends_with(".tmp")) {
    const std::string stem = name.substr(0, name.size() - 4);  // .<target>.<pid>-<n>
    const auto dot = stem.rfind('.'), dash = stem.rfind('-');
    if (dot != std::string::npos && dash != std::string::npos && dash > dot + 1 && digits(stem.substr(dot + 1, dash - dot - 1)) &&
        digits(stem.substr(dash + 1)))
      return std::stol(stem.substr(dot + 1, dash - dot - 1));
  }
  return std::nullopt;
}

// Removes the temporary files of atomic writes in `folder` whose writer process no longer
// exists (killed or crashed mid-write); a live writer's file is left alone. Returns the count.
inline int remove_stale_temporaries(const fs::path& folder) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const auto pid = temporary_owner(entry.path().filename().string());
    if (!pid || *pid <= 0 || !entry.is_regular_file(ec)) continue;
    if (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    if (fs::remove(entry.path(), ec)) {
      ++removed;
      std::fprintf(stderr, "removed %s (left by an interrupted write of process %ld)\n", entry.path().string().c_str(), *pid);
    }
  }
  return removed;
}

// data::list_volumes refuses entries named like volumes that are not readable regular files
// (dangling links, folders, FIFOs); this runs the same check first so that the message names the
// command-line option the folder came from.
inline void require_regular_volumes(const fs::path& folder, const char* option) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!modelmix::data::is_volume_name(entry.path().filename().string())) continue;
    const char* problem = modelmix::data::unreadable_volume_entry(entry.path());
    MODELMIX_REQUIRE(problem == nullptr, option, ": ", entry.path().string(), " is ", problem, ", not a volume file");
  }
}

}  // namespace modelmix_cardiac
