"""Execute lecture notebooks in place and store them clean, so that opening one in JupyterLab changes nothing.

    python lectures/execute_and_clean.py lectures/01_neuron_and_layers.ipynb [more notebooks...]

Run it through `make lectures`, which sets the reproducible numerics (the Makefile's NOTEBOOK_ENV): the
stored outputs are compared digit by digit by `pytest --nbval`.

What is stored after the run, cell by cell:
- stderr is dropped (warnings carry temporary paths and library versions); what was dropped is printed
  here, because nbval fails on any stderr at test time: silence the warning in the lecture's code;
- the stream outputs of a cell are merged per stream, and carriage-return states (progress bars) are
  collapsed to the last one: the finished bar, as JupyterLab shows it;
- an ipywidgets output (a slider) keeps only a short Russian hint: without a running kernel a widget
  cannot be shown, and JupyterLab would show `interactive(children=...` or "model not found";
- no execution timings in the cell metadata.
Notebook metadata: no widget state, and the kernelspec display name that JupyterLab writes.
"""
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "Запустите ячейку, чтобы появились ползунки."
CELL_TIMEOUT = 300                 # seconds; the longest lecture cell takes about 20 on an idle machine
CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)   # text that a later \r on the same line overwrites


def execute(nb, folder):
    """Run every cell of nb in a fresh kernel started in folder; nb is changed in place."""
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNELSPEC["name"],
                   record_timing=False, resources={"metadata": {"path": str(folder)}}).execute()


def clean_outputs(outputs):
    """The outputs to store: no stderr, one stream output per stream name, no overwritten text, widget hints.

    Returns (outputs, dropped_stderr_text).
    """
    cleaned, streams, dropped = [], {}, ""
    for out in outputs:
        if out["output_type"] == "stream":
            if out["name"] == "stderr":
                dropped += out["text"]
            elif out["name"] in streams:
                streams[out["name"]]["text"] += out["text"]
            else:
                streams[out["name"]] = out
                cleaned.append(out)
        elif WIDGET_MIME in out.get("data", {}):
            cleaned.append(nbformat.v4.new_output("display_data", data={"text/plain": WIDGET_HINT}))
        else:
            cleaned.append(out)
    for out in streams.values():
        out["text"] = CARRIAGE_RETURN.sub("", out["text"])
    return cleaned, dropped


def clean_notebook(nb):
    """Clean nb in place (see the module docstring); returns the dropped stderr text per cell index."""
    dropped = {}
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, stderr = clean_outputs(cell.outputs)
            if stderr:
                dropped[index] = stderr
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return dropped


def main(paths):
    if not paths:
        sys.exit("usage: python lectures/execute_and_clean.py NOTEBOOK.ipynb [...]")
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        try:
            execute(nb, path.parent)
        except CellTimeoutError as error:                 # a lost kernel message on a loaded machine: try once more
            print(f"{path}: {error}; executing it again", file=sys.stderr)
            nb = nbformat.read(path, as_version=4)
            execute(nb, path.parent)
        for index, text in clean_notebook(nb).items():
            print(f"{path}: cell {index} wrote to stderr (dropped from the stored outputs; nbval will fail on it):\n"
                  f"{text}", file=sys.stderr)
        nbformat.write(nb, path)
        print(f"{path}: executed and stored")


if __name__ == "__main__":
    main(sys.argv[1:])
