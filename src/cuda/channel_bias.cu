// ops::add_channel_bias of ops/cuda/channel_bias.hpp on the GPU: the shared launch code
// (channel_bias_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "channel_bias_launch.inl"
