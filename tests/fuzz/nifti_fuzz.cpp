// Fuzz target: io::read_nifti on arbitrary bytes (plain or gzip; the reader tells them apart by
// their magic), and on the same bytes gzip-compressed, so that the .nii.gz path (whose buffer
// grows with the data) sees every header the fuzzer invents behind a valid deflate stream.
// Every input must either load a volume that agrees with its header or throw modelmix::error;
// the budget keeps a lying header from exhausting the fuzzer's memory.
#include <zlib.h>

#include <cmath>
#include <cstdlib>

#include "fuzz_file.hpp"
#include "modelmix/io/nifti.hpp"

namespace {
void read_one(const std::filesystem::path& path) {
  modelmix::io::ReadOptions options;
  options.max_bytes = std::size_t{64} << 20;
  try {
    const auto v = modelmix::io::read_nifti<float>(path, options);
    const auto& h = v.header;
    if (v.volume.nx() != h.dim[1] || v.volume.ny() != h.dim[2] || v.volume.nz() != h.dim[3]) std::abort();
    for (modelmix::index_t i = 0; i < v.volume.voxels.numel(); ++i)
      if (!std::isfinite(v.volume.voxels[i])) std::abort();  // refused by default
    (void)modelmix::io::affine(h);
  } catch (const modelmix::error&) {
  }
  try {
    (void)modelmix::io::read_nifti_header(path);
  } catch (const modelmix::error&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modelmix::fuzz::ScratchFile plain("input.nii"), packed("packed.nii.gz");
  read_one(plain.write(data, size));
  const std::string gz = (packed.folder() / "packed.nii.gz").string();
  gzFile f = gzopen(gz.c_str(), "wb1");
  if (f == nullptr) std::abort();
  if (size > 0 && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size)) std::abort();
  if (gzclose(f) != Z_OK) std::abort();
  read_one(gz);
  return 0;
}
