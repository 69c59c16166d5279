#pragma once
// Private to src/cuda: the cuDNN calls with an explicit beta (0 = overwrite, 1 = accumulate),
// so the naive baseline can write full gradients into scratch.
#include "modelmix/ops/conv2d_problem.hpp"

namespace modelmix::ops::cudnn::detail {

void fprop(const conv2d_problem& pb, const float* x, const float* w, const float* b, float* y);
void dgrad(const conv2d_problem& pb, const float* dy, const float* w, float* dx, float beta);
void wgrad(const conv2d_problem& pb, const float* x, const float* dy, float* dw, float beta);
void bgrad(const conv2d_problem& pb, const float* dy, float* db, float beta);

}  // namespace modelmix::ops::cudnn::detail
