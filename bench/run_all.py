"""Run every benchmark and keep the results: `make bench`.

Writes docs/benchmarks.json (all numbers, with the machine they were measured on) and
docs/benchmarks.png (rnncore / PyTorch time ratios); docs/benchmarks.md discusses them.
Takes about 30 minutes on a 2-core machine.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


def run(script, *args):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        print(f"\n== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args, "--json", out.name], check=True)
        return json.loads(Path(out.name).read_text())


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import numpy
    import torch
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__, "system": f"{platform.system()} {platform.release()}"}


def plot(rows, path):
    """Bar chart of the rnncore / PyTorch time ratios, one panel per OpenBLAS configuration."""
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FixedLocator, ScalarFormatter
    configs = list(dict.fromkeys(r["openblas"] for r in rows))
    groups = sorted({(r["dtype"], tuple(r["shape"]), r["threads"]) for r in rows}, key=lambda g: (g[0] != "float64", g))
    cells = ["rnn", "lstm", "gru"]
    fig, axes = plt.subplots(1, len(configs), figsize=(7.5 * len(configs), 5), sharey=True, squeeze=False)
    for ax, config in zip(axes[0], configs):
        width = 0.8 / len(cells)
        for k, cell in enumerate(cells):
            ratios = [next(r["ratio"] for r in rows if r["openblas"] == config and r["cell"] == cell
                           and (r["dtype"], tuple(r["shape"]), r["threads"]) == g) for g in groups]
            ax.bar(np.arange(len(groups)) + (k - 1) * width, ratios, width, label=cell.upper())
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="as fast as PyTorch")
        ax.set_xticks(np.arange(len(groups)))
        ax.set_xticklabels([f"{d.replace('float', 'f')}\nN,T={s[0]},{s[1]}\nD,H={s[2]},{s[3]}\n{t} thr"
                            for d, s, t in groups], fontsize=7)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator([0.2, 0.5, 1, 2, 5]))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_locator(FixedLocator([]))
        ax.set_title(f"OpenBLAS {config}", fontsize=10)
        ax.set_xlabel("dtype, sizes, threads")
    axes[0][0].set_ylabel("time of rnncore / time of PyTorch")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Forward + backward on CPU, rnncore vs torch.nn (below 1: rnncore is faster)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    if sys.argv[1:] == ["--plot-only"]:                      # redraw from the stored numbers
        plot(json.loads((DOCS / "benchmarks.json").read_text())["rnn_vs_torch"], DOCS / "benchmarks.png")
        return
    results = {"machine": machine()}
    results["rnn_vs_torch"] = run("rnn_vs_torch.py", "--rounds", "5")
    results["charmodel"] = run("charmodel_vs_minchar.py", "--seconds", "30")
    results["grading"] = run("grading_throughput.py")
    results["grading_dask"] = run("grading_dask.py")
    results["notebook_ci"] = run("notebook_ci.py")
    DOCS.mkdir(exist_ok=True)
    (DOCS / "benchmarks.json").write_text(json.dumps(results, indent=1))
    plot(results["rnn_vs_torch"], DOCS / "benchmarks.png")
    print(f"\nwrote {DOCS / 'benchmarks.json'} and {DOCS / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
