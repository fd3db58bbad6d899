"""Compares the convolutions of two oneDNN verbose logs problem by problem:
which kernel and activation layout each side ran, and its median time.

Made for the layout question of issue 13 (docs/perf.md, "Activation layout"):
our CPU backend keeps activations NHWC (oneDNN's acdb), while PyTorch's
to_mkldnn keeps them in oneDNN's blocked layout (aBcd16b on AVX-512). Run both
on the same network and batch with verbose output, then compare:

    ONEDNN_VERBOSE=1 build/bench-models --arch resnet50 --batch 1 --runs 5 \\
        --weight-cache --fold-bn > /tmp/ours.log 2>/dev/null
    DNNL_VERBOSE=1 /usr/bin/python3 bench/bench_models_torch.py --variant mkldnn \\
        --arch resnet50 --batch 1 --runs 5 > /tmp/torch.log 2>/dev/null
    python3 bench/onednn_conv_layouts.py /tmp/ours.log /tmp/torch.log

Prints JSON: per problem (oneDNN's problem string, e.g.
mb1_ic64oc256_ih56oh56kh1...) the number of calls, median ms, kernel and
source layout of each log, and the sums over the distinct problems present in
both (each network's convolutions once per distinct shape). Needs only the
standard library."""
import json
import statistics
import sys


def convolutions(path):
    """{problem: {"ms": [...], "kernel": str, "src": str}} of a verbose log."""
    found = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split(",")
            if len(fields) < 10 or fields[1] != "exec" or fields[3] != "convolution":
                continue
            problem, ms = fields[-2], float(fields[-1])
            src = next((d.split(":")[-2] for d in fields[6].split() if d.startswith("src_")), "?")
            entry = found.setdefault(problem, {"ms": [], "kernel": fields[4], "src": src})
            entry["ms"].append(ms)
    return found


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: onednn_conv_layouts.py A.log B.log (oneDNN verbose logs of the same network)")
    a, b = convolutions(argv[1]), convolutions(argv[2])
    if not a or not b:
        sys.exit(f"onednn_conv_layouts.py: no convolution exec lines in {argv[1] if not a else argv[2]}")
    rows, sum_a, sum_b = [], 0.0, 0.0
    for problem, ea in a.items():
        eb = b.get(problem)
        if eb is None:
            continue
        ma, mb = statistics.median(ea["ms"]), statistics.median(eb["ms"])
        sum_a += ma
        sum_b += mb
        rows.append({"problem": problem, "a_ms": ma, "b_ms": mb, "a_calls": len(ea["ms"]),
                     "b_calls": len(eb["ms"]), "a_kernel": ea["kernel"], "b_kernel": eb["kernel"],
                     "a_src": ea["src"], "b_src": eb["src"]})
    print(json.dumps({"a": argv[1], "b": argv[2], "problems": rows, "a_sum_ms": round(sum_a, 3),
                      "b_sum_ms": round(sum_b, 3), "b_over_a": round(sum_b / sum_a, 3) if sum_a else None},
                     indent=1))


if __name__ == "__main__":
    main(sys.argv)
