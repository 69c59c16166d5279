#pragma once
// A scratch file per fuzzing process, for readers that take a path: the input's bytes are
// written to it before each call. Lives in /dev/shm when there is one (no disk I/O).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace modelmix::fuzz {

class ScratchFile {
 public:
  // `name` is the file name inside a fresh per-process folder (readers may look at it).
  explicit ScratchFile(const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    folder_ = base / ("modelmix-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(folder_);
    path_ = folder_ / name;
  }
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path_;
  }
  [[nodiscard]] const std::filesystem::path& folder() const { return folder_; }

 private:
  std::filesystem::path folder_, path_;
};

}  // namespace modelmix::fuzz
