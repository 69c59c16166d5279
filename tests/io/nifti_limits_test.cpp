// NIfTI reading under hostile headers: a header's claims never drive an allocation by
// themselves (the reader checks a byte budget, the file size, and grows .nii.gz buffers with
// the data really present), an allocation failure becomes an error naming the file, and
// non-finite intensities are refused naming the voxel — or replaced when asked.
//
// This binary replaces the global operator new and delete (below; all forms that new[] and
// delete[] do not forward to) to observe and limit allocations:
// disarmed it is plain malloc; armed, it records the largest request and throws
// std::bad_alloc for any request over the limit.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>

#include "io/io_fixtures.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"

namespace {
std::atomic<bool> probe_armed{false};
std::atomic<std::size_t> probe_limit{0};
std::atomic<std::size_t> probe_peak{0};

void* probe_allocate(std::size_t n, std::size_t alignment) {
  if (probe_armed.load(std::memory_order_relaxed)) {
    std::size_t peak = probe_peak.load(std::memory_order_relaxed);
    while (n > peak && !probe_peak.compare_exchange_weak(peak, n)) {
    }
    if (n > probe_limit.load(std::memory_order_relaxed)) throw std::bad_alloc();
  }
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(n == 0 ? 1 : n);
  } else {
    const std::size_t rounded = (std::max<std::size_t>(n, 1) + alignment - 1) / alignment * alignment;
    p = std::aligned_alloc(alignment, rounded);
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Arms the probe for its lifetime: allocations over `limit` bytes fail.
struct AllocationProbe {
  explicit AllocationProbe(std::size_t limit) {
    probe_peak = 0;
    probe_limit = limit;
    probe_armed = true;
  }
  ~AllocationProbe() { probe_armed = false; }
  [[nodiscard]] std::size_t peak() const { return probe_peak.load(); }
};
}  // namespace

void* operator new(std::size_t n) { return probe_allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return probe_allocate(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
// The nothrow forms too (Catch2 uses them): otherwise a sanitizer's own nothrow new would hand
// out memory that the free() above releases (ASan: alloc-dealloc-mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return probe_allocate(n, 0);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return probe_allocate(n, static_cast<std::size_t>(a));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace io = modelmix::io;
namespace data = modelmix::data;
using Catch::Contains;
using modelmix::index_t;
using modelmix::Shape;
using modelmix::Tensor;
using modelmix::test::TempDir;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

data::Volume<float> small_volume(index_t nz = 4, index_t ny = 6, index_t nx = 8) {
  data::Volume<float> v{Tensor<float>(Shape{nz, ny, nx}), {1.0, 1.0, 2.0}, "v"};
  for (index_t i = 0; i < v.voxels.numel(); ++i) v.voxels[i] = static_cast<float>(i % 17);
  return v;
}

// A header claiming nx × ny × nz of float64, followed by `data_bytes` random bytes.
std::vector<unsigned char> lying_file(short nx, short ny, short nz, std::size_t data_bytes) {
  nifti_1_header h = io::make_header(small_volume());
  h.dim[1] = nx;
  h.dim[2] = ny;
  h.dim[3] = nz;
  h.datatype = DT_FLOAT64;
  h.bitpix = 64;
  std::vector<unsigned char> payload(data_bytes);
  std::mt19937 rng(7);
  for (auto& b : payload) b = static_cast<unsigned char>(rng());
  return modelmix::test::nifti_bytes(h, payload);
}

// float32 file of small_volume() with `value` stored at voxel (i, j, k) = (2, 1, 3).
std::vector<unsigned char> float_file_with(float value, float slope = 1.0f) {
  auto volume = small_volume();
  nifti_1_header h = io::make_header(volume);
  h.scl_slope = slope;
  volume.voxels[(3 * 6 + 1) * 8 + 2] = value;
  std::vector<unsigned char> payload(static_cast<std::size_t>(volume.voxels.numel()) * 4);
  std::memcpy(payload.data(), volume.voxels.data(), payload.size());
  return modelmix::test::nifti_bytes(h, payload);
}

}  // namespace

TEST_CASE("nifti limits: a small file claiming a huge volume is refused before allocating", "[io][nifti][errors]") {
  TempDir dir;
  // 4096 × 4096 × 32 float64 = 4 GiB claimed, 232 KB present.
  const auto bytes = lying_file(4096, 4096, 32, 232 * 1024);
  modelmix::test::write_bytes(dir / "liar.nii", bytes);
  modelmix::test::write_gz(dir / "liar.nii.gz", bytes);

  SECTION("the default budget refuses it up front, saying what to change") {
    for (const char* name : {"liar.nii", "liar.nii.gz"}) {
      INFO(name);
      AllocationProbe probe(64 * MiB);
      CHECK_THROWS_WITH(io::read_volume(dir / name), Contains(name) && Contains("4294967296 stored") &&
                                                         Contains("ReadOptions::max_bytes"));
      CHECK(probe.peak() < MiB);
    }
  }
  SECTION("with a budget big enough, the missing data is found before the buffer is made") {
    const io::ReadOptions roomy{std::size_t{64} << 30};
    {
      AllocationProbe probe(64 * MiB);
      CHECK_THROWS_WITH(io::read_volume(dir / "liar.nii", roomy), Contains("liar.nii") && Contains("truncated"));
      CHECK(probe.peak() < MiB);
    }
    {
      // A gzip stream's length is unknown: its buffer grows only with the data that arrives.
      AllocationProbe probe(64 * MiB);
      CHECK_THROWS_WITH(io::read_volume(dir / "liar.nii.gz", roomy), Contains("liar.nii.gz") && Contains("truncated"));
      CHECK(probe.peak() <= 2 * MiB);
    }
  }
  SECTION("a huge vox_offset in a small .nii.gz is not allocated either") {
    nifti_1_header h = io::make_header(small_volume());
    h.vox_offset = static_cast<float>((1 << 30) - 1024);
    modelmix::test::write_gz(dir / "gap.nii.gz", modelmix::test::nifti_bytes(h, std::vector<unsigned char>(4096)));
    AllocationProbe probe(64 * MiB);
    CHECK_THROWS_WITH(io::read_volume(dir / "gap.nii.gz"), Contains("gap.nii.gz") && Contains("truncated"));
    CHECK(probe.peak() < MiB);
  }
  SECTION("negative, zero and overflowing extents are refused by the header check") {
    for (short bad : {short{0}, short{-1}, short{-32768}}) {
      auto b = lying_file(8, bad, 8, 0);
      modelmix::test::write_bytes(dir / "dims.nii", b);
      CHECK_THROWS_WITH(io::read_volume(dir / "dims.nii"), Contains("dims.nii") && Contains("dim[2]"));
    }
    modelmix::test::write_bytes(dir / "big.nii", lying_file(32767, 32767, 32767, 0));
    CHECK_THROWS_WITH(io::read_volume(dir / "big.nii"), Contains("big.nii") && Contains("implausible"));
  }
}

TEST_CASE("nifti limits: the byte budget is an option; exactly enough is enough", "[io][nifti][errors]") {
  TempDir dir;
  io::write_nifti(dir / "v.nii.gz", small_volume(), io::WriteOptions{DT_INT16});
  const std::size_t needed = 4 * 6 * 8 * (2 + sizeof(float));
  CHECK(io::read_volume(dir / "v.nii.gz", io::ReadOptions{needed}).voxels.shape() == Shape{4, 6, 8});
  CHECK_THROWS_WITH(io::read_volume(dir / "v.nii.gz", io::ReadOptions{needed - 1}),
                    Contains("v.nii.gz") && Contains(std::to_string(needed) + " bytes") && Contains("max_bytes"));
}

TEST_CASE("nifti limits: running out of memory is an error naming the file", "[io][nifti][errors]") {
  TempDir dir;
  io::write_nifti(dir / "v.nii", small_volume(16, 64, 64));
  std::string message = "no modelmix::error";
  {
    AllocationProbe probe(4096);  // the 64 KiB of data cannot be allocated
    try {
      (void)io::read_volume(dir / "v.nii");
    } catch (const modelmix::error& e) {
      message = e.what();
    } catch (const std::bad_alloc&) {
      message = "bare std::bad_alloc";
    }
  }
  CHECK_THAT(message, Contains("v.nii") && Contains("out of memory"));
}

TEST_CASE("nifti limits: non-finite voxels are refused naming the voxel, or replaced when asked", "[io][nifti][errors]") {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  modelmix::test::write_bytes(dir / "nan.nii", float_file_with(nan));
  modelmix::test::write_gz(dir / "inf.nii.gz", float_file_with(-inf));
  // 1e30 × scl_slope 1e30 = 1e60: finite in double, Inf in float.
  modelmix::test::write_bytes(dir / "scaled.nii", float_file_with(1e30f, 1e30f));

  CHECK_THROWS_WITH(io::read_volume(dir / "nan.nii"), Contains("nan.nii") && Contains("(2, 1, 3)") && Contains("nan"));
  CHECK_THROWS_WITH(io::read_volume(dir / "inf.nii.gz"), Contains("inf.nii.gz") && Contains("(2, 1, 3)"));
  CHECK_THROWS_WITH(io::read_volume(dir / "scaled.nii"),
                    Contains("scaled.nii") && Contains("(2, 1, 3)") && Contains("scl_slope"));
  // In double the scaled value is finite and exact enough to be read.
  CHECK(io::read_volume<double>(dir / "scaled.nii").voxels[(3 * 6 + 1) * 8 + 2] == Approx(1e60));

  const io::ReadOptions zero{.nonfinite = data::nonfinite_policy::replace_with_zero};
  for (const char* name : {"nan.nii", "inf.nii.gz", "scaled.nii"}) {
    INFO(name);
    const auto v = io::read_volume(dir / name, zero);
    CHECK(v.voxels[(3 * 6 + 1) * 8 + 2] == 0.0f);
    CHECK(v.voxels[(3 * 6 + 1) * 8 + 3] == static_cast<float>(((3 * 6 + 1) * 8 + 3) % 17) * (name[0] == 's' ? 1e30f : 1.0f));
  }
}

TEST_CASE("nifti limits: training data loading refuses non-finite images unless told otherwise", "[io][dataset][errors]") {
  TempDir dir;
  const auto split = dir.path() / "train";
  std::filesystem::create_directories(split / "images");
  modelmix::test::write_bytes(split / "images" / "a.nii", float_file_with(std::numeric_limits<float>::quiet_NaN()));
  const auto files = data::scan_split(split);
  const auto labels = data::label_set_by_name("acdc");

  CHECK_THROWS_WITH(data::load_split(files, labels, io::NiftiReader{}), Contains("a.nii") && Contains("(2, 1, 3)"));
  const io::NiftiReader replacing{io::ReadOptions{.nonfinite = data::nonfinite_policy::replace_with_zero}};
  CHECK(data::load_split(files, labels, replacing).at(0).image.voxels[(3 * 6 + 1) * 8 + 2] == 0.0f);

  // Any reader: load_case checks what it returns.
  auto raw_reader = [](const std::filesystem::path&) {
    auto v = small_volume();
    v.voxels[5] = std::numeric_limits<float>::infinity();
    return v;
  };
  CHECK_THROWS_WITH(data::load_case(files.cases.at(0), labels, raw_reader),
                    Contains("a.nii") && Contains("(5, 0, 0)") && Contains("inf"));
  const auto c = data::load_case(files.cases.at(0), labels, raw_reader,
                                 data::LoadOptions{data::nonfinite_policy::replace_with_zero});
  CHECK(c.image.voxels[5] == 0.0f);
}
