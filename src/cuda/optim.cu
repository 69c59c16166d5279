// The optimizers' updates and gradient clipping of ops/cuda/optim.hpp on the GPU: the shared
// launch code (optim_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "optim_launch.inl"
