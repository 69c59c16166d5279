#pragma once
// --device cpu|cuda of demo, train, predict and evaluate --run: where the networks live and
// every step and forward pass runs. Checked before anything is built or written: a program
// built without CUDA, or a machine without a usable device, gets one line naming the reason.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "modelmix/core/device.hpp"
#include "modelmix/tensor/device_memory.hpp"

namespace modelmix_cardiac {

inline void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device,
                  "cpu, or cuda (the first CUDA device; needs a build with CUDA: the modelmix::cuda target)")
      ->capture_default_str();
}

inline modelmix::device parse_device(const std::string& name) {
  MODELMIX_REQUIRE(name == "cpu" || name == "cuda", "--device ", name, ": must be cpu or cuda");
  const modelmix::device where = name == "cuda" ? modelmix::device::cuda : modelmix::device::cpu;
  modelmix::detail::require_device("--device cuda", where);
  return where;
}

// What ran a command, for run.json and report.json: {"kind": "cuda", "name": "NVIDIA H200"}
// (a CPU's name from /proc/cpuinfo where there is one).
inline nlohmann::json device_json(modelmix::device where) {
  std::string name;
#if MODELMIX_WITH_CUDA
  if (where == modelmix::device::cuda) name = modelmix::cuda::device_available().device_name;
#endif
  if (where == modelmix::device::cpu) {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; name.empty() && std::getline(cpuinfo, line);)
      if (line.starts_with("model name"))
        if (const auto colon = line.find(':'); colon != std::string::npos) name = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return {{"kind", modelmix::device_name(where)}, {"name", name}};
}

}  // namespace modelmix_cardiac
