"""rnncore against PyTorch CPU: RNN, LSTM and GRU forward + backward, same shapes, same threads.

    python bench/rnn_vs_torch.py [--rounds 5] [--target-only] [--json out.json]

For each cell, shape (N, T, D, H), dtype and thread count (1 and all cores) it prints the time of
rnncore and of torch.nn.RNN/LSTM/GRU (GRU as reset_after=True, which is what torch computes),
their ratio (below 1.0: rnncore is faster), and the fraction of this machine's plain numpy
matmul throughput that each rnncore cell reaches (its matmul FLOPs per second divided by the
GFLOP/s of an A @ B with A (N*T, D+H) and B (D+H, G*H)). rnncore is measured with OpenBLAS as
numpy configures it and, where OpenBLAS passed over the CPU's AVX-512 kernels, with them too.
"""
import argparse
import json
import os
import sys

from timing import alternate, best_time, cpu_has_avx512, measure_in_process, openblas_core

AVX512_CORES = {"SkylakeX", "Cooperlake", "SapphireRapids", "Zen4", "Zen5"}

CELLS = {"rnn": 1, "lstm": 4, "gru": 3}
SHAPES = [(32, 64, 128, 128), (1, 256, 64, 64)]


def flops(cell, N, T, D, H):
    """Matrix-product FLOPs of forward + backward: 6 N T (G H) (D + H)."""
    return 6 * N * T * CELLS[cell] * H * (D + H)


def worker(side, cell, N, T, D, H, dtype):
    import numpy as np
    rng = np.random.default_rng(0)
    G = CELLS[cell]
    x = rng.standard_normal((N, T, D)).astype(dtype)
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    if side == "numpy":
        import rnncore
        forward, backward, _ = rnncore.CELLS[cell]
        options = {"reset_after": True} if cell == "gru" else {}
        h0 = np.zeros((N, H), dtype)
        Wx = (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(dtype)
        Wh = (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(dtype)
        b = np.zeros(G * H, dtype)

        def step():
            h, cache = forward(x, h0, Wx, Wh, b, **options)
            backward(dh, cache)
    elif side == "torch":
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
            D, H, batch_first=True, dtype=getattr(torch, dtype))
        xt, dht = torch.tensor(x, requires_grad=True), torch.tensor(dh)

        def step():
            out, _ = module(xt)
            out.backward(dht)
    else:                                                   # the machine's matmul throughput, same size
        A = rng.standard_normal((N * T, D + H)).astype(dtype)
        B = rng.standard_normal((D + H, G * H)).astype(dtype)
        seconds = best_time(lambda: A @ B, repeats=20)
        return {"gflops": 2 * N * T * (D + H) * G * H / seconds / 1e9}
    return {"seconds": best_time(step, repeats=10)}


def numpy_configurations():
    """The OpenBLAS set-ups to measure rnncore with: the default, and AVX-512 kernels if OpenBLAS skipped them.

    On some machines (virtual machines that hide the CPU model, CPUs newer than the OpenBLAS build)
    OpenBLAS picks AVX2 kernels although the CPU has AVX-512; OPENBLAS_CORETYPE=SkylakeX selects them.
    """
    default = openblas_core()
    configurations = {f"default ({default})": {}}
    if cpu_has_avx512() and default not in AVX512_CORES:
        configurations["OPENBLAS_CORETYPE=SkylakeX"] = {"OPENBLAS_CORETYPE": "SkylakeX"}
    return configurations


def run(rounds, target_only=False):
    cores = os.cpu_count() or 1
    rows = []
    for config, env in numpy_configurations().items():
        for threads in sorted({1, cores}):
            for dtype in ("float64",) if target_only else ("float64", "float32"):
                for shape in SHAPES[:1] if target_only else SHAPES:
                    matmul = measure_in_process(__file__, ["matmul", "lstm", *shape, dtype], threads, env)["gflops"]
                    for cell in CELLS:
                        args = [cell, *shape, dtype]
                        ours, theirs = alternate(
                            lambda: measure_in_process(__file__, ["numpy", *args], threads, env)["seconds"],
                            lambda: measure_in_process(__file__, ["torch", *args], threads)["seconds"], rounds)
                        gflops = flops(cell, *shape) / ours / 1e9
                        row = {"openblas": config, "cell": cell, "shape": list(shape), "dtype": dtype, "threads": threads,
                               "rnncore_ms": ours * 1e3, "torch_ms": theirs * 1e3, "ratio": ours / theirs,
                               "rnncore_gflops": gflops, "matmul_gflops": matmul, "matmul_fraction": gflops / matmul}
                        rows.append(row)
                        print(f"{cell:5} N,T,D,H={','.join(map(str, shape)):14} {dtype:8} threads={threads} "
                              f"OpenBLAS {config:27} rnncore {row['rnncore_ms']:7.2f} ms  torch {row['torch_ms']:7.2f} ms  "
                              f"ratio {row['ratio']:.2f}  {gflops:5.1f} GFLOP/s = {row['matmul_fraction']:.0%} of matmul",
                              flush=True)
    return rows


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        side, cell, N, T, D, H, dtype = sys.argv[2:9]
        print(json.dumps(worker(side, cell, int(N), int(T), int(D), int(H), dtype)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating process pairs per measurement")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--target-only", action="store_true",
                        help="only the target configuration: float64, (32, 64, 128, 128), 1 thread and all cores")
    args = parser.parse_args()
    rows = run(args.rounds, args.target_only)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
