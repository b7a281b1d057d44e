"""Grading on a Dask cluster against the local pool, on this machine: what the distributed path costs.

    python bench/grading_dask.py [--rounds 2] [--json out.json]

The submissions of grading_throughput.py (four per assignment) are graded with
`python -m autograder grade --jobs 2` and with `--cluster local:2` (a Dask LocalCluster of two worker
processes, started and stopped by the command, so its start-up counts), alternating, `--rounds` times
each, into fresh output folders. Reported: the ratio of mean wall times (target <= 1.15), the extra
time per submission of the Dask path (wall-time difference x 2 workers / submissions), and the round
trip of an empty Dask task on a running LocalCluster (what the scheduler itself costs per task).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_throughput import ENV, make_submissions  # noqa: E402

WORKERS = 2


def grade(submissions, out, *where):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), *where,
                    "--quiet"], env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def empty_task_ms(n=200):
    """Milliseconds per empty task submitted one at a time and awaited, on a running 2-worker LocalCluster."""
    from distributed import Client

    from autograder.pipeline import executors
    with executors.local_cluster(WORKERS) as cluster, Client(cluster) as client:
        client.submit(int, 0, pure=False).result()             # warm the connections
        start = time.perf_counter()
        for k in range(n):
            client.submit(int, k, pure=False).result()
        return (time.perf_counter() - start) / n * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each way, alternating")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    times = {"--jobs 2": [], "--cluster local:2": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n = len(make_submissions(work / "submitted"))
        for k in range(args.rounds):
            times["--jobs 2"].append(grade(work / "submitted", work / f"jobs-{k}", "--jobs", str(WORKERS)))
            times["--cluster local:2"].append(grade(work / "submitted", work / f"dask-{k}", "--cluster",
                                                    f"local:{WORKERS}"))
    local, dask = (statistics.mean(times[w]) for w in times)
    ratio = dask / local
    extra_ms = (dask - local) * WORKERS / n * 1000
    task_ms = empty_task_ms()
    print(f"{n} submissions on {os.cpu_count()} cores, {args.rounds} round(s)")
    for name, seconds in times.items():
        print(f"{name:20} " + "  ".join(f"{s:6.1f} s" for s in seconds))
    print(f"--cluster local:2 takes {ratio:.2f}x the wall time of --jobs 2 (target <= 1.15); "
          f"{extra_ms:.0f} ms more per submission; an empty Dask task round trip takes {task_ms:.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"submissions": n, "seconds": times, "ratio": ratio, "extra_ms_per_submission": extra_ms,
                       "empty_task_ms": task_ms}, f, indent=1)


if __name__ == "__main__":
    main()
