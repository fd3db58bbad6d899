"""What the PyTorch references on a GPU share (bench_gpu_torch.py and the
--device cuda runs of the C benchmarks' twins): fp32 without TF32, the
variant's cuDNN algorithm choice, the device, and the timing rule of
bench_util.h on a GPU (samples of back-to-back calls ended by one
synchronize)."""
import statistics
import sys
import time

SAMPLE_MS, MAX_CALLS = 25.0, 1000  # bench_util.h's BENCH_SAMPLE_MS and BENCH_MAX_CALLS
EXIT_SKIP = 77

# The twins import this module before torch, so that a python3 without torch
# skips them (77) instead of failing as one of ours would.
try:
    import torch
except ImportError as e:
    print(f"{sys.argv[0]}: {sys.executable} has no torch ({e}): skipped", file=sys.stderr)
    sys.exit(EXIT_SKIP)


def select_device(name, prog):
    """torch.device(name), made current; exits EXIT_SKIP with a message when it
    is a CUDA device and torch has none."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{prog}: torch {torch.__version__} has no usable CUDA device: skipped", file=sys.stderr)
        sys.exit(EXIT_SKIP)
    if device.type == "cuda":
        device = torch.device("cuda", device.index or 0)
        torch.cuda.set_device(device.index)
    return device


def tf32_off():
    """fp32 convolutions and matmuls without TF32, through the flags PyTorch has
    long had; where a PyTorch refuses them (its fp32_precision API replaces
    them and refuses a mix of the two), through the new ones. The flags are
    not read back: reading a legacy flag is what raises on such a mix."""
    try:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return "torch.backends.cudnn.allow_tf32 = False; torch.backends.cuda.matmul.allow_tf32 = False"
    except RuntimeError:
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
        return "fp32_precision = 'ieee' for cuda.matmul, cudnn.conv and cudnn.rnn"


def configure(variant):
    """fp32 without TF32, and the variant's cuDNN algorithm choice."""
    tf32 = tf32_off()
    torch.backends.cudnn.benchmark = variant == "fast"
    torch.backends.cudnn.deterministic = variant == "deterministic"
    return {"tf32": False, "tf32_off_by": tf32, "cudnn_benchmark": variant == "fast",
            "cudnn_deterministic": variant == "deterministic", "memory_format": "channels_last",
            "cudnn_version": torch.backends.cudnn.version()}


class Timer:
    """Samples of back-to-back calls ended by one synchronize."""

    def __init__(self, device, args):
        self.cuda = device.type == "cuda"
        self.args = args

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def sample(self, fn, calls):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        self.sync()
        return (time.perf_counter() - start) * 1e3 / calls

    def median_ms(self, fn):
        """(median ms per call, calls per sample)."""
        last = 0.0
        for _ in range(self.args.warmup):
            last = self.sample(fn, 1)
        calls = self.args.iters or (max(1, min(MAX_CALLS, int(SAMPLE_MS / last))) if last > 0 else 1)
        return statistics.median(self.sample(fn, calls) for _ in range(self.args.runs)), calls


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device):
    return round(torch.cuda.max_memory_allocated(device) / 1048576.0, 1) if device.type == "cuda" else None
