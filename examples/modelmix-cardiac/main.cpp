// modelmix-cardiac: the command-line program of modelmix (see commands.hpp for the
// subcommands). Every error on bad input is one line on stderr, exit status 2.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "modelmix/core/error.hpp"

namespace {

int fail(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::cerr << "modelmix-cardiac: error: " << message << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"modelmix-cardiac: scribble-supervised cardiac segmentation with ModelMix"};
  app.require_subcommand(1);
#if MODELMIX_CARDIAC_WITH_NIFTI
  modelmix_cardiac::add_evaluate_command(app);
#endif
#if MODELMIX_CARDIAC_WITH_MONTAGE
  modelmix_cardiac::add_montage_command(app);
#endif
  try {
    app.parse(argc, argv);  // the chosen subcommand runs in its callback
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints help, or the usage error
    return status == 0 ? 0 : 2;
  } catch (const modelmix::error& e) {
    return fail(e.what());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
