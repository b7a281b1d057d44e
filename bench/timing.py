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
    return best_times(fn, repeats, warmup)[0]


def best_times(fn, repeats=10, warmup=2):
    """The fastest of `repeats` calls of fn() by the wall clock and by this process's CPU time.

    On a machine shared with other work, the CPU time of a one-thread run is about what the run
    takes on an idle core, while its wall-clock time also counts the time other processes held it.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


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
    """Call measure_a() and measure_b() alternately `rounds` times; returns (median a, median b).

    The measures return numbers, or dicts of numbers (then the medians are dicts, key by key).
    """
    a, b = [], []
    for k in range(rounds):
        first, second = (measure_a, measure_b) if k % 2 == 0 else (measure_b, measure_a)
        x, y = first(), second()
        (a if first is measure_a else b).append(x)
        (b if first is measure_a else a).append(y)
    if isinstance(a[0], dict):
        return ({key: statistics.median(r[key] for r in a) for key in a[0]},
                {key: statistics.median(r[key] for r in b) for key in b[0]})
    return statistics.median(a), statistics.median(b)
