"""Writes, for test_model_file.c, beside argv[1] (= <base>.h5) the file
<base>_bare.h5: torchvision's ResNet-18 state_dict dumped with h5py under
/model/..., no attributes (num_batches_tracked as int64 scalars), as a user
would write one; argv[1] itself only records the seed."""
import sys

import h5py
import torchvision

from common import setup

f = setup(default_seed=1)
base = sys.argv[1][:-3] if sys.argv[1].endswith(".h5") else sys.argv[1]
with h5py.File(base + "_bare.h5", "w") as bare:
    for key, value in torchvision.models.resnet18().state_dict().items():
        bare.create_dataset("model/" + key.replace(".", "/"), data=value.numpy())
f.close()
