#pragma once
// NIfTI-1 volume I/O on nifti_clib — optional: include only with the modelmix::nifti target.
//
// Layout: a single-file NIfTI-1 volume (.nii or .nii.gz) stores voxel (i, j, k) at element
// (k·ny + j)·nx + i, x fastest — exactly data::Volume's [Z, Y, X] order, so slices are
// contiguous and nothing is transposed. Values: intensity = scl_slope·stored + scl_inter
// when scl_slope is finite and non-zero (NIfTI: a zero slope means "not scaled").
// Geometry: spacing (mm, x y z) is |pixdim[1..3]|, never taken from the affine, because the
// ACDC sforms leave it out. affine() gives voxel → scanner mm: the sform when sform_code > 0,
// else the qform when qform_code > 0, else diag(pixdim).
//
// Reading deliberately avoids nifti_image_read: nifti_clib reports problems by printing and
// may return NULL or exit. Here the header is validated first (size field, magic, rank,
// datatype, data offset, extents) and every znz read count is checked, so a truncated,
// foreign or non-3-D file becomes a modelmix::error that names the file.
// Memory: nothing is allocated from the header's claims alone. The volume's size (stored
// data + decoded voxels) is checked against ReadOptions::max_bytes first; an uncompressed
// file must be large enough for its claimed data before its buffer is made; a .nii.gz
// buffer grows with the data actually decompressed, so a small file claiming a huge volume
// fails on "truncated" after at most about twice the real data. Any std::bad_alloc becomes
// a modelmix::error naming the file. Non-finite intensities (NaN, ±Inf, or a scaled value
// that overflows T) are refused naming voxel (i, j, k), unless ReadOptions::nonfinite
// replaces them.
//
// Writing clones a reference header (geometry and affine kept) and goes to a temporary file
// next to the target that is renamed over it only when complete: an interrupted write never
// leaves a half-written output in place.
#include <nifti1_io.h>
#include <znzlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::io {

namespace fs = std::filesystem;

using Affine = std::array<std::array<double, 4>, 4>;  // row-major, last row (0 0 0 1)

template <class T>
struct NiftiVolume {
  data::Volume<T> volume;
  nifti_1_header header;  // host byte order; the reference for writing results on this grid
};

struct ReadOptions {
  // Most memory one read may use: the stored data plus the decoded Volume<T>. The default,
  // 2 GiB, is ~40× a large cardiac cine frame; raise it for bigger volumes.
  std::size_t max_bytes = std::size_t{2} << 30;
  data::nonfinite_policy nonfinite = data::nonfinite_policy::refuse;
};

struct WriteOptions {
  int datatype = DT_FLOAT32;  // any of the readable datatypes
  double scl_slope = 1.0;     // stored = (value − scl_inter) / scl_slope
  double scl_inter = 0.0;
};

// Case id of a file: its name without ".nii.gz" / ".nii".
[[nodiscard]] inline std::string nifti_case_name(const fs::path& path) {
  std::string name = path.filename().string();
  for (const char* ext : {".nii.gz", ".nii"}) {
    const std::size_t n = std::strlen(ext);
    if (name.size() > n && name.compare(name.size() - n, n, ext) == 0) return name.substr(0, name.size() - n);
  }
  return name;
}

[[nodiscard]] inline bool is_nifti_path(const fs::path& path) {
  const std::string name = path.filename().string();
  auto ends = [&](const std::string& ext) {
    return name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

namespace detail {

inline constexpr std::size_t header_bytes = 348;
// Beyond any budget: 2^31 voxels (16 GiB of float64). Extents are ≤ 32767, so the product
// of three cannot overflow index_t.
inline constexpr index_t max_voxels = index_t{1} << 31;
inline constexpr std::size_t chunk_bytes = std::size_t{1} << 20;  // first .nii.gz read; doubles after

struct ZnzCloser {
  void operator()(znzptr* f) const {
    if (f != nullptr) Xznzclose(&f);
  }
};
using ZnzHandle = std::unique_ptr<znzptr, ZnzCloser>;

// Bytes per voxel of the datatypes read and written here; 0 for anything else.
[[nodiscard]] inline int bytes_per_voxel(int datatype) {
  switch (datatype) {
    case DT_UINT8:
    case DT_INT8: return 1;
    case DT_INT16:
    case DT_UINT16: return 2;
    case DT_INT32:
    case DT_UINT32:
    case DT_FLOAT32: return 4;
    case DT_FLOAT64: return 8;
    default: return 0;
  }
}

[[nodiscard]] inline std::string datatype_name(int datatype) {
  return cat(nifti_datatype_string(datatype), " (", datatype, ")");
}

// Decode n stored values of type S at `bytes` into T, applying the optional scaling. A value
// that is not finite, or does not fit T (1e300 into float overflows to Inf; integers must be
// in range), goes to `bad(index, stored, value)`, which throws or returns the replacement.
template <class S, class T, class Bad>
void decode(const unsigned char* bytes, index_t n, bool swapped, double slope, double inter, T* out, Bad&& bad) {
  const bool scaled = std::isfinite(slope) && slope != 0.0 && !(slope == 1.0 && inter == 0.0);
  constexpr double high = static_cast<double>(std::numeric_limits<T>::max());
  constexpr double low = static_cast<double>(std::numeric_limits<T>::lowest());
  for (index_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, bytes + i * index_t{sizeof(S)}, sizeof(S));
    if (swapped) std::reverse(b, b + sizeof(S));
    S s;
    std::memcpy(&s, b, sizeof(S));
    const double v = scaled ? slope * static_cast<double>(s) + inter : static_cast<double>(s);
    // !(low <= v && v <= high) is also true for NaN.
    if (!(low <= v && v <= high)) {
      out[i] = bad(i, static_cast<double>(s), v);
      continue;
    }
    out[i] = scaled ? static_cast<T>(v) : static_cast<T>(s);
  }
}

template <class S, class T>
void encode(const T* values, index_t n, double slope, double inter, const fs::path& path, unsigned char* bytes) {
  for (index_t i = 0; i < n; ++i) {
    const double s = (static_cast<double>(values[i]) - inter) / slope;
    S stored;
    if constexpr (std::is_integral_v<S>) {
      const double r = std::nearbyint(s);
      MODELMIX_REQUIRE(std::isfinite(s) && r >= static_cast<double>(std::numeric_limits<S>::lowest()) &&
                           r <= static_cast<double>(std::numeric_limits<S>::max()),
                       "write_nifti: ", path.string(), ": value ", values[i], " at voxel ", i,
                       " does not fit the datatype after scaling");
      stored = static_cast<S>(r);
    } else {
      stored = static_cast<S>(s);
    }
    std::memcpy(bytes + i * index_t{sizeof(S)}, &stored, sizeof(S));
  }
}

template <class F>
decltype(auto) dispatch_datatype(int datatype, F&& f) {
  switch (datatype) {
    case DT_UINT8: return f(std::uint8_t{});
    case DT_INT8: return f(std::int8_t{});
    case DT_INT16: return f(std::int16_t{});
    case DT_UINT16: return f(std::uint16_t{});
    case DT_INT32: return f(std::int32_t{});
    case DT_UINT32: return f(std::uint32_t{});
    case DT_FLOAT32: return f(float{});
    case DT_FLOAT64: return f(double{});
    default: throw error(cat("NIfTI datatype ", datatype_name(datatype), " is not supported"));
  }
}

[[nodiscard]] inline ZnzHandle open_for_reading(const fs::path& path) {
  std::error_code ec;
  MODELMIX_REQUIRE(fs::exists(path, ec), "read_nifti: ", path.string(), ": no such file");
  // Only regular files: opening a FIFO or a device could block forever.
  MODELMIX_REQUIRE(fs::is_regular_file(path, ec), "read_nifti: ", path.string(), ": not a regular file");
  // gzopen reads uncompressed files transparently, so one code path serves .nii and .nii.gz.
  znzFile f = znzopen(path.c_str(), "rb", 1);
  MODELMIX_REQUIRE(f != nullptr, "read_nifti: ", path.string(), ": cannot open for reading");
  return ZnzHandle(f);
}

// znzread returns (size_t)-1 on a gzip error, so only an exact count is success.
inline void read_exactly(znzFile f, void* buffer, std::size_t bytes, const fs::path& path, const char* what) {
  const std::size_t got = bytes == 0 ? 0 : znzread(buffer, 1, bytes, f);
  MODELMIX_REQUIRE(got <= bytes, "read_nifti: ", path.string(), ": corrupt compressed data while reading the ", what);
  MODELMIX_REQUIRE(got == bytes, "read_nifti: ", path.string(), ": truncated file: the ", what, " needs ", bytes,
                   " bytes, only ", got, " could be read");
}

[[nodiscard]] inline std::string dims_string(const nifti_1_header& h) {
  std::string s = "[";
  for (int i = 1; i <= std::clamp<int>(h.dim[0], 0, 7); ++i) s += (i > 1 ? ", " : "") + std::to_string(h.dim[i]);
  return s + "]";
}

// Validate a raw header in place (swapping it to host order); returns whether the file's
// byte order differs from the host's.
inline bool validate_header(nifti_1_header& h, const fs::path& path) {
  const std::string file = path.string();
  bool swapped = false;
  if (h.sizeof_hdr != static_cast<int>(header_bytes)) {
    int size = h.sizeof_hdr;
    nifti_swap_4bytes(1, &size);
    if (size == static_cast<int>(header_bytes)) {
      swapped = true;
      swap_nifti_header(&h, 1);
    } else {
      MODELMIX_REQUIRE(h.sizeof_hdr != 540 && size != 540, "read_nifti: ", file, ": NIfTI-2 files are not supported");
      throw error(
          cat("read_nifti: ", file, ": not a NIfTI-1 file (header size field ", h.sizeof_hdr, ", expected 348)"));
    }
  }
  MODELMIX_REQUIRE(std::memcmp(h.magic, "ni1", 4) != 0, "read_nifti: ", file,
                   ": two-file NIfTI (.hdr/.img) is not supported; use a single .nii or .nii.gz");
  MODELMIX_REQUIRE(std::memcmp(h.magic, "n+1", 4) == 0, "read_nifti: ", file,
                   ": no NIfTI-1 magic \"n+1\" (ANALYZE 7.5 or not a NIfTI file)");
  MODELMIX_REQUIRE(h.dim[0] >= 1 && h.dim[0] <= 7, "read_nifti: ", file, ": invalid dim[0] = ", h.dim[0]);
  for (int i = 1; i <= h.dim[0]; ++i)
    MODELMIX_REQUIRE(h.dim[i] >= 1, "read_nifti: ", file, ": invalid extent dim[", i, "] = ", h.dim[i]);
  MODELMIX_REQUIRE(h.dim[0] >= 3, "read_nifti: ", file, ": volume is ", h.dim[0], "-D with extents ", dims_string(h),
                   "; a 3-D volume is needed");
  for (int i = 4; i <= h.dim[0]; ++i)
    MODELMIX_REQUIRE(h.dim[i] == 1, "read_nifti: ", file, ": volume is ", i, "-D with extents ", dims_string(h),
                     "; a 3-D volume is needed");
  const int nbyper = bytes_per_voxel(h.datatype);
  MODELMIX_REQUIRE(nbyper > 0, "read_nifti: ", file, ": datatype ", datatype_name(h.datatype),
                   " is not supported (uint8, int8, int16, uint16, int32, uint32, float32, float64 are)");
  MODELMIX_REQUIRE(h.bitpix == 8 * nbyper, "read_nifti: ", file, ": bitpix ", h.bitpix, " does not match datatype ",
                   datatype_name(h.datatype));
  MODELMIX_REQUIRE(std::isfinite(h.vox_offset) && h.vox_offset >= static_cast<float>(header_bytes) &&
                       h.vox_offset < float(1 << 30) && h.vox_offset == std::floor(h.vox_offset),
                   "read_nifti: ", file, ": invalid data offset vox_offset = ", h.vox_offset);
  for (int i = 1; i <= 3; ++i)
    MODELMIX_REQUIRE(std::isfinite(h.pixdim[i]) && h.pixdim[i] != 0.0f, "read_nifti: ", file,
                     ": invalid voxel spacing pixdim[", i, "] = ", h.pixdim[i]);
  const index_t voxels = index_t{h.dim[1]} * h.dim[2] * h.dim[3];
  MODELMIX_REQUIRE(voxels <= max_voxels, "read_nifti: ", file, ": implausible volume size ", dims_string(h), " (",
                   voxels, " voxels; at most 2^31 are read)");
  return swapped;
}

[[nodiscard]] inline nifti_1_header read_header(znzFile f, const fs::path& path, bool& swapped) {
  nifti_1_header h;
  static_assert(sizeof(nifti_1_header) == header_bytes);
  const std::size_t got = znzread(&h, 1, header_bytes, f);
  MODELMIX_REQUIRE(got <= header_bytes, "read_nifti: ", path.string(), ": corrupt compressed data in the header");
  MODELMIX_REQUIRE(got == header_bytes, "read_nifti: ", path.string(), ": truncated or not a NIfTI file: ", got,
                   " bytes, a NIfTI-1 header needs 348");
  swapped = validate_header(h, path);
  return h;
}

// A temporary sibling of `target` that is removed unless commit() renamed it into place.
class PendingFile {
 public:
  explicit PendingFile(fs::path target) : target_(std::move(target)) {
    static std::atomic<unsigned> counter{0};
    const fs::path dir = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
    temp_ = dir / cat(".", target_.filename().string(), ".", ::getpid(), "-", counter++, ".tmp");
  }
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile() {
    if (!committed_) {
      std::error_code ec;
      fs::remove(temp_, ec);
    }
  }
  [[nodiscard]] const fs::path& temp() const { return temp_; }
  void commit(const char* op) {
    std::error_code ec;
    fs::rename(temp_, target_, ec);
    MODELMIX_REQUIRE(!ec, op, ": ", target_.string(), ": cannot move the finished file into place (", ec.message(),
                     ")");
    committed_ = true;
  }

 private:
  fs::path target_, temp_;
  bool committed_ = false;
};

inline void check_write(bool ok, const fs::path& path, const char* what) {
  MODELMIX_REQUIRE(ok, "write_nifti: ", path.string(), ": writing the ", what, " failed (disk full or I/O error?)");
}

}  // namespace detail

// Spacing in mm along x, y, z.
[[nodiscard]] inline std::array<double, 3> spacing(const nifti_1_header& h) {
  return {std::fabs(double{h.pixdim[1]}), std::fabs(double{h.pixdim[2]}), std::fabs(double{h.pixdim[3]})};
}

[[nodiscard]] inline Affine affine(const nifti_1_header& h) {
  Affine a{};
  a[3][3] = 1.0;
  if (h.sform_code > 0) {
    for (int c = 0; c < 4; ++c) {
      a[0][c] = h.srow_x[c];
      a[1][c] = h.srow_y[c];
      a[2][c] = h.srow_z[c];
    }
  } else if (h.qform_code > 0) {
    const float qfac = h.pixdim[0] < 0.0f ? -1.0f : 1.0f;
    const mat44 m = nifti_quatern_to_mat44(h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z,
                                           h.pixdim[1], h.pixdim[2], h.pixdim[3], qfac);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) a[r][c] = m.m[r][c];
  } else {
    for (int i = 0; i < 3; ++i) a[i][i] = h.pixdim[i + 1];
  }
  return a;
}

// Read and validate the header only (cheap: no voxel data is decoded).
[[nodiscard]] inline nifti_1_header read_nifti_header(const fs::path& path) {
  auto file = detail::open_for_reading(path);
  bool swapped = false;
  return detail::read_header(file.get(), path, swapped);
}

namespace detail {

// Read `bytes` of voxel data. An uncompressed file was checked to hold them; a gzip stream's
// length is unknown until it ends, so its buffer grows (1 MiB, then doubling) only as data
// arrives: a damaged or lying file costs about the memory of what it really contains.
inline std::vector<unsigned char> read_voxel_data(znzFile f, std::size_t bytes, bool gzipped, const fs::path& path) {
  std::vector<unsigned char> raw;
  std::size_t done = 0;
  while (done < bytes) {
    const std::size_t next = gzipped ? std::min(bytes, std::max(chunk_bytes, 2 * done)) : bytes;
    raw.resize(next);
    const std::size_t got = znzread(raw.data() + done, 1, next - done, f);
    MODELMIX_REQUIRE(got <= next - done, "read_nifti: ", path.string(), ": corrupt compressed data while reading the voxel data");
    MODELMIX_REQUIRE(got == next - done, "read_nifti: ", path.string(), ": truncated file: the voxel data needs ", bytes,
                     " bytes, only ", done + got, " could be read");
    done = next;
  }
  return raw;
}

// Skip the header extensions between the header and the data (read in small pieces, since a
// gzip stream cannot seek).
inline void skip_bytes(znzFile f, std::size_t bytes, const fs::path& path) {
  unsigned char scratch[4096];
  while (bytes > 0) {
    const std::size_t n = std::min(bytes, sizeof scratch);
    read_exactly(f, scratch, n, path, "header extensions");
    bytes -= n;
  }
}

[[nodiscard]] inline bool starts_with_gzip_magic(const fs::path& path) {
  unsigned char magic[2] = {0, 0};
  std::FILE* raw = std::fopen(path.c_str(), "rb");
  if (raw == nullptr) return false;
  const std::size_t n = std::fread(magic, 1, 2, raw);
  std::fclose(raw);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

template <class T>
NiftiVolume<T> read_nifti_unguarded(const fs::path& path, const ReadOptions& options) {
  const std::string file = path.string();
  auto handle = open_for_reading(path);
  bool swapped = false;
  const nifti_1_header h = read_header(handle.get(), path, swapped);

  const index_t nx = h.dim[1], ny = h.dim[2], nz = h.dim[3];
  const int nbyper = bytes_per_voxel(h.datatype);
  const std::size_t voxels = static_cast<std::size_t>(nx * ny * nz);  // ≤ 2^31 (validate_header)
  const std::size_t bytes = voxels * static_cast<std::size_t>(nbyper);
  const std::size_t needed = bytes + voxels * sizeof(T);
  MODELMIX_REQUIRE(needed <= options.max_bytes, "read_nifti: ", file, ": volume ", dims_string(h), " of ",
                   datatype_name(h.datatype), " needs ", needed, " bytes (", bytes, " stored + ", voxels * sizeof(T),
                   " decoded), more than the reader's budget of ", options.max_bytes,
                   " bytes; raise ReadOptions::max_bytes to read it");
  const std::size_t offset = static_cast<std::size_t>(h.vox_offset);
  const bool gzipped = starts_with_gzip_magic(path);
  if (!gzipped) {
    // An uncompressed file must hold all its data; checked before anything is allocated.
    std::error_code ec;
    const auto on_disk = fs::file_size(path, ec);
    MODELMIX_REQUIRE(!ec, "read_nifti: ", file, ": cannot get the file size (", ec.message(), ")");
    MODELMIX_REQUIRE(on_disk >= bytes + offset, "read_nifti: ", file, ": truncated file: ", dims_string(h), " of ",
                     datatype_name(h.datatype), " needs ", bytes + offset, " bytes, the file has ", on_disk);
  }
  skip_bytes(handle.get(), offset - header_bytes, path);
  const std::vector<unsigned char> raw = read_voxel_data(handle.get(), bytes, gzipped, path);
  // One more read reaches the end of the gzip stream, where zlib checks the CRC (a read error
  // is -1) and notices a missing trailer (gzclose then returns Z_BUF_ERROR).
  unsigned char extra = 0;
  MODELMIX_REQUIRE(znzread(&extra, 1, 1, handle.get()) <= 1, "read_nifti: ", file, ": corrupt compressed data");
  znzFile closing = handle.release();
  MODELMIX_REQUIRE(Xznzclose(&closing) == 0, "read_nifti: ", file,
                   ": truncated or corrupt compressed data (the gzip stream does not end properly)");

  NiftiVolume<T> out{data::Volume<T>{Tensor<T>(Shape{nz, ny, nx}), spacing(h), nifti_case_name(path)}, h};
  const double slope = h.scl_slope, inter = std::isfinite(h.scl_inter) ? h.scl_inter : 0.0;
  auto bad = [&](index_t i, double stored, double value) -> T {
    if (options.nonfinite == data::nonfinite_policy::replace_with_zero) return T(0);
    const bool scaled = std::isfinite(slope) && slope != 0.0 && !(slope == 1.0 && inter == 0.0);
    throw error(cat("read_nifti: ", file, ": voxel ", data::voxel_position(i, nx, ny), " (i, j, k) is ", value,
                    (std::isfinite(value) ? cat(", which does not fit the element type") : std::string()),
                    (scaled ? cat(" after scaling (stored ", stored, " × scl_slope ", slope, " + scl_inter ", inter, ")")
                            : std::string()),
                    "; non-finite intensities are refused (read with ReadOptions::nonfinite = ",
                    "nonfinite_policy::replace_with_zero to set them to 0)"));
  };
  dispatch_datatype(h.datatype, [&](auto stored) {
    using S = decltype(stored);
    decode<S, T>(raw.data(), nx * ny * nz, swapped, slope, inter, out.volume.voxels.data(), bad);
  });
  return out;
}

}  // namespace detail

template <class T = float>
[[nodiscard]] NiftiVolume<T> read_nifti(const fs::path& path, const ReadOptions& options = {}) {
  static_assert(std::is_arithmetic_v<T>, "read_nifti: T must be an arithmetic type");
  try {
    return detail::read_nifti_unguarded<T>(path, options);
  } catch (const std::bad_alloc&) {
    throw error(cat("read_nifti: ", path.string(), ": out of memory while reading the volume (ReadOptions::max_bytes = ",
                    options.max_bytes, " bytes; lower it to refuse such files up front)"));
  }
}

template <class T = float>
[[nodiscard]] data::Volume<T> read_volume(const fs::path& path, const ReadOptions& options = {}) {
  return read_nifti<T>(path, options).volume;
}

// Callable used by data::load_case and friends: path → Volume<float>.
struct NiftiReader {
  ReadOptions options;
  [[nodiscard]] data::Volume<float> operator()(const fs::path& path) const { return read_volume<float>(path, options); }
};

// A fresh header for a volume with no reference: scanner-anatomical qform and sform equal to
// diag(spacing), origin 0, millimetres.
template <class T>
[[nodiscard]] nifti_1_header make_header(const data::Volume<T>& volume) {
  MODELMIX_REQUIRE(volume.voxels.rank() == 3, "make_header: volume ", volume.name, " has shape ", volume.voxels.shape(),
                   ", expected [Z, Y, X]");
  for (int a = 0; a < 3; ++a)
    MODELMIX_REQUIRE(volume.voxels.dim(a) >= 1 && volume.voxels.dim(a) <= 32767, "make_header: volume ", volume.name,
                     " has shape ", volume.voxels.shape(), "; NIfTI-1 extents are 1..32767");
  nifti_1_header h;
  std::memset(&h, 0, sizeof h);
  h.sizeof_hdr = static_cast<int>(detail::header_bytes);
  h.dim[0] = 3;
  h.dim[1] = static_cast<short>(volume.nx());
  h.dim[2] = static_cast<short>(volume.ny());
  h.dim[3] = static_cast<short>(volume.nz());
  for (int i = 4; i < 8; ++i) h.dim[i] = 1;
  h.pixdim[0] = 1.0f;  // qfac
  for (int i = 0; i < 3; ++i) h.pixdim[i + 1] = static_cast<float>(volume.spacing[static_cast<std::size_t>(i)]);
  for (int i = 4; i < 8; ++i) h.pixdim[i] = 1.0f;
  h.xyzt_units = NIFTI_UNITS_MM;
  h.qform_code = NIFTI_XFORM_SCANNER_ANAT;
  h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
  h.srow_x[0] = h.pixdim[1];
  h.srow_y[1] = h.pixdim[2];
  h.srow_z[2] = h.pixdim[3];
  h.datatype = DT_FLOAT32;
  h.bitpix = 32;
  h.scl_slope = 1.0f;
  h.vox_offset = static_cast<float>(detail::header_bytes + 4);
  std::memcpy(h.magic, "n+1", 4);
  return h;
}

// Write `volume` on the grid of `reference` (header cloned: dims must match; pixdim, qform,
// sform, orientation and descriptions come from the reference). Compressed when the name ends
// in ".gz". Atomic: temporary file + rename.
template <class T>
void write_nifti(const fs::path& path, const data::Volume<T>& volume, const nifti_1_header& reference,
                 const WriteOptions& options = {}) {
  const std::string file = path.string();
  MODELMIX_REQUIRE(is_nifti_path(path), "write_nifti: ", file, ": the name must end in .nii or .nii.gz");
  MODELMIX_REQUIRE(volume.voxels.rank() == 3, "write_nifti: ", file, ": volume has shape ", volume.voxels.shape(),
                   ", expected [Z, Y, X]");
  MODELMIX_REQUIRE(
      reference.dim[1] == volume.nx() && reference.dim[2] == volume.ny() && reference.dim[3] == volume.nz(),
      "write_nifti: ", file, ": volume shape ", volume.voxels.shape(), " (Z, Y, X) does not match the reference grid ",
      detail::dims_string(reference), " (x, y, z)");
  const auto ref_spacing = spacing(reference);
  for (std::size_t i = 0; i < 3; ++i)
    MODELMIX_REQUIRE(std::fabs(ref_spacing[i] - volume.spacing[i]) <= 1e-4 * std::max(1.0, ref_spacing[i]),
                     "write_nifti: ", file, ": volume spacing ", volume.spacing[0], " x ", volume.spacing[1], " x ",
                     volume.spacing[2], " mm differs from the reference's ", ref_spacing[0], " x ", ref_spacing[1],
                     " x ", ref_spacing[2]);
  const int nbyper = detail::bytes_per_voxel(options.datatype);
  MODELMIX_REQUIRE(nbyper > 0, "write_nifti: ", file, ": datatype ", detail::datatype_name(options.datatype),
                   " is not supported");
  MODELMIX_REQUIRE(std::isfinite(options.scl_slope) && options.scl_slope != 0.0 && std::isfinite(options.scl_inter),
                   "write_nifti: ", file, ": invalid scaling slope ", options.scl_slope, ", intercept ",
                   options.scl_inter);

  nifti_1_header h = reference;
  h.sizeof_hdr = static_cast<int>(detail::header_bytes);
  h.dim[0] = 3;
  for (int i = 4; i < 8; ++i) h.dim[i] = 1;
  h.datatype = static_cast<short>(options.datatype);
  h.bitpix = static_cast<short>(8 * nbyper);
  h.scl_slope = static_cast<float>(options.scl_slope);
  h.scl_inter = static_cast<float>(options.scl_inter);
  h.cal_min = h.cal_max = 0.0f;  // "no display range": the reference's intensity window means nothing here
  h.vox_offset = static_cast<float>(detail::header_bytes + 4);
  std::memcpy(h.magic, "n+1", 4);

  const index_t n = volume.voxels.numel();
  std::vector<unsigned char> bytes(static_cast<std::size_t>(n) * static_cast<std::size_t>(nbyper));
  detail::dispatch_datatype(options.datatype, [&](auto stored) {
    using S = decltype(stored);
    detail::encode<S, T>(volume.voxels.data(), n, options.scl_slope, options.scl_inter, path, bytes.data());
  });
  // Files are written in the host's byte order, which the header's size field records.
  const std::string name = path.filename().string();
  const bool gz = name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0;

  detail::PendingFile pending(path);
  {
    znzFile raw = znzopen(pending.temp().c_str(), "wb", gz ? 1 : 0);
    MODELMIX_REQUIRE(raw != nullptr, "write_nifti: ", file, ": cannot create a file in ",
                     pending.temp().parent_path().string());
    detail::ZnzHandle out(raw);
    const unsigned char extender[4] = {0, 0, 0, 0};
    detail::check_write(znzwrite(&h, 1, detail::header_bytes, out.get()) == detail::header_bytes, path, "header");
    detail::check_write(znzwrite(extender, 1, 4, out.get()) == 4, path, "header");
    detail::check_write(bytes.empty() || znzwrite(bytes.data(), 1, bytes.size(), out.get()) == bytes.size(), path,
                        "voxel data");
    znzFile closing = out.release();
    detail::check_write(Xznzclose(&closing) == 0, path, "end of the file");
  }
  pending.commit("write_nifti");
}

template <class T>
void write_nifti(const fs::path& path, const data::Volume<T>& volume, const WriteOptions& options = {}) {
  write_nifti(path, volume, make_header(volume), options);
}

// A label volume on the grid of the image it segments (uint8 or int16 on disk).
template <class L>
void write_labels(const fs::path& path, const data::Volume<L>& labels, const nifti_1_header& reference,
                  int datatype = DT_UINT8) {
  static_assert(std::is_integral_v<L>, "write_labels: labels must be integers");
  MODELMIX_REQUIRE(datatype == DT_UINT8 || datatype == DT_INT16, "write_labels: ", path.string(),
                   ": label files are uint8 or int16, not ", detail::datatype_name(datatype));
  write_nifti(path, labels, reference, WriteOptions{datatype, 1.0, 0.0});
}

}  // namespace modelmix::io
