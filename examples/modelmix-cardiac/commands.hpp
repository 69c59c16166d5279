#pragma once
// Subcommands of modelmix-cardiac. Each lives in its own .cpp and registers itself on the
// application with add_<name>_command(app); main.cpp calls them. A command reports bad input
// by throwing modelmix::error (one line, naming the file); main prints it and exits with 2.
#include <CLI/CLI.hpp>

namespace modelmix_cardiac {

// demo [--iters N] [--out DIR] ...: ModelMix and baselines on the built-in synthetic phantom
void add_demo_command(CLI::App& app);

#if MODELMIX_CARDIAC_WITH_NIFTI
// evaluate --pred DIR --labels DIR --report FILE [--spacing-from labels|pred] [--labels-set acdc|mscmr]
void add_evaluate_command(CLI::App& app);
// train --task NAME=DIR ... --out RUN_DIR [--method modelmix|mixup|pce] [--resume] ...
void add_train_command(CLI::App& app);
// predict --run RUN_DIR --in DIR --out DIR [--task NAME]
void add_predict_command(CLI::App& app);
// interpolate --run RUN_DIR --task NAME=DIR --out DIR [--layers ...] [--bn-stats ...]: Dice along θ_a → θ_b
void add_interpolate_command(CLI::App& app);
// compare --run NAME=RUN ... --out DIR [--at-seconds S] [--interpolation NAME=CSV ...]: runs side by side
void add_compare_command(CLI::App& app);
// phantom --out DIR [--volumes N] [--size S] (hidden): synthetic volumes as NIfTI, for tests
void add_phantom_command(CLI::App& app);
#endif

#if MODELMIX_CARDIAC_WITH_MONTAGE
// montage --images DIR [--scribbles DIR] [--pred DIR] [--labels DIR] --out DIR [--slices N]
void add_montage_command(CLI::App& app);
#endif

}  // namespace modelmix_cardiac
