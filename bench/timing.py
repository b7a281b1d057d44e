"""Shared helpers for the benchmarks: time a function, run a measurement in a fresh process.

Machines are noisy, so every benchmark compares two things measured side by side in the same
run, alternating, each in its own process (numpy's and PyTorch's thread pools disturb each
other inside one process), and reports the ratio of medians.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def best_time(fn, repeats=10, warmup=2):
    """The fastest of `repeats` calls of fn(), in seconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def thread_env(threads):
    """Environment pinning numpy (OpenBLAS) and PyTorch to `threads` threads."""
    n = str(threads)
    return {**os.environ, "OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def measure_in_process(script, args, threads, env=None):
    """Run `python script --worker args...` with pinned threads (and extra env); it prints one JSON line."""
    out = subprocess.run([sys.executable, script, "--worker", *map(str, args)], env={**thread_env(threads), **(env or {})},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def openblas_core(env=None):
    """The kernel family OpenBLAS chose on this machine (it prints it with OPENBLAS_VERBOSE=2)."""
    out = subprocess.run([sys.executable, "-c", "import numpy"], env={**os.environ, **(env or {}), "OPENBLAS_VERBOSE": "2"},
                         capture_output=True, text=True)
    return next((line.split(":", 1)[1].strip() for line in (out.stdout + out.stderr).splitlines()
                 if line.startswith("Core:")), "unknown")


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read()
    except OSError:
        return False


def alternate(measure_a, measure_b, rounds):
    """Call measure_a() and measure_b() alternately `rounds` times; returns (median a, median b)."""
    a, b = [], []
    for k in range(rounds):
        first, second = (measure_a, measure_b) if k % 2 == 0 else (measure_b, measure_a)
        x, y = first(), second()
        (a if first is measure_a else b).append(x)
        (b if first is measure_a else a).append(y)
    return statistics.median(a), statistics.median(b)
