"""Shared helpers of the reference scripts: seeding, HDF5 output, test images.

Each ref_<name>.py writes fresh random inputs and PyTorch's outputs and
gradients (NCHW / OIHW float32) to the file named on its command line.
The seed comes from FACS_TEST_SEED or the clock and is printed."""
import os
import sys
import time

import h5py
import numpy as np
import torch


def setup(default_seed=None):
    """Seeds torch from FACS_TEST_SEED, else default_seed, else the clock, and
    opens argv[1] for writing."""
    seed = int(os.environ.get("FACS_TEST_SEED", default_seed if default_seed is not None else int(time.time())))
    print(f"seed {seed} (set FACS_TEST_SEED to replay)")
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    torch.set_default_dtype(torch.float32)
    return h5py.File(sys.argv[1], "w")


def put(group, name, tensor):
    """Stores a tensor (detached, float32 unless integer) as a dataset."""
    array = tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
    if array.dtype.kind == "f":
        array = array.astype(np.float32)
    group.create_dataset(name, data=array)


def photo_like(rng, h, w, c):
    """Smooth gradients plus noise (uint8, H x W x C): PIL's rounding shows on both edges and flat parts."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * (k + 3) * 2.3 + y * (k + 1) * 1.7) % 256 for k in range(c)], axis=-1)
    return ((base + rng.integers(0, 60, (h, w, c))) % 256).astype(np.uint8)
