"""Compares two checkpoints of training runs: every dataset value for value,
every attribute of the root and of every group, where the JSON attributes
(run_log, run_state) are compared with their timing fields removed, which may
differ between an interrupted and an uninterrupted run.
usage: compare_checkpoints.py A.h5 B.h5 [--steps N]   (exit 1 on a difference)"""
import json
import sys

import h5py
import numpy as np

TIMING = {"images_per_s", "seconds"}


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def attrs_of(obj):
    out = {}
    for k, v in obj.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, str) and k.startswith("run_"):
            v = without_timing(json.loads(v))
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        out[k] = v
    return out


def contents(path):
    f = h5py.File(path, "r")
    data, attrs = {}, {"/": attrs_of(f)}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            data[name] = obj[()]
        attrs[name] = attrs_of(obj)

    f.visititems(visit)
    return f, data, attrs


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--steps" else None
    fa, a, a_attrs = contents(a_path)
    fb, b, b_attrs = contents(b_path)
    problems = []
    if sorted(a) != sorted(b):
        problems.append(f"datasets differ: {sorted(set(a) ^ set(b))[:3]}")
    differ = [n for n in a if n in b and not np.array_equal(a[n], b[n], equal_nan=True)]
    if differ:
        problems.append(f"{len(differ)} datasets differ in value: {differ[:3]}")
    bad_attrs = [n for n in a_attrs if a_attrs[n] != b_attrs.get(n)]
    if bad_attrs:
        n = bad_attrs[0]
        problems.append(f"attributes of {n} differ: {a_attrs[n]} vs {b_attrs.get(n)}")
    if not any(n.startswith("model/") for n in a):
        problems.append("no model tensors")
    if steps is not None and fb["optimizer"].attrs["steps"] != steps:
        problems.append(f"{b_path} has {fb['optimizer'].attrs['steps']} steps, want {steps}")
    print(f"{b_path} vs {a_path}: {len(a)} datasets; " + ("; ".join(problems) if problems else "identical"))
    sys.exit(1 if problems else 0)


main()
