#pragma once
// What every layer's forward receives besides the tape and the input.
//
//   training  BatchNorm uses batch statistics and updates its running ones; Dropout drops.
//   seed      the step's randomness. A Dropout layer draws its mask from hash(seed, its own
//             stream id), so two runs with the same seed and the same network drop the same
//             units. Vary it per step (e.g. seed = step counter).
//   update_running_stats
//             in training, whether BatchNorm layers fold this batch into their running
//             statistics (off for auxiliary passes — mixed-up or rotated inputs, virtual
//             models — whose statistics differ from the data evaluation will see).
//   fuse_conv_bn_relu
//             whether conv → BN → ReLU units (layers/conv_bn_relu.hpp) run fused: in evaluation
//             without gradient recording one convolution with the BN folded in (same result up
//             to rounding), elsewhere BN and ReLU as one op (bit-identical). Off = the three
//             layers one by one (tests and benchmarks compare the two).
//   relu_after_batch_norm
//             set by layers::conv_bn_relu on the context it hands its BatchNorm2d only: the BN
//             applies the unit's ReLU itself (ops::batch_norm2d_relu), whether it runs its own
//             computation or a mixed one. Leave it false.
//   mixing    network-level mixing (layers/mix_bindings.hpp): a Mixable layer whose address is
//             bound there runs the mixed computation instead of its own; nullptr = no mixing.
#include <cstdint>

namespace modelmix::layers {

template <class T>
class mix_bindings;

template <class T>
struct forward_context {
  bool training = false;
  std::uint64_t seed = 0;
  const mix_bindings<T>* mixing = nullptr;
  bool update_running_stats = true;
  bool fuse_conv_bn_relu = true;
  bool relu_after_batch_norm = false;
};

}  // namespace modelmix::layers
