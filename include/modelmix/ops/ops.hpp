#pragma once
// Every op of modelmix::ops: Var-level functions that record their backward on the tape.
// Images are NCHW. Plain-loop oracles for the tests live in ops/reference/.
#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/batch_norm.hpp"
#include "modelmix/ops/channel_bias.hpp"
#include "modelmix/ops/concat.hpp"
#include "modelmix/ops/cosine_similarity.hpp"
#include "modelmix/ops/dropout.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/flip.hpp"
#include "modelmix/ops/pooling.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/reshape.hpp"
#include "modelmix/ops/rotate.hpp"
#include "modelmix/ops/softmax.hpp"
#include "modelmix/ops/upsample.hpp"

// The parametric ops (mixed convolution, parameter combination).
#include "modelmix/ops/combine.hpp"
#include "modelmix/ops/conv2d.hpp"
#include "modelmix/ops/conv2d_bn_relu.hpp"
