#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: small valid and broken inputs, a few KB per
target. Run from anywhere: python3 tests/fuzz/make_corpus.py. Inputs found by fuzzing (and every
input that once crashed a target) are added next to these by hand, named after what they hold.
NIfTI seeds are named *.seed / *.gz.seed, not *.nii: they are synthetic bytes for the fuzzer
(the target recognises gzip by its magic), and *.nii files in the repository would read as data."""
import gzip
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---- NIfTI-1 --------------------------------------------------------------------------------
DT = {"u8": (2, "B"), "i16": (4, "h"), "i32": (8, "i"), "f32": (16, "f"), "f64": (64, "d"),
      "i8": (256, "b"), "u16": (512, "H"), "u32": (768, "I")}


def header(dims, dtype, endian="<", slope=1.0, inter=0.0, vox_offset=352.0, magic=b"n+1\0", sizeof_hdr=348):
    code, fmt = DT[dtype]
    dim = [len(dims)] + list(dims) + [1] * (7 - len(dims))
    pixdim = [1.0, 1.25, 1.25, 8.0, 1.0, 1.0, 1.0, 1.0]
    h = struct.pack(endian + "i10s18sihsB", sizeof_hdr, b"", b"", 0, 0, b"r", 0)
    h += struct.pack(endian + "8h", *dim)
    h += struct.pack(endian + "3f", 0, 0, 0)                     # intent_p1..3
    h += struct.pack(endian + "hhhh", 0, code, 8 * struct.calcsize(fmt), 0)
    h += struct.pack(endian + "8f", *pixdim)
    h += struct.pack(endian + "fff", vox_offset, slope, inter)
    h += struct.pack(endian + "hBB", 0, 0, 10)                    # slice_end, slice_code, xyzt_units (mm)
    h += struct.pack(endian + "ffffii", 0, 0, 0, 0, 0, 0)         # cal_max/min, slice_duration, toffset, glmax/min
    h += struct.pack(endian + "80s24s", b"fuzz seed", b"")
    h += struct.pack(endian + "hh", 1, 1)                         # qform_code, sform_code
    h += struct.pack(endian + "6f", 0, 0, 0, 0, 0, 0)             # quatern b c d, qoffset x y z
    h += struct.pack(endian + "4f", 1.25, 0, 0, 0)
    h += struct.pack(endian + "4f", 0, 1.25, 0, 0)
    h += struct.pack(endian + "4f", 0, 0, 8.0, 0)
    h += struct.pack(endian + "16s4s", b"", magic)
    assert len(h) == 348, len(h)
    return h


def nifti(dims, dtype, values, endian="<", extension=b"\0\0\0\0", **kw):
    fmt = DT[dtype][1]
    kw.setdefault("vox_offset", float(348 + len(extension)))
    return header(dims, dtype, endian, **kw) + extension + struct.pack(endian + str(len(values)) + fmt, *values)


ramp = [float(i % 7) for i in range(4 * 3 * 2)]
put("nifti", "float32_4x3x2.seed", nifti((4, 3, 2), "f32", ramp))
put("nifti", "int16_scaled.gz.seed", gzip.compress(nifti((4, 3, 2), "i16", [i - 5 for i in range(24)], slope=2.0, inter=-1.0), mtime=0))
put("nifti", "uint8_bigendian_extension.seed",
    nifti((2, 2, 2), "u8", list(range(8)), endian=">", extension=b"\1\0\0\0" + struct.pack(">ii", 16, 4) + b"abcdefgh"))
put("nifti", "float64_nan.seed", nifti((2, 2, 2), "f64", [0, 1, 2, math.nan, 4, 5, math.inf, 7]))
put("nifti", "float32_overflowing_slope.seed", nifti((2, 2, 1), "f32", [1e30, 1, 2, 3], slope=1e30))
put("nifti", "uint16_4d_one_frame.seed", nifti((2, 2, 2, 1), "u16", [1, 2, 3, 65535, 5, 6, 7, 8]))
put("nifti", "int32_2d.seed", nifti((2, 2), "i32", [1, 2, 3, 4]))
put("nifti", "truncated.seed", nifti((4, 3, 2), "f32", ramp)[:400])
put("nifti", "truncated.gz.seed", gzip.compress(nifti((4, 3, 2), "f32", ramp), mtime=0)[:-9])
put("nifti", "claims_4GiB.gz.seed", gzip.compress(header((4096, 4096, 32), "f64") + b"\0" * 260, mtime=0))
put("nifti", "huge_vox_offset.seed", header((2, 2, 2), "u8", vox_offset=1e9) + b"\0" * 12)
put("nifti", "two_file_magic.seed", nifti((2, 2, 2), "u8", list(range(8)), magic=b"ni1\0"))
put("nifti", "nifti2_size.seed", nifti((2, 2, 2), "u8", list(range(8)), sizeof_hdr=540))
put("nifti", "header_only.seed", header((1, 1, 1), "u32")[:348])

# ---- safetensors ----------------------------------------------------------------------------


def safetensors(header_obj, data, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header_obj, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


good = {"__metadata__": {"format": "pt", "step": "12"},
        "step": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [8, 32]},
        "mask": {"dtype": "U8", "shape": [4], "data_offsets": [32, 36]},
        "empty": {"dtype": "F64", "shape": [0, 5], "data_offsets": [36, 36]}}
good_data = struct.pack("<q6f4B", 12, 1, 2, 3, 4, 5, 6, 1, 0, 1, 0)
put("safetensors", "valid.safetensors", safetensors(good, good_data))
put("safetensors", "empty_object.safetensors", safetensors({}, b""))
put("safetensors", "unicode_names.safetensors",
    safetensors(None, struct.pack("<d", 1.5), raw_header=b'{"enc\\u00e9.\\ud83d\\ude00":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}'))
put("safetensors", "overlap.safetensors",
    safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12))
put("safetensors", "length_past_end.safetensors", struct.pack("<Q", 2**63) + b"{}      ")
put("safetensors", "bad_dtype.safetensors", safetensors({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0"))
put("safetensors", "huge_shape.safetensors",
    safetensors({"a": {"dtype": "F64", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8))
put("safetensors", "deep_nesting.safetensors", safetensors(None, b"", raw_header=b"{\"a\":" + b"[" * 40 + b"]" * 40 + b"}"))

# ---- run.json -------------------------------------------------------------------------------
run = {"method": "modelmix", "tasks": [{"name": "acdc", "folder": "../shared/data/acdc/train", "scribbled": ["p1", "p2"]},
                                        {"name": "mscmr", "folder": "data/mscmr", "scribbled": []}],
       "label_set": "acdc", "size": 256, "width": 16, "depth": 5, "batch": 8, "iters": 1000, "shots": 5,
       "lr": 0.001, "schedule": "poly", "seed": 42}
put("run_folder", "valid.json", json.dumps(run, indent=2).encode())
put("run_folder", "no_schedule.json", json.dumps({k: v for k, v in run.items() if k != "schedule"}).encode())
put("run_folder", "missing_seed.json", json.dumps({k: v for k, v in run.items() if k != "seed"}).encode())
put("run_folder", "wrong_types.json", json.dumps(dict(run, size="256", tasks="acdc")).encode())
put("run_folder", "negative_seed.json", json.dumps(dict(run, seed=-1, depth=2**40)).encode())
put("run_folder", "deep_nesting.json", b"[" * 200 + b"]" * 200)
put("run_folder", "not_json.json", b"method = modelmix\n")
put("run_folder", "empty.json", b"")
