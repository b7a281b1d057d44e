"""Wall time of the test suite: the whole `make test` and its nbval part (the lectures).

    python bench/notebook_ci.py [--json out.json]

Runs the same pytest command as `make test` twice: once on the lectures only, once on everything.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "--nbval", "--nbval-current-env",
          "--nbval-sanitize-with", "lectures/sanitize.cfg"]


def timed(paths):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    start = time.perf_counter()
    run = subprocess.run(PYTEST + paths, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:]
    return seconds, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    lectures, lectures_summary = timed(["lectures"])
    everything, summary = timed(["tests", "lectures"])
    print(f"nbval on the lectures: {lectures:6.1f} s   ({lectures_summary})")
    print(f"whole test suite:          {everything:6.1f} s   ({summary})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"nbval_seconds": lectures, "suite_seconds": everything, "suite_summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
