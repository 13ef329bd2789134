"""Runs on the GPU machine: the ceilings the check's kernels and decode are quoted against, measured
in the same run: HBM bandwidth (a device-to-device copy, bytes read + written) and the dense bf16
tensor-core rate (an 8192^3 matmul), each the best of ten timed after warm-up."""
import json

import torch


def best_seconds(fn, iterations=10):
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(iterations):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1000)
    return best


src = torch.empty(2 << 30, dtype=torch.uint8, device="cuda")
dst = torch.empty_like(src)
copy = best_seconds(lambda: dst.copy_(src))
del src, dst
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
gemm = best_seconds(lambda: a @ b)
print("RESULT " + json.dumps({"kind": "roofline", "copyTBs": 2 * (2 << 30) / copy / 1e12, "bf16Tflops": 2 * 8192**3 / gemm / 1e12,
                              "device": torch.cuda.get_device_name()}), flush=True)
