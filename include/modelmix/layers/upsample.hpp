#pragma once
// Upsample as a layer: ×2 in H and W, nearest or bilinear (PyTorch align_corners=False),
// no parameters.   x [N, C, H, W] → y [N, C, 2H, 2W]
#include <string>

#include "modelmix/layers/forward_context.hpp"
#include "modelmix/ops/upsample.hpp"

namespace modelmix::layers {

enum class upsample_mode { nearest, bilinear };

struct upsample_options {
  upsample_mode mode = upsample_mode::nearest;
};

template <class T>
class Upsample {
 public:
  using value_type = T;
  explicit Upsample(const upsample_options& options = {}) : options_(options) {}
  Var<T> forward(Tape<T>&, const Var<T>& x, const forward_context<T>&) {
    return options_.mode == upsample_mode::nearest ? ops::upsample_nearest2x(x) : ops::upsample_bilinear2x(x);
  }
  template <class F>
  void visit_parameters(const std::string&, F&&) {}
  [[nodiscard]] const upsample_options& options() const { return options_; }

 private:
  upsample_options options_;
};

}  // namespace modelmix::layers
