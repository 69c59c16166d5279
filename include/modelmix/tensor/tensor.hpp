#pragma once
// Tensor<T>: a shape plus contiguous row-major storage on one device, with value semantics
// (copying copies the data, on the same device; moving is free). Host storage is 64-byte
// aligned. Views onto host storage for xtensor and Eigen live in tensor/xtensor_view.hpp and
// tensor/eigen_view.hpp.
//
//   Tensor<float> a(Shape{2, 3});                          // host, zero-filled
//   auto b = Tensor<float>::empty(Shape{2, 3}, device::cuda);  // device, not filled
//   Tensor<float> c = b.to(device::cpu);                   // a copy on the host
//
// data() is the storage on whichever device holds it (kernels and backends take it);
// element access (operator[], operator(), span, storage, fill) is for host storage only.
// Device storage needs the optional modelmix::cuda target (tensor/device_memory.hpp).
#include <algorithm>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "modelmix/core/device.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"
#include "modelmix/ops/cpu/parallel.hpp"
#include "modelmix/tensor/aligned_allocator.hpp"
#include "modelmix/tensor/device_memory.hpp"

namespace modelmix {

template <class T>
class Tensor {
 public:
  using value_type = T;

  Tensor() = default;
  // Zero-filled host tensor.
  explicit Tensor(Shape shape) : shape_(std::move(shape)), host_(static_cast<std::size_t>(shape_.numel()), T(0)) {}
  Tensor(Shape shape, T fill) : shape_(std::move(shape)), host_(static_cast<std::size_t>(shape_.numel()), fill) {}
  Tensor(Shape shape, const std::vector<T>& values) : shape_(std::move(shape)), host_(values.begin(), values.end()) {
    MODELMIX_REQUIRE(static_cast<index_t>(host_.size()) == shape_.numel(), "Tensor: ", host_.size(),
                     " values do not fill shape ", shape_);
  }

  // Storage on `where` whose contents are unspecified: for outputs a kernel overwrites.
  [[nodiscard]] static Tensor empty(Shape shape, device where = device::cpu) {
    Tensor t;
    t.shape_ = std::move(shape);
    t.allocate(where);
    return t;
  }
  [[nodiscard]] static Tensor zeros(Shape shape, device where = device::cpu) {
    Tensor t = empty(std::move(shape), where);
    t.zero();
    return t;
  }

  Tensor(const Tensor& other) : shape_(other.shape_), host_(other.host_) {
    if (other.on_device()) {
      allocate(device::cuda);
      detail::device_copy(device_.get(), other.device_.get(), bytes(), detail::copy_direction::device_to_device);
    }
  }
  Tensor& operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
  }
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int rank() const { return shape_.rank(); }
  [[nodiscard]] index_t dim(int axis) const { return shape_[axis]; }
  [[nodiscard]] index_t numel() const { return device_ ? shape_.numel() : static_cast<index_t>(host_.size()); }
  [[nodiscard]] bool empty() const { return numel() == 0; }
  [[nodiscard]] device where() const { return device_ ? device::cuda : device::cpu; }
  [[nodiscard]] bool on_device() const { return device_ != nullptr; }

  // The storage, host or device.
  [[nodiscard]] T* data() { return device_ ? device_.get() : host_.data(); }
  [[nodiscard]] const T* data() const { return device_ ? device_.get() : host_.data(); }

  // ---- host only ----
  [[nodiscard]] std::span<T> span() { return host("span"); }
  [[nodiscard]] std::span<const T> span() const { return const_cast<Tensor*>(this)->host("span"); }
  [[nodiscard]] aligned_vector<T>& storage() {
    host("storage");
    return host_;
  }
  [[nodiscard]] const aligned_vector<T>& storage() const { return const_cast<Tensor*>(this)->storage(); }

  // Unchecked, like std::vector's (a device tensor has no host elements: host_ is empty).
  T& operator[](index_t i) { return host_[static_cast<std::size_t>(i)]; }
  const T& operator[](index_t i) const { return host_[static_cast<std::size_t>(i)]; }

  // Multi-index access, e.g. t(n, c, h, w). Unchecked in release builds.
  template <class... I>
  T& operator()(I... idx) { return host_[static_cast<std::size_t>(offset(idx...))]; }
  template <class... I>
  const T& operator()(I... idx) const { return host_[static_cast<std::size_t>(offset(idx...))]; }

  void fill(T value) {
    if (on_device() && value == T(0)) return zero();
    host("fill");
    std::fill(host_.begin(), host_.end(), value);
  }
  // Large host tensors are zeroed by every OpenMP thread: the tape zeroes each gradient
  // slot on first use, and that memset (6 % of a U-Net step's cycles) ran on the calling
  // thread while the others waited.
  void zero() {
    if (on_device()) return detail::device_fill_zero(device_.get(), bytes());
    ops::cpu::fill_zero(host_.data(), numel());
  }

  // ---- moving between devices ----
  // A copy on `where` (a plain copy when it is already there).
  [[nodiscard]] Tensor to(device where) const {
    if (where == this->where()) return *this;
    Tensor out = empty(shape_, where);
    detail::device_copy(out.data(), data(), bytes(),
                        where == device::cuda ? detail::copy_direction::host_to_device
                                              : detail::copy_direction::device_to_host);
    return out;
  }
  [[nodiscard]] Tensor to_device() const { return to(device::cuda); }
  [[nodiscard]] Tensor to_host() const { return to(device::cpu); }

  // Same storage, new shape with the same number of elements.
  [[nodiscard]] Tensor reshaped(Shape shape) const& {
    Tensor copy = *this;
    copy.reshape(std::move(shape));
    return copy;
  }
  [[nodiscard]] Tensor reshaped(Shape shape) && {
    reshape(std::move(shape));
    return std::move(*this);
  }
  void reshape(Shape shape) {
    MODELMIX_REQUIRE(shape.numel() == shape_.numel(), "reshape: ", shape_, " has ", shape_.numel(),
                     " elements, ", shape, " needs ", shape.numel());
    shape_ = std::move(shape);
  }

  // Elementwise accumulation, the building block of gradient accumulation (host).
  Tensor& operator+=(const Tensor& other) {
    MODELMIX_REQUIRE(other.shape_ == shape_, "Tensor +=: shape ", other.shape_, " into ", shape_);
    host("operator+=");
    other.require_host("operator+=");
    for (std::size_t i = 0; i < host_.size(); ++i) host_[i] += other.host_[i];
    return *this;
  }

 private:
  void allocate(device where) {
    const auto n = static_cast<std::size_t>(shape_.numel());
    if (where == device::cpu) {
      host_.resize(n);  // default-initialised: see aligned_allocator
      return;
    }
    device_.reset(static_cast<T*>(detail::device_allocate(n * sizeof(T))));
    MODELMIX_REQUIRE(n == 0 || device_, "Tensor: device allocation of ", n * sizeof(T), " bytes returned null");
  }
  [[nodiscard]] std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
  void require_host(const char* what) const {
    MODELMIX_REQUIRE(!on_device(), "Tensor::", what, ": the tensor ", shape_,
                     " lives on the CUDA device; copy it to the host first (to_host())");
  }
  std::span<T> host(const char* what) {
    require_host(what);
    return host_;
  }

  template <class... I>
  [[nodiscard]] index_t offset(I... idx) const {
    const index_t list[] = {static_cast<index_t>(idx)...};
    index_t off = 0;
    for (int axis = 0; axis < static_cast<int>(sizeof...(I)); ++axis) off = off * shape_[axis] + list[axis];
    return off;
  }

  Shape shape_;
  aligned_vector<T> host_;  // 64-byte aligned: see tensor/aligned_allocator.hpp; empty on the device
  std::unique_ptr<T, detail::device_deleter> device_;  // non-null when the storage is on the device
};

template <class T>
[[nodiscard]] bool same_shape(const Tensor<T>& a, const Tensor<T>& b) { return a.shape() == b.shape(); }

}  // namespace modelmix
