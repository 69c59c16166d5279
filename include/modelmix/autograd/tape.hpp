#pragma once
// Tape autograd.
//
// A Tape is a list of nodes in execution order. Each op appends its result and, when any
// input needs a gradient, a backward closure. Execution order is already a topological
// order, so backward() just walks the closures in reverse; each closure reads the gradient
// of its output and adds (+=) into the gradients of its inputs (or, through grad_target,
// writes a slot nothing has written yet).
//
//   Tape<float> tape;
//   Var<float> x = tape.constant(image);
//   Var<float> w = tape.parameter(layer.weight);     // gradient lands in layer.weight.grad
//   Var<float> loss = ops::mean(ops::conv2d(x, w, {}));
//   tape.backward(loss);
//
// A tape is used once: record, backward, then destroy it or call clear().
#include <cstddef>
#include <deque>
#include <functional>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>

#include "modelmix/autograd/parameter.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::autograd {

// Gradient recording can be switched off per thread (evaluation, optimizer updates).
inline bool& grad_mode_enabled() {
  thread_local bool enabled = true;
  return enabled;
}

class no_grad_guard {
 public:
  no_grad_guard() : previous_(grad_mode_enabled()) { grad_mode_enabled() = false; }
  ~no_grad_guard() { grad_mode_enabled() = previous_; }
  no_grad_guard(const no_grad_guard&) = delete;
  no_grad_guard& operator=(const no_grad_guard&) = delete;

 private:
  bool previous_;
};

template <class T>
class Tape;

// Where an op's backward writes the gradient of one input (see Tape::grad_target).
template <class T>
struct gradient_sink {
  Tensor<T>* slot = nullptr;  // null: the input needs no gradient
  bool assign = false;        // true: write every element (=); false: add (+=)
  explicit operator bool() const { return slot != nullptr; }
};

// Tests switch this on (tests/support/catch_main.cpp): slots handed out with assign = true are
// filled with NaN first, so an op that claims to assign but leaves an element unwritten (or
// adds to it) yields NaN gradients instead of passing on memory that happened to be zero.
inline bool& poison_assigned_gradients() {
  static bool poison = false;
  return poison;
}

// A handle to one node of a tape: cheap to copy, valid while the tape lives and is not cleared.
template <class T>
class Var {
 public:
  Var() = default;

  [[nodiscard]] const Tensor<T>& value() const;
  [[nodiscard]] const Shape& shape() const { return value().shape(); }
  [[nodiscard]] bool requires_grad() const;
  // The gradient after backward(); zeros if backward never reached this node.
  [[nodiscard]] const Tensor<T>& grad() const;
  [[nodiscard]] Tape<T>& tape() const {
    MODELMIX_REQUIRE(tape_ != nullptr, "Var: use of an empty (default-constructed) Var");
    return *tape_;
  }
  [[nodiscard]] bool valid() const { return tape_ != nullptr; }
  [[nodiscard]] std::size_t id() const { return id_; }

 private:
  friend class Tape<T>;
  Var(Tape<T>* tape, std::size_t id) : tape_(tape), id_(id) {}
  Tape<T>* tape_ = nullptr;
  std::size_t id_ = 0;
};

template <class T>
class Tape {
 public:
  // Receives the gradient of the op's result; adds into grad_slot(input) of its inputs.
  using Backward = std::function<void(const Tensor<T>& grad_out)>;

  Tape() = default;
  Tape(const Tape&) = delete;  // Vars point at their tape
  Tape& operator=(const Tape&) = delete;

  // ---- leaves ----
  // A value that never receives a gradient.
  Var<T> constant(Tensor<T> value) { return push_owned(std::move(value), false); }
  // A leaf that owns its value and collects a gradient (read it with var.grad()).
  Var<T> variable(Tensor<T> value) { return push_owned(std::move(value), true); }
  // A leaf bound to external storage; its gradient accumulates (+=) into p.grad.
  // `p` must outlive the tape. Under a trainable_only_guard, a parameter the guard's filter
  // rejects is recorded as a constant instead.
  Var<T> parameter(Parameter<T>& p) {
    if (trainable_ && !trainable_(p)) return constant_ref(p.value);
    MODELMIX_REQUIRE(p.grad.shape() == p.value.shape(), "Tape::parameter: gradient shape ", p.grad.shape(),
                     " does not match value shape ", p.value.shape());
    Node& n = nodes_.emplace_back();
    n.value = &p.value;
    n.grad = &p.grad;
    n.requires_grad = true;
    return Var<T>(this, nodes_.size() - 1);
  }
  // External storage read as a constant (no copy, no gradient). `value` must outlive the tape.
  Var<T> constant_ref(const Tensor<T>& value) {
    Node& n = nodes_.emplace_back();
    n.value = &value;
    return Var<T>(this, nodes_.size() - 1);
  }

  // ---- recording (used by ops) ----
  // Appends an op result. The closure is kept only if gradients are enabled and some input
  // requires a gradient; otherwise the result is a constant.
  Var<T> record(const char* op, Tensor<T> value, std::initializer_list<Var<T>> inputs, Backward backward) {
    return record(op, std::move(value), std::span<const Var<T>>(inputs.begin(), inputs.size()), std::move(backward));
  }
  // The same for ops with a run-time number of inputs (concatenation, N-way mixed convolution).
  Var<T> record(const char* op, Tensor<T> value, std::span<const Var<T>> inputs, Backward backward) {
    bool needs_grad = false;
    for (const Var<T>& in : inputs) {
      check_owned(in, op);
      needs_grad = needs_grad || nodes_[in.id_].requires_grad;
    }
    needs_grad = needs_grad && grad_mode_enabled();
    Var<T> out = push_owned(std::move(value), needs_grad);
    if (needs_grad) nodes_.back().backward = std::move(backward);
    return out;
  }

  // The gradient buffer of `v`, zero-initialised on first use on the device of `v`'s value;
  // nullptr when `v` needs none.
  Tensor<T>* grad_slot(const Var<T>& v) {
    check_owned(v, "grad_slot");
    Node& n = nodes_[v.id_];
    if (!n.requires_grad) return nullptr;
    if (n.grad == &n.owned_grad && n.owned_grad.shape() != n.value->shape())
      n.owned_grad = Tensor<T>::zeros(n.value->shape(), n.value->where());
    n.reached = true;
    return n.grad;
  }

  // The same slot for an op whose backward can write the whole gradient of `v` in one pass. On
  // first use the slot is allocated without the zero fill and `assign` is true: the op must
  // then write (=) every element instead of adding. That saves the fill and a read of zeros
  // per activation gradient (~1-2 % of a U-Net training step, docs/benchmarks.md). Later uses,
  // parameters (their gradients accumulate across passes and steps) and device tensors get
  // assign = false: add as usual.
  gradient_sink<T> grad_target(const Var<T>& v) {
    check_owned(v, "grad_target");
    Node& n = nodes_[v.id_];
    if (!n.requires_grad) return {};
    const bool fresh = n.grad == &n.owned_grad && n.owned_grad.shape() != n.value->shape();
    if (!fresh || n.value->on_device()) return {grad_slot(v), false};
    n.owned_grad = Tensor<T>::empty(n.value->shape());
    if (poison_assigned_gradients()) n.owned_grad.fill(std::numeric_limits<T>::quiet_NaN());
    n.reached = true;
    return {n.grad, true};
  }

  // ---- backward ----
  void backward(const Var<T>& loss) {
    check_owned(loss, "backward");
    MODELMIX_REQUIRE(!backward_done_,
                     "backward() was already called on this tape; record the step on a new tape or call clear()");
    MODELMIX_REQUIRE(loss.value().numel() == 1, "backward() needs a scalar loss; got a tensor of shape ",
                     loss.shape(), " (reduce it with sum or mean first)");
    MODELMIX_REQUIRE(nodes_[loss.id_].requires_grad,
                     "backward(): the loss does not depend on any parameter or variable that requires a gradient");
    backward_done_ = true;
    seed(*grad_slot(loss));
    for (std::size_t i = loss.id_ + 1; i-- > 0;) {
      Node& n = nodes_[i];
      if (n.backward && n.reached) n.backward(*n.grad);
    }
  }

  // Drop every node so the tape can record a new step. Outstanding Vars become invalid.
  void clear() {
    nodes_.clear();
    backward_done_ = false;
  }
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }

  // Which parameters parameter() records as trainable; empty = all (see trainable_only_guard).
  using ParameterFilter = std::function<bool(const Parameter<T>&)>;
  void set_trainable_filter(ParameterFilter keep) { trainable_ = std::move(keep); }
  [[nodiscard]] const ParameterFilter& trainable_filter() const { return trainable_; }

  const Tensor<T>& value_of(const Var<T>& v) const { return *nodes_[v.id_].value; }
  bool requires_grad_of(const Var<T>& v) const { return nodes_[v.id_].requires_grad; }
  const Tensor<T>& grad_of(const Var<T>& v) {
    Tensor<T>* g = grad_slot(v);
    MODELMIX_REQUIRE(g != nullptr, "Var::grad(): this value does not require a gradient");
    return *g;
  }

 private:
  ParameterFilter trainable_;

  struct Node {
    Tensor<T> owned;
    Tensor<T> owned_grad;
    const Tensor<T>* value = nullptr;  // &owned, or external (parameter, constant_ref)
    Tensor<T>* grad = nullptr;         // &owned_grad, or a Parameter's grad
    bool requires_grad = false;
    bool reached = false;  // some gradient flowed into this node
    Backward backward;
  };

  // ∂loss/∂loss = 1, on the loss's device (its fresh slot holds 0, so on the device the 1 is
  // copied in rather than added).
  static void seed(Tensor<T>& slot) {
    if (!slot.on_device()) {
      slot[0] += T(1);
      return;
    }
    slot = Tensor<T>(Shape{1}, T(1)).to(device::cuda);
  }

  Var<T> push_owned(Tensor<T> value, bool requires_grad) {
    Node& n = nodes_.emplace_back();  // deque: node addresses stay stable
    n.owned = std::move(value);
    n.value = &n.owned;
    n.grad = &n.owned_grad;
    n.requires_grad = requires_grad;
    return Var<T>(this, nodes_.size() - 1);
  }
  void check_owned(const Var<T>& v, const char* op) const {
    MODELMIX_REQUIRE(v.tape_ != nullptr, op, ": an empty (default-constructed) Var was passed");
    MODELMIX_REQUIRE(v.tape_ == this, op, ": a Var from another tape was passed; all inputs of one step must be "
                     "recorded on the same tape");
    MODELMIX_REQUIRE(v.id_ < nodes_.size(), op, ": a Var recorded before the tape was cleared was passed");
  }

  std::deque<Node> nodes_;
  bool backward_done_ = false;
};

template <class T>
const Tensor<T>& Var<T>::value() const { return tape().value_of(*this); }
template <class T>
bool Var<T>::requires_grad() const { return tape().requires_grad_of(*this); }
template <class T>
const Tensor<T>& Var<T>::grad() const { return tape().grad_of(*this); }

// All inputs of a multi-input op must live on one tape; returns it.
template <class T>
Tape<T>& common_tape(const char* op, std::initializer_list<Var<T>> vars) {
  Tape<T>* tape = nullptr;
  for (const Var<T>& v : vars) {
    MODELMIX_REQUIRE(v.valid(), op, ": an empty (default-constructed) Var was passed");
    MODELMIX_REQUIRE(tape == nullptr || &v.tape() == tape, op, ": inputs come from different tapes");
    tape = &v.tape();
  }
  MODELMIX_REQUIRE(tape != nullptr, op, ": no inputs");
  return *tape;
}

// For its lifetime, only the parameters `keep` accepts are recorded as trainable on `tape`; the
// others enter as constants, so nothing recorded meanwhile sends them a gradient. This is how a
// pass through a network can "take no gradient" (as the original ModelMix code's deep-copied
// virtual model) without copying it.
template <class T>
class trainable_only_guard {
 public:
  trainable_only_guard(Tape<T>& tape, typename Tape<T>::ParameterFilter keep)
      : tape_(tape), previous_(tape.trainable_filter()) {
    tape_.set_trainable_filter(std::move(keep));
  }
  ~trainable_only_guard() { tape_.set_trainable_filter(std::move(previous_)); }
  trainable_only_guard(const trainable_only_guard&) = delete;
  trainable_only_guard& operator=(const trainable_only_guard&) = delete;

 private:
  Tape<T>& tape_;
  typename Tape<T>::ParameterFilter previous_;
};

}  // namespace modelmix::autograd

namespace modelmix {
using autograd::gradient_sink;
using autograd::no_grad_guard;
using autograd::Tape;
using autograd::trainable_only_guard;
using autograd::Var;
}  // namespace modelmix
