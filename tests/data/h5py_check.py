"""Independent check of gantry's HDF5 files with h5py and numpy.

  h5py_check.py idx PACKED.h5 IMAGES.idx.gz LABELS.idx.gz
      the packed arrays equal the idx files parsed here; attributes as documented
  h5py_check.py same A.h5 B.h5
      two files hold the same images (e.g. gzip+chunked vs plain synth of one seed)
"""
import gzip
import struct
import sys

import h5py
import numpy as np


def read_idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not a uint8 idx file"
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_idx(h5, images, labels):
    x = read_idx(images)
    y = read_idx(labels)
    with h5py.File(h5, "r") as f:
        d = f["images"]
        assert d.dtype == np.uint8, d.dtype
        assert d.shape == (x.shape[0], 1, x.shape[1], x.shape[2]), d.shape
        assert d.chunks == (1, 1, x.shape[1], x.shape[2]), d.chunks
        assert np.array_equal(d[...], x[:, None]), "pixels differ"
        assert np.array_equal(f["labels"][...], y.astype(np.int64)), "labels differ"
        assert f["labels"].dtype == np.int64
        a = f.attrs
        assert int(a["gantry_format_version"]) == 1
        assert int(a["count"]) == x.shape[0]
        assert int(a["channels"]) == 1
        assert int(a["resolution"]) == x.shape[1] == int(a["height"])
        assert int(a["width"]) == x.shape[2]
        assert images in attr_str(a["source"]), a["source"]
        assert "pack idx" in attr_str(a["creation_command"]), a["creation_command"]
    print(f"h5py: {h5} == {images} ({x.shape[0]} images) and {labels}")


def check_same(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = fa["images"], fb["images"]
        assert da.shape == db.shape, (da.shape, db.shape)
        assert np.array_equal(da[...], db[...]), "images differ"
        print(f"h5py: {a} ({da.chunks}, {da.compression}) == {b} ({db.chunks}, {db.compression})")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"idx": check_idx, "same": check_same}[mode](*args)
