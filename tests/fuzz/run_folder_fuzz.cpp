// Fuzz target: the run.json parser of modelmix-cardiac (examples/modelmix-cardiac/run_folder.hpp,
// load_run_config). Every input must either load or throw modelmix::error naming run.json.
#include "fuzz_file.hpp"
#include "run_folder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modelmix::fuzz::ScratchFile scratch("run.json");
  scratch.write(data, size);
  try {
    const modelmix_cardiac::run_config c = modelmix_cardiac::load_run_config(scratch.folder());
    (void)c.network();
  } catch (const modelmix::error&) {
  }
  return 0;
}
