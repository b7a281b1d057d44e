"""rnncore against PyTorch CPU: RNN, LSTM and GRU forward + backward, same shapes, same threads.

    python bench/rnn_vs_torch.py [--rounds 5] [--target-only] [--profile] [--json out.json]

--target-only measures what the speed target is about: float64, the two TARGET_SHAPES, 1 thread and
all cores, numpy's default OpenBLAS set-up (about 5 minutes with --rounds 3 on 2 cores).

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

import rnncore
from timing import alternate, best_time, best_times, cpu_has_avx512, measure_in_process, openblas_core

AVX512_CORES = {"SkylakeX", "Cooperlake", "SapphireRapids", "Zen4", "Zen5"}

CELLS = list(rnncore.RECURRENT_CELLS)                       # rnn, lstm, gru
TORCH_MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}   # what torch calls them
# torch's GRU applies the reset gate after the recurrent product: rnncore's reset_after=True
TORCH_OPTIONS = {"gru": {"reset_after": True}}
TARGET_SHAPES = [(32, 64, 128, 128), (64, 128, 256, 256)]
SHAPES = TARGET_SHAPES + [(1, 256, 64, 64)]


def flops(cell, N, T, D, H):
    """Matrix-product FLOPs of forward + backward: 6 N T (G H) (D + H)."""
    return 6 * N * T * rnncore.get_cell(cell).gates * H * (D + H)


def repeats_for(cell, N, T, D, H):
    """Timed calls per process: 10, down to 3 for large problems (a few seconds per process)."""
    return int(min(10, max(3, 1e10 / flops(cell, N, T, D, H))))


def worker(side, name, N, T, D, H, dtype):
    import numpy as np
    rng = np.random.default_rng(0)
    cell = rnncore.get_cell(name)
    G = cell.gates
    x = rng.standard_normal((N, T, D)).astype(dtype)
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    if side == "numpy":
        options = TORCH_OPTIONS.get(name, {})
        h0 = np.zeros((N, H), dtype)
        Wx = (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(dtype)
        Wh = (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(dtype)
        b = np.zeros(G * H, dtype)

        def step():
            h, cache = cell.forward(x, h0, Wx, Wh, b, **options)
            cell.backward(dh, cache)
    elif side == "torch":
        import torch
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        module = getattr(torch.nn, TORCH_MODULES[name])(D, H, batch_first=True, dtype=getattr(torch, dtype))
        xt, dht = torch.tensor(x, requires_grad=True), torch.tensor(dh)

        def step():
            out, _ = module(xt)
            out.backward(dht)
    elif side == "profile":
        return profile(cell, x, dh, dtype)
    else:                                                   # the machine's matmul throughput, same size
        A = rng.standard_normal((N * T, D + H)).astype(dtype)
        B = rng.standard_normal((D + H, G * H)).astype(dtype)
        seconds = best_time(lambda: A @ B, repeats=20)
        return {"gflops": 2 * N * T * (D + H) * G * H / seconds / 1e9}
    seconds, cpu_seconds = best_times(step, repeats=repeats_for(name, N, T, D, H))
    return {"seconds": seconds, "cpu_seconds": cpu_seconds}


def profile(cell, x, dh, dtype):
    """Where rnncore's time goes: the whole forward + backward, its matrix products alone, its exps alone.

    The products are those of the sequence functions, same shapes, same number: the input
    projections, T recurrent products forward and T backward, and dx, dWx, dWh after the loop.
    The forward computes one exp of an (N, H) block per gate block and step, and one more for
    tanh(c_t) in a cell with a cell state. What is left is the other element-wise work and Python.
    """
    import numpy as np
    rng = np.random.default_rng(1)
    N, T, D = x.shape
    H, G = dh.shape[2], cell.gates
    options = TORCH_OPTIONS.get(cell.name, {})
    Wx, Wh, b = rng.standard_normal((D, G * H)) / np.sqrt(D), rng.standard_normal((H, G * H)) / np.sqrt(H), np.zeros(G * H)
    Wx, Wh, b, h0 = Wx.astype(dtype), Wh.astype(dtype), b.astype(dtype), np.zeros((N, H), dtype)
    rows, h_step, d_step = x.reshape(T * N, D), np.ones((N, H), dtype), np.ones((N, G * H), dtype)
    d_rows, h_rows = np.ones((T * N, G * H), dtype), np.ones((T * N, H), dtype)
    block, out = rng.standard_normal((N, H)).astype(dtype), np.empty((N, H), dtype)
    exps_per_step = G + int(cell.has_cell_state)

    def whole():
        cell.backward(dh, cell.forward(x, h0, Wx, Wh, b, **options)[1])

    def products():
        rows @ Wx                                           # input projections of every step
        for _ in range(T):
            h_step @ Wh                                     # forward: h_{t-1} @ Wh
            d_step @ Wh.T                                   # backward: da_t @ Wh.T
        d_rows @ Wx.T, rows.T @ d_rows, h_rows.T @ d_rows  # dx, dWx, dWh

    def exps():
        for _ in range(T * exps_per_step):
            np.exp(block, out=out)

    repeats = repeats_for(cell.name, N, T, D, H)
    return {name: best_time(fn, repeats=repeats) for name, fn in (("whole", whole), ("products", products),
                                                                     ("exps", exps))}


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


def run(rounds, target_only=False, with_profile=False, json_path=None):
    cores = os.cpu_count() or 1
    rows = []
    configurations = numpy_configurations()
    if target_only:
        configurations = dict(list(configurations.items())[:1])   # numpy's default OpenBLAS set-up
    for config, env in configurations.items():
        for threads in sorted({1, cores}):
            for dtype in ("float64",) if target_only else ("float64", "float32"):
                for shape in TARGET_SHAPES if target_only else SHAPES:
                    matmul = measure_in_process(__file__, ["matmul", "lstm", *shape, dtype], threads, env)["gflops"]
                    for cell in CELLS:
                        args = [cell, *shape, dtype]
                        ours, theirs = alternate(
                            lambda: measure_in_process(__file__, ["numpy", *args], threads, env),
                            lambda: measure_in_process(__file__, ["torch", *args], threads), rounds)
                        gflops = flops(cell, *shape) / ours["seconds"] / 1e9
                        row = {"openblas": config, "cell": cell, "shape": list(shape), "dtype": dtype, "threads": threads,
                               "rnncore_ms": ours["seconds"] * 1e3, "torch_ms": theirs["seconds"] * 1e3,
                               "ratio": ours["seconds"] / theirs["seconds"],
                               "rnncore_cpu_ms": ours["cpu_seconds"] * 1e3, "torch_cpu_ms": theirs["cpu_seconds"] * 1e3,
                               "cpu_ratio": ours["cpu_seconds"] / theirs["cpu_seconds"],
                               "load_average": os.getloadavg()[0],
                               "rnncore_gflops": gflops, "matmul_gflops": matmul, "matmul_fraction": gflops / matmul}
                        if with_profile and threads == 1:
                            parts = measure_in_process(__file__, ["profile", *args], threads, env)
                            row.update({f"profile_{k}_ms": v * 1e3 for k, v in parts.items()})
                        rows.append(row)
                        if json_path:                       # after every row: an interrupted run keeps its rows
                            with open(json_path, "w") as f:
                                json.dump(rows, f, indent=1)
                        print(f"{cell:5} N,T,D,H={','.join(map(str, shape)):14} {dtype:8} threads={threads} "
                              f"OpenBLAS {config:27} rnncore {row['rnncore_ms']:7.2f} ms  torch {row['torch_ms']:7.2f} ms  "
                              f"ratio {row['ratio']:.2f} (CPU time: {row['cpu_ratio']:.2f})  "
                              f"{gflops:5.1f} GFLOP/s = {row['matmul_fraction']:.0%} of matmul  load {row['load_average']:.1f}",
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
                        help="only the target configurations: float64, TARGET_SHAPES, 1 thread and all cores, "
                             "numpy's default OpenBLAS")
    parser.add_argument("--profile", action="store_true",
                        help="also time each rnncore cell's matrix products and exps on their own, at 1 thread "
                             "(see profile)")
    args = parser.parse_args()
    run(args.rounds, args.target_only, args.profile, args.json)


if __name__ == "__main__":
    main()
