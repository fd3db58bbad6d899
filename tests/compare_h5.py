#!/usr/bin/python3
"""compare_h5.py REF GOT TOL: every dataset of REF must be in GOT (and GOT has
no other), of the same shape, within TOL normwise relative error
(||got - ref|| / ||ref||; ||got|| when ref is all zeros). Prints the count and
the worst error, then up to 8 failures; exits 1 on any."""
import sys

import h5py
import numpy as np


def names(f):
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return set(out)


def main(ref_path, got_path, tol):
    ref, got, tol = h5py.File(ref_path, "r"), h5py.File(got_path, "r"), float(tol)
    bad, worst = [], (0.0, "")
    if names(ref) != names(got):
        bad.append(f"datasets differ: missing {sorted(names(ref) - names(got))[:4]}, "
                   f"extra {sorted(names(got) - names(ref))[:4]}")
    for n in sorted(names(ref) & names(got)):
        a, b = got[n][()].astype(np.float64), ref[n][()].astype(np.float64)
        if a.shape != b.shape:
            bad.append(f"{n}: shape {a.shape}, want {b.shape}")
            continue
        den = np.linalg.norm(b)
        err = np.linalg.norm(a - b) / den if den > 0 else np.linalg.norm(a)
        worst = max(worst, (err, n))
        if not err <= tol:
            bad.append(f"{n}: normwise relative error {err:.3g} > {tol}")
    print(f"{len(names(ref))} tensors, worst normwise relative error {worst[0]:.3g} ({worst[1]})")
    for m in bad[:8]:
        print("  " + m)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
