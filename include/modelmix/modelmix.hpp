#pragma once
// modelmix — parameter-interpolating neural networks (the umbrella header).
//
// Everything header-only that needs nothing beyond Eigen and xtensor. Parts that link an
// optional library have their own headers and CMake targets and are not included here:
//   modelmix/io/nifti.hpp   NIfTI volumes (target modelmix::nifti, needs nifti_clib)
#include "modelmix/core/config.hpp"
#include "modelmix/core/device.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

#include "modelmix/tensor/eigen_view.hpp"
#include "modelmix/tensor/tensor.hpp"
#include "modelmix/tensor/xtensor_view.hpp"

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/autograd/parameter.hpp"
#include "modelmix/autograd/tape.hpp"

#include "modelmix/mixing/mixable.hpp"
#include "modelmix/mixing/operand.hpp"
#include "modelmix/mixing/plan.hpp"
#include "modelmix/mixing/spec.hpp"

#include "modelmix/ops/ops.hpp"

#include "modelmix/layers/layers.hpp"

#include "modelmix/models/unet.hpp"

#include "modelmix/losses/cosine_consistency.hpp"
#include "modelmix/losses/dice.hpp"
#include "modelmix/losses/mixup.hpp"
#include "modelmix/losses/one_hot.hpp"
#include "modelmix/losses/partial_cross_entropy.hpp"

#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/checkpoint.hpp"
#include "modelmix/optim/clip_grad_norm.hpp"
#include "modelmix/optim/schedules.hpp"
#include "modelmix/optim/sgd.hpp"

#include "modelmix/io/safetensors.hpp"

#include "modelmix/data/augment.hpp"
#include "modelmix/data/batch_loader.hpp"
#include "modelmix/data/crop_pad.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/data/normalize.hpp"
#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/data/volume.hpp"

#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/metrics.hpp"
#include "modelmix/method/paired_comparison.hpp"
#include "modelmix/method/predict.hpp"
#include "modelmix/method/trainer.hpp"
