#pragma once
// Learning-rate schedules: small value types with lr_at(step), where step counts optimizer
// steps already taken (lr_at(0) is the rate of the first step). Set it before each step:
//   opt.set_lr(schedule.lr_at(opt.step_count()));
//
//   constant_lr:  lr
//   step_lr:      lr · gamma^⌊step / step_size⌋
//   cosine_lr:    min_lr + (lr − min_lr) · (1 + cos(π · min(step, total) / total)) / 2
//   poly_lr:      lr · (1 − min(step, total) / total)^power        (nnU-Net uses power 0.9)
//
// The original ModelMix run uses a constant 1e-4.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <variant>

#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::optim {

struct constant_lr {
  double lr = 1e-4;
  [[nodiscard]] double lr_at(index_t /*step*/) const { return lr; }
};

struct step_lr {
  double lr = 1e-3;
  index_t step_size = 1000;
  double gamma = 0.1;
  [[nodiscard]] double lr_at(index_t step) const {
    MODELMIX_REQUIRE(step_size > 0, "step_lr: step_size must be positive; got ", step_size);
    return lr * std::pow(gamma, double(std::max<index_t>(step, 0) / step_size));
  }
};

struct cosine_lr {
  double lr = 1e-3;
  index_t total_steps = 1000;
  double min_lr = 0;
  [[nodiscard]] double lr_at(index_t step) const {
    MODELMIX_REQUIRE(total_steps > 0, "cosine_lr: total_steps must be positive; got ", total_steps);
    const double progress = double(std::clamp<index_t>(step, 0, total_steps)) / double(total_steps);
    return min_lr + (lr - min_lr) * (1 + std::cos(std::numbers::pi * progress)) / 2;
  }
};

struct poly_lr {
  double lr = 1e-3;
  index_t total_steps = 1000;
  double power = 0.9;
  [[nodiscard]] double lr_at(index_t step) const {
    MODELMIX_REQUIRE(total_steps > 0, "poly_lr: total_steps must be positive; got ", total_steps);
    const double progress = double(std::clamp<index_t>(step, 0, total_steps)) / double(total_steps);
    return lr * std::pow(1 - progress, power);
  }
};

// Any of the above, for configuration structs.
using lr_schedule = std::variant<constant_lr, step_lr, cosine_lr, poly_lr>;

[[nodiscard]] inline double lr_at(const lr_schedule& schedule, index_t step) {
  return std::visit([step](const auto& s) { return s.lr_at(step); }, schedule);
}

}  // namespace modelmix::optim
