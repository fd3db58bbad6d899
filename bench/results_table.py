"""Prints the table at the top of docs/perf.md: one row per CPU benchmark
result in bench/results/ (what bench/run_bench.sh wrote), with its date, the
machine and its ISA, and the benchmark's headline ratios: PyTorch time / our
time summed over its shapes (above 1: ours is faster), and for the inference
benchmarks ours / the conv floor and ours / the faster of PyTorch's eager and
to_mkldnn (above 1: ours is slower).

    python3 bench/results_table.py [bench/results]

Results without a ratio_sum_of_shapes (the data-parallel and GPU ones, whose
tables are in their own sections) are listed by name only. Standard library
only."""
import glob
import json
import os
import sys

# Where each benchmark's own table and method are (docs/perf.md sections).
SECTIONS = {"conv": "Convolution", "facs": "The FACS op", "folder": "Image-folder input pipeline",
            "infer": "Whole networks", "infer_tools": "Whole networks", "train": "Whole networks",
            "pspnet": "PSPNet", "seg": "PSPNet", "gradcam": "GradCAM maps"}


def isa_of(doc):
    """The widest vector ISA of the result's machine, as far as it recorded it."""
    flags = doc.get("cpu_flags") or doc.get("isa", {}).get("cpu_flags")
    if not flags:
        return "not recorded"
    widest = next((f for f in ("amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx2", "avx") if f in flags),
                  flags[-1])
    onednn = doc.get("isa", {}).get("onednn")
    return widest + (f" (oneDNN: {onednn})" if onednn else "")


def headline(doc):
    parts = [f"{k} {v:.2f}" for k, v in doc["ratio_sum_of_shapes"].items() if k != "cpu"]
    ref = doc.get("reference_sum_of_shapes")
    if ref:
        parts.append(f"ours/floor {ref['ours_over_floor']:.2f}, ours/best torch {ref['ours_over_best_torch']:.2f}")
    return "; ".join(parts)


def main(argv):
    folder = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    paths = sorted(glob.glob(os.path.join(folder, "*.json")))
    if not paths:
        sys.exit(f"results_table.py: no JSON results in {folder}")
    print("| benchmark | date | machine | ISA | torch / ours, sum of shapes | section |")
    print("|---|---|---|---|---|---|")
    others = []
    for path in paths:
        name = os.path.basename(path)[:-len(".json")]
        with open(path) as f:
            doc = json.load(f)
        if "ratio_sum_of_shapes" not in doc:
            others.append(name)
            continue
        print(f"| `{name}` | {doc.get('date', '?')[:10]} | {doc.get('cpu', '?')} | {isa_of(doc)} | {headline(doc)} "
              f"| {SECTIONS.get(name, '')} |")
    if others:
        print("\nIn their own sections: " + ", ".join(f"`{n}`" for n in others) + ".")


if __name__ == "__main__":
    main(sys.argv)
