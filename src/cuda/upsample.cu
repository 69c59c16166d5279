// 2× upsampling of ops/cuda/upsample.hpp on the GPU: the shared launch code
// (upsample_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "upsample_launch.inl"
