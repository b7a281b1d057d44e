"""Soak test of a grading run: many submissions of mixed kinds, with memory and leftovers measured.

    python bench/soak.py [--n 300] [--jobs 2] [--json out.json]

N submissions of a1_neuron (the mix an instructor's bad day brings: half perfect, a fifth untouched,
a fifth partly wrong, and the hostile samples: fork bomb, memory bomb, a huge print, ...) plus one
perfect submission of every other assignment are graded by `python -m autograder grade` in a
process of its own, while this script samples, twice a second, the resident memory of that grading
process and of its whole process tree (server, workers, kernels). Reported: wall time and time per
submission; the parent's peak and its growth per 100 recorded submissions (a line fitted through
the samples after the first 20 results: constant memory means a slope near 0); the tree's peak;
rows lost or wrong against what each kind must score; and what is left behind after the run
(processes, cgroups, job folders).
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder import course
from autograder.judge import sandbox
from autograder.course import samples as sample_submissions  # noqa: E402
from autograder.course import Course

COURSE = Course.here()

A1 = "a1_neuron"


def make_class(folder, n):
    """{student: (assignment, expected score)}: the soak class, written in nbgrader's layout."""
    honest, hostile = sample_submissions.honest_samples(), sample_submissions.hostile_samples()
    kinds = [("perfect", sample_submissions.HONEST)] * 10 + [("untouched", sample_submissions.HONEST)] * 4 + \
            [("partly_wrong", sample_submissions.HONEST)] * 4
    hostile_names = sorted(name for name, sample in hostile.items() if A1 in sample.notebooks)
    expected = {}
    for k in range(n):
        if k % 20 >= 18 and hostile_names:
            name, root, samples = hostile_names[(k // 20) % len(hostile_names)], sample_submissions.HOSTILE, hostile
        else:
            (name, root), samples = kinds[k % 20 % len(kinds)], honest
        student = f"s{k:04d}-{name}"
        shutil.copytree(root / name / A1, folder / student / A1)
        expected[student] = (A1, sum(samples[name].expected_scores(A1).values()))
    for assignment in COURSE.assignment_ids[1:]:
        shutil.copytree(sample_submissions.HONEST / "perfect" / assignment, folder / "all-perfect" / assignment)
        expected[f"all-perfect/{assignment}"] = (assignment, 100.0)
    return expected


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree(pid):
    """pid and all its descendants (host view)."""
    children = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def slope(points):
    """MB per result of a least-squares line through (results, MB) points."""
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def leftovers(out, pid):
    cgroups = sandbox.find_cgroups()
    groups = [g.name for root in cgroups.roots for g in Path(root).glob(f"{sandbox.CGROUP_PREFIX}{pid}-*")]
    processes = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(out) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                processes.append(int(proc.name))
        except OSError:
            pass
    jobs = list((out / "work" / "jobs").glob("*")) if (out / "work" / "jobs").is_dir() else []
    return {"cgroups": groups, "processes": processes, "job_folders": len(jobs)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        tmp = Path(tmp)
        expected = make_class(tmp / "in", args.n)
        out = tmp / "out"
        env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
        started = time.time()
        process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(tmp / "in"), "--out", str(out),
                                    "--jobs", str(args.jobs), "--quiet"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, env=env)
        samples, parent_peak, tree_peak = [], 0.0, 0.0
        while process.poll() is None:
            parent = rss_mb(process.pid)
            whole = sum(rss_mb(p) for p in tree(process.pid))
            recorded = len(list(out.glob("results/*/*.json")))
            samples.append((recorded, parent))
            parent_peak, tree_peak = max(parent_peak, parent), max(tree_peak, whole)
            time.sleep(0.5)
        seconds = time.time() - started
        stderr = process.stderr.read()
        time.sleep(1)
        left = leftovers(out, process.pid)
        with open(out / "grades.csv") as f:
            rows = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
        lost, wrong = [], []
        for student, (assignment, score) in expected.items():
            key = (student.split("/")[0], assignment)
            if key not in rows:
                lost.append(student)
            elif rows[key] != score:
                wrong.append((student, rows[key], score))
        growth = slope([p for p in samples if p[0] >= 20]) * 100
        result = {"submissions": len(expected), "jobs": args.jobs, "exit": process.returncode,
                  "seconds": round(seconds, 1), "seconds_per_submission": round(seconds / len(expected), 2),
                  "parent_peak_mb": round(parent_peak, 1), "parent_growth_mb_per_100": round(growth, 2),
                  "tree_peak_mb": round(tree_peak, 1), "lost": lost, "wrong": wrong, "leftovers": left,
                  "error": stderr[-500:] if process.returncode else ""}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
