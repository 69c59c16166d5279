// The one translation unit that holds Catch2's main(), compiled once for every test binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "modelmix/autograd/tape.hpp"

// Every test runs with the gradient slots an op is asked to write first filled with NaN
// (Tape::grad_target): an op that assigns only part of a gradient, or adds to it, then fails
// the gradient checks instead of reading memory that happened to be zero.
static const bool gradients_poisoned = (modelmix::autograd::poison_assigned_gradients() = true);
