// NIfTI I/O: exact round trips for every datatype (scaled and not, .nii and .nii.gz), agreement
// with nifti_clib's own reader and writer, geometry-faithful label writing, and clear errors
// (naming the file) for every kind of bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "io/io_fixtures.hpp"
#include "modelmix/io/nifti.hpp"

namespace io = modelmix::io;
namespace data = modelmix::data;
using modelmix::Shape;
using modelmix::Tensor;
using modelmix::test::TempDir;

namespace {

template <class T>
data::Volume<T> ramp_volume(modelmix::index_t nz, modelmix::index_t ny, modelmix::index_t nx,
                            std::vector<double> values, std::array<double, 3> spacing = {0.75, 1.25, 5.0}) {
  data::Volume<T> v{Tensor<T>(Shape{nz, ny, nx}), spacing, "case"};
  for (modelmix::index_t i = 0; i < v.voxels.numel(); ++i)
    v.voxels[i] = static_cast<T>(values[static_cast<std::size_t>(i) % values.size()]);
  return v;
}

// Stored values spanning the datatype's range (extremes included), as doubles. Scaled float
// files get small dyadic values, for which (v − inter)/slope and back are exact.
std::vector<double> stored_values(int datatype, bool scaled) {
  auto span = [](double lo, double hi) {
    return std::vector<double>{lo, hi, 0.0, 1.0, 2.0, lo + 1.0, hi - 1.0, 7.0, 100.0 > hi ? hi : 100.0};
  };
  switch (datatype) {
    case DT_UINT8: return span(0, 255);
    case DT_INT8: return span(-128, 127);
    case DT_INT16: return span(-32768, 32767);
    case DT_UINT16: return span(0, 65535);
    case DT_INT32: return span(-2147483648.0, 2147483647.0);
    case DT_UINT32: return span(0, 4294967295.0);
    case DT_FLOAT32:
      if (scaled) return {-1024.5, 3.25, 0.0, -0.125, 65504.0, 7.0};
      return {-1.5e30, 3.25, 0.0, -0.125, 1e-20, 65504.0, 7.0};
    default:
      if (scaled) return {-1024.5, 3.25, 0.0, -0.125, 1e6 + 0.25, 7.0};
      return {-1.5e300, 3.25, 0.0, -0.125, 1e-300, 0.1, 7.0};
  }
}

const std::vector<int> all_datatypes = {DT_UINT8, DT_INT8,   DT_INT16,   DT_UINT16,
                                        DT_INT32, DT_UINT32, DT_FLOAT32, DT_FLOAT64};

}  // namespace

TEST_CASE("nifti: every datatype round-trips exactly, plain and gz, with and without scaling", "[io][nifti]") {
  TempDir dir;
  for (int datatype : all_datatypes) {
    for (bool gz : {false, true}) {
      for (bool scaled : {false, true}) {
        const double slope = scaled ? 2.5 : 1.0, inter = scaled ? -3.0 : 0.0;
        std::vector<double> values;
        for (double s : stored_values(datatype, scaled)) values.push_back(slope * s + inter);
        const auto volume = ramp_volume<double>(3, 4, 5, values);
        const auto path =
            dir / (std::string("v_") + std::to_string(datatype) + (scaled ? "_s" : "") + (gz ? ".nii.gz" : ".nii"));
        INFO("datatype " << datatype << " gz " << gz << " scaled " << scaled);
        io::write_nifti(path, volume, io::WriteOptions{datatype, slope, inter});

        const auto back = io::read_nifti<double>(path);
        REQUIRE(back.volume.voxels.shape() == volume.voxels.shape());
        CHECK(back.header.datatype == datatype);
        CHECK(back.header.scl_slope == Approx(slope));
        CHECK(back.volume.name == io::nifti_case_name(path));
        for (std::size_t a = 0; a < 3; ++a) CHECK(back.volume.spacing[a] == Approx(volume.spacing[a]).epsilon(1e-7));
        for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) {
          // float32 stores the value itself rounded to float; everything else is exact in double.
          const double expected = datatype == DT_FLOAT32 ? double(float(volume.voxels[i])) : volume.voxels[i];
          REQUIRE(back.volume.voxels[i] == expected);
        }
        // A float read of the same file equals the double read rounded to float; values beyond
        // float's range (±1.5e300 in float64) would become ±Inf: refused, or 0 when asked.
        bool overflows = false;
        for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i)
          overflows = overflows || std::fabs(back.volume.voxels[i]) > std::numeric_limits<float>::max();
        if (overflows)
          CHECK_THROWS_WITH(io::read_volume<float>(path),
                            Catch::Contains(path.filename().string()) && Catch::Contains("does not fit"));
        const auto as_float =
            io::read_volume<float>(path, io::ReadOptions{.nonfinite = data::nonfinite_policy::replace_with_zero});
        for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) {
          const double d = back.volume.voxels[i];
          REQUIRE(as_float.voxels[i] == (std::fabs(d) > std::numeric_limits<float>::max() ? 0.0f : static_cast<float>(d)));
        }
        const bool gzip_magic = modelmix::test::read_bytes(path).at(0) == 0x1f;
        CHECK(gzip_magic == gz);
      }
    }
  }
  CHECK(dir.listing().size() == all_datatypes.size() * 4);  // no temporary files left behind
}

TEST_CASE("nifti: agrees with nifti_clib's own writer and reader", "[io][nifti]") {
  TempDir dir;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(-1000, 1000);

  SECTION("a file written by nifti_image_write reads back through read_nifti") {
    const int dims[8] = {3, 7, 5, 3, 1, 1, 1, 1};
    nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
    REQUIRE(nim != nullptr);
    nim->dx = nim->pixdim[1] = 1.5f;
    nim->dy = nim->pixdim[2] = 0.5f;
    nim->dz = nim->pixdim[3] = 8.0f;
    nim->scl_slope = 0.5f;
    nim->scl_inter = 10.0f;
    nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->sto_xyz = nifti_make_orthog_mat44(-1, 0, 0, 0, -1, 0, 0, 0, 1);
    nim->sto_xyz.m[0][0] = -1.5f;
    nim->sto_xyz.m[1][1] = -0.5f;
    nim->sto_xyz.m[2][2] = 8.0f;
    nim->sto_xyz.m[0][3] = 12.0f;
    nim->sto_xyz.m[2][3] = -40.0f;
    auto* stored = static_cast<std::int16_t*>(nim->data);
    for (int i = 0; i < 7 * 5 * 3; ++i) stored[i] = static_cast<std::int16_t>(value(rng));
    const auto path = dir / "clib.nii.gz";
    REQUIRE(nifti_set_filenames(nim, path.c_str(), 0, 1) == 0);
    nifti_image_write(nim);

    const auto ours = io::read_nifti<float>(path);
    REQUIRE(ours.volume.voxels.shape() == Shape{3, 5, 7});
    for (int i = 0; i < 7 * 5 * 3; ++i) REQUIRE(ours.volume.voxels[i] == 0.5f * stored[i] + 10.0f);
    CHECK(ours.volume.spacing == std::array<double, 3>{1.5, 0.5, 8.0});
    const auto a = io::affine(ours.header);
    CHECK(a[0][0] == -1.5);
    CHECK(a[1][1] == -0.5);
    CHECK(a[0][3] == 12.0);
    CHECK(a[2][3] == -40.0);
    nifti_image_free(nim);
  }

  SECTION("a file written by write_nifti reads back through nifti_image_read") {
    auto volume = ramp_volume<float>(4, 3, 6, {0, 1, 2, 3, 250, 17});
    const auto path = dir / "ours.nii.gz";
    io::write_nifti(path, volume, io::WriteOptions{DT_UINT8});
    nifti_image* nim = nifti_image_read(path.c_str(), 1);
    REQUIRE(nim != nullptr);
    CHECK(nim->nx == 6);
    CHECK(nim->ny == 3);
    CHECK(nim->nz == 4);
    CHECK(nim->datatype == DT_UINT8);
    CHECK(nim->dx == 0.75f);
    CHECK(nim->dz == 5.0f);
    const auto* stored = static_cast<const std::uint8_t*>(nim->data);
    for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) REQUIRE(stored[i] == volume.voxels[i]);
    nifti_image_free(nim);
  }
}

TEST_CASE("nifti: big-endian files and header extensions are read", "[io][nifti]") {
  TempDir dir;
  const auto volume = ramp_volume<float>(2, 3, 4, {-7, 0, 3, 1000, -32768, 32767});
  nifti_1_header h = io::make_header(volume);
  h.datatype = DT_INT16;
  h.bitpix = 16;
  std::vector<unsigned char> data(static_cast<std::size_t>(volume.voxels.numel()) * 2);
  for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) {
    const auto v = static_cast<std::int16_t>(volume.voxels[i]);
    std::memcpy(&data[static_cast<std::size_t>(i) * 2], &v, 2);
  }

  SECTION("byte-swapped header and data") {
    nifti_1_header swapped = h;
    swap_nifti_header(&swapped, 1);
    auto swapped_data = data;
    for (std::size_t i = 0; i < swapped_data.size(); i += 2) std::swap(swapped_data[i], swapped_data[i + 1]);
    const auto path = dir / "big.nii";
    modelmix::test::write_bytes(path, modelmix::test::nifti_bytes(swapped, swapped_data));
    const auto back = io::read_nifti<float>(path);
    CHECK(back.header.dim[1] == 4);
    CHECK(back.volume.spacing == volume.spacing);
    for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) REQUIRE(back.volume.voxels[i] == volume.voxels[i]);
  }

  SECTION("a 16-byte extension between the header and the data") {
    nifti_1_header with_ext = h;
    with_ext.vox_offset = 368;
    auto bytes = modelmix::test::nifti_bytes(with_ext, {});
    bytes[348] = 1;  // extender: an extension follows
    const int esize = 16, ecode = 6;
    bytes.resize(368, 0);
    std::memcpy(&bytes[352], &esize, 4);
    std::memcpy(&bytes[356], &ecode, 4);
    bytes.insert(bytes.end(), data.begin(), data.end());
    const auto path = dir / "ext.nii.gz";
    modelmix::test::write_gz(path, bytes);
    const auto back = io::read_volume<float>(path);
    for (modelmix::index_t i = 0; i < volume.voxels.numel(); ++i) REQUIRE(back.voxels[i] == volume.voxels[i]);
  }
}

TEST_CASE("nifti: labels written with a reference header keep its grid, spacing and affine", "[io][nifti]") {
  TempDir dir;
  // An ACDC-like reference: the sform is a unit-scale matrix without the spacing, the qform has it.
  auto image = ramp_volume<float>(5, 6, 7, {0.0, 120.5, 33.0}, {1.5625, 1.5625, 10.0});
  nifti_1_header ref = io::make_header(image);
  ref.srow_x[0] = -1.0f;
  ref.srow_y[1] = -1.0f;
  ref.srow_z[2] = 1.0f;
  ref.srow_x[3] = 80.0f;
  ref.srow_y[3] = 97.5f;
  ref.srow_z[3] = -12.0f;
  ref.quatern_d = 1.0f;  // a 180° turn about z
  ref.qoffset_x = 3.0f;
  std::strcpy(ref.descrip, "reference image");
  const auto image_path = dir / "image.nii.gz";
  io::write_nifti(image_path, image, ref);
  const auto reference = io::read_nifti<float>(image_path);

  data::LabelVolume labels{Tensor<data::label_t>(Shape{5, 6, 7}), reference.volume.spacing, "case"};
  for (modelmix::index_t i = 0; i < labels.voxels.numel(); ++i) labels.voxels[i] = static_cast<data::label_t>(i % 4);

  for (int datatype : {DT_UINT8, DT_INT16}) {
    const auto path = dir / ("pred_" + std::to_string(datatype) + ".nii.gz");
    io::write_labels(path, labels, reference.header, datatype);
    const auto back = io::read_nifti<float>(path);
    CHECK(back.header.datatype == datatype);
    CHECK(back.volume.voxels.shape() == reference.volume.voxels.shape());
    CHECK(back.volume.spacing == reference.volume.spacing);
    CHECK(io::affine(back.header) == io::affine(reference.header));
    CHECK(back.header.sform_code == reference.header.sform_code);
    CHECK(back.header.qform_code == reference.header.qform_code);
    CHECK(back.header.quatern_d == reference.header.quatern_d);
    CHECK(back.header.qoffset_x == reference.header.qoffset_x);
    CHECK(std::string(back.header.descrip) == "reference image");
    for (modelmix::index_t i = 0; i < labels.voxels.numel(); ++i) REQUIRE(back.volume.voxels[i] == labels.voxels[i]);
  }
  // The qform path of affine(): with sform_code 0 the qform (180° about z, spacing) is used.
  nifti_1_header qform_only = reference.header;
  qform_only.sform_code = 0;
  const auto a = io::affine(qform_only);
  CHECK(a[0][0] == Approx(-1.5625));
  CHECK(a[1][1] == Approx(-1.5625));
  CHECK(a[2][2] == Approx(10.0));
  CHECK(a[0][3] == Approx(3.0));
}

TEST_CASE("nifti: bad input gives an error naming the file", "[io][nifti][errors]") {
  TempDir dir;
  const auto volume = ramp_volume<float>(4, 8, 8, {1, 2, 3, 4, 5});
  const auto good_gz = dir / "good.nii.gz";
  const auto good = dir / "good.nii";
  io::write_nifti(good_gz, volume, io::WriteOptions{DT_INT16});
  io::write_nifti(good, volume, io::WriteOptions{DT_INT16});
  using Catch::Contains;

  SECTION("missing file, folder") {
    CHECK_THROWS_WITH(io::read_volume(dir / "absent.nii.gz"), Contains("absent.nii.gz") && Contains("no such file"));
    CHECK_THROWS_WITH(io::read_volume(dir.path()), Contains("not a regular file"));
  }
  SECTION("truncated .nii.gz and .nii") {
    auto bytes = modelmix::test::read_bytes(good_gz);
    for (std::size_t keep : {bytes.size() / 2, bytes.size() - 6, std::size_t{30}, std::size_t{0}}) {
      const auto cut = dir / "cut.nii.gz";
      modelmix::test::write_bytes(cut,
                                  std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(keep)));
      INFO("kept " << keep << " of " << bytes.size() << " bytes");
      CHECK_THROWS_WITH(io::read_volume(cut), Contains("cut.nii.gz"));
    }
    auto plain = modelmix::test::read_bytes(good);
    plain.resize(plain.size() - 10);
    modelmix::test::write_bytes(dir / "cut.nii", plain);
    CHECK_THROWS_WITH(io::read_volume(dir / "cut.nii"), Contains("cut.nii") && Contains("truncated"));
    plain.resize(100);
    modelmix::test::write_bytes(dir / "cut.nii", plain);
    CHECK_THROWS_WITH(io::read_volume(dir / "cut.nii"), Contains("cut.nii") && Contains("truncated"));
  }
  SECTION("corrupted compressed bytes") {
    auto bytes = modelmix::test::read_bytes(good_gz);
    for (std::size_t at : {std::size_t{20}, bytes.size() / 2, bytes.size() - 5}) {
      auto bad = bytes;
      bad[at] ^= 0x5a;
      modelmix::test::write_bytes(dir / "flip.nii.gz", bad);
      INFO("flipped byte " << at);
      // Either the header no longer validates or zlib reports the damage; never a crash.
      CHECK_THROWS_WITH(io::read_volume(dir / "flip.nii.gz"), Contains("flip.nii.gz"));
    }
  }
  SECTION("not a NIfTI file") {
    std::vector<unsigned char> text(2000, 'x');
    modelmix::test::write_bytes(dir / "notes.nii", text);
    CHECK_THROWS_WITH(io::read_volume(dir / "notes.nii"), Contains("notes.nii") && Contains("not a NIfTI-1 file"));
    modelmix::test::write_gz(dir / "notes.nii.gz", text);
    CHECK_THROWS_WITH(io::read_volume(dir / "notes.nii.gz"),
                      Contains("notes.nii.gz") && Contains("not a NIfTI-1 file"));
    nifti_1_header h = io::make_header(volume);
    std::memcpy(h.magic, "ni1", 4);
    modelmix::test::write_bytes(dir / "pair.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "pair.nii"), Contains("pair.nii") && Contains("two-file"));
    std::memcpy(h.magic, "abc", 4);
    modelmix::test::write_bytes(dir / "analyze.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "analyze.nii"), Contains("analyze.nii") && Contains("magic"));
    h = io::make_header(volume);
    h.sizeof_hdr = 540;
    modelmix::test::write_bytes(dir / "v2.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "v2.nii"), Contains("v2.nii") && Contains("NIfTI-2"));
  }
  SECTION("2-D and 4-D volumes where 3-D is needed") {
    nifti_1_header h = io::make_header(volume);
    h.dim[0] = 2;
    modelmix::test::write_bytes(dir / "flat.nii",
                                modelmix::test::nifti_bytes(h, std::vector<unsigned char>(8 * 8 * 4 * 4)));
    CHECK_THROWS_WITH(io::read_volume(dir / "flat.nii"),
                      Contains("flat.nii") && Contains("2-D") && Contains("3-D volume is needed"));
    h = io::make_header(volume);
    h.dim[0] = 4;
    h.dim[4] = 3;
    modelmix::test::write_bytes(dir / "cine.nii",
                                modelmix::test::nifti_bytes(h, std::vector<unsigned char>(8 * 8 * 4 * 4 * 3)));
    CHECK_THROWS_WITH(io::read_volume(dir / "cine.nii"),
                      Contains("cine.nii") && Contains("4-D") && Contains("3-D volume is needed"));
    h.dim[4] = 1;  // a 4-D header with one frame is a 3-D volume
    modelmix::test::write_bytes(dir / "one_frame.nii",
                                modelmix::test::nifti_bytes(h, std::vector<unsigned char>(8 * 8 * 4 * 4)));
    CHECK(io::read_volume(dir / "one_frame.nii").voxels.shape() == Shape{4, 8, 8});
  }
  SECTION("unsupported datatype, inconsistent bitpix, bad extents and spacing") {
    nifti_1_header h = io::make_header(volume);
    h.datatype = DT_COMPLEX64;
    h.bitpix = 64;
    modelmix::test::write_bytes(dir / "complex.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "complex.nii"), Contains("complex.nii") && Contains("not supported"));
    h = io::make_header(volume);
    h.bitpix = 8;
    modelmix::test::write_bytes(dir / "bitpix.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "bitpix.nii"), Contains("bitpix.nii") && Contains("bitpix"));
    h = io::make_header(volume);
    h.dim[2] = -3;
    modelmix::test::write_bytes(dir / "extent.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "extent.nii"), Contains("extent.nii") && Contains("dim[2]"));
    h = io::make_header(volume);
    h.dim[1] = h.dim[2] = h.dim[3] = 30000;  // 2.7e13 voxels: refused before any allocation
    modelmix::test::write_bytes(dir / "huge.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "huge.nii"), Contains("huge.nii") && Contains("implausible"));
    h = io::make_header(volume);
    h.pixdim[3] = std::numeric_limits<float>::quiet_NaN();
    modelmix::test::write_bytes(dir / "nan.nii", modelmix::test::nifti_bytes(h, {}));
    CHECK_THROWS_WITH(io::read_volume(dir / "nan.nii"), Contains("nan.nii") && Contains("pixdim[3]"));
  }
}

TEST_CASE("nifti: a failed write never leaves a partial output in place", "[io][nifti][errors]") {
  TempDir dir;
  using Catch::Contains;
  const auto volume = ramp_volume<float>(2, 3, 4, {0, 1, 2, 3});
  const auto target = dir / "pred.nii.gz";
  io::write_nifti(target, volume, io::WriteOptions{DT_UINT8});
  const auto before = modelmix::test::read_bytes(target);

  SECTION("a value that does not fit the datatype: the old file stays") {
    auto bad = volume;
    bad.voxels[5] = 300.0f;
    CHECK_THROWS_WITH(io::write_nifti(target, bad, io::WriteOptions{DT_UINT8}),
                      Contains("pred.nii.gz") && Contains("does not fit"));
    CHECK(modelmix::test::read_bytes(target) == before);
  }
  SECTION("the target is a folder: the rename fails and the temporary file is removed") {
    std::filesystem::create_directory(dir / "taken.nii.gz");
    std::ofstream(dir / "taken.nii.gz" / "keep") << "x";
    CHECK_THROWS_WITH(io::write_nifti(dir / "taken.nii.gz", volume), Contains("taken.nii.gz"));
    CHECK(dir.listing() == std::vector<std::string>{"pred.nii.gz", "taken.nii.gz"});
  }
  SECTION("the destination folder does not exist") {
    CHECK_THROWS_WITH(io::write_nifti(dir / "nowhere" / "x.nii", volume),
                      Contains("x.nii") && Contains("cannot create"));
    CHECK(dir.listing() == std::vector<std::string>{"pred.nii.gz"});
  }
  SECTION("a label volume whose grid differs from the reference") {
    data::LabelVolume labels{Tensor<data::label_t>(Shape{2, 3, 5}), volume.spacing, "case"};
    const auto ref = io::read_nifti(target).header;
    CHECK_THROWS_WITH(io::write_labels(dir / "l.nii.gz", labels, ref),
                      Contains("l.nii.gz") && Contains("does not match the reference"));
    data::LabelVolume wrong_spacing{Tensor<data::label_t>(Shape{2, 3, 4}), {1.0, 1.0, 1.0}, "case"};
    CHECK_THROWS_WITH(io::write_labels(dir / "l.nii.gz", wrong_spacing, ref), Contains("spacing"));
    CHECK_THROWS_WITH(io::write_labels(dir / "l.nii.gz", wrong_spacing, ref, DT_FLOAT32), Contains("uint8 or int16"));
    CHECK(dir.listing() == std::vector<std::string>{"pred.nii.gz"});
  }
  SECTION("a name that is not .nii / .nii.gz") {
    CHECK_THROWS_WITH(io::write_nifti(dir / "pred.png", volume), Contains("pred.png") && Contains(".nii"));
  }
}
