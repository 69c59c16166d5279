// ops::batch_norm2d of ops/cuda/batch_norm.hpp on the GPU: the shared launch code
// (batch_norm_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "batch_norm_launch.inl"
