// modelmix-cardiac: the command-line program of modelmix (see commands.hpp for the
// subcommands). Every error on bad input is one line on stderr, exit status 2.

#include <exception>
#include <iostream>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/host_memory.hpp"

namespace {

int fail(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::cerr << "modelmix-cardiac: error: " << message << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Training frees and re-allocates the same large buffers every step (see host_memory.hpp).
  modelmix::keep_freed_host_memory();
  CLI::App app{"modelmix-cardiac: scribble-supervised cardiac segmentation with ModelMix"};
  app.require_subcommand(1);
  modelmix_cardiac::add_demo_command(app);
#if MODELMIX_CARDIAC_WITH_NIFTI
  modelmix_cardiac::add_train_command(app);
  modelmix_cardiac::add_predict_command(app);
  modelmix_cardiac::add_evaluate_command(app);
  modelmix_cardiac::add_interpolate_command(app);
  modelmix_cardiac::add_compare_command(app);
  modelmix_cardiac::add_phantom_command(app);
#endif
#if MODELMIX_CARDIAC_WITH_MONTAGE
  modelmix_cardiac::add_montage_command(app);
#endif
  // The first word that is not an option must name a command (CLI11 would only say that a
  // subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    std::string names;
    bool known = false;
    for (const CLI::App* sub : std::as_const(app).get_subcommands([](const CLI::App*) { return true; })) {
      known = known || sub->check_name(word);
      if (!sub->get_group().empty()) names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) return fail("unknown command '" + word + "' (commands: " + names + "; see --help)");
  }
  try {
    app.parse(argc, argv);  // the chosen subcommand runs in its callback
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return fail(e.what());                           // a usage error: one line
  } catch (const modelmix::error& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
