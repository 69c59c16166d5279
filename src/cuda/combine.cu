// ops::combine of ops/cuda/combine.hpp on the GPU: the shared launch code (combine_launch.inl)
// over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "combine_launch.inl"
