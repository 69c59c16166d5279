// losses::mix_with_reversed of ops/cuda/mixup.hpp on the GPU: the shared launch code
// (mixup_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "mixup_launch.inl"
