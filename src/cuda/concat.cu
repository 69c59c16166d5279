// ops::concat_channels of ops/cuda/concat.hpp on the GPU: the shared launch code
// (concat_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "concat_launch.inl"
