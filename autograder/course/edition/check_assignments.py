"""Run the visible tests of the assignments and say, per assignment, which pass (in Russian, like the README).

    python check_assignments.py [ASSIGNMENT ...]      # default: every folder of assignments/

Each notebook runs top to bottom in a fresh kernel, like "Restart Kernel and Run All Cells";
a failing cell does not stop the run. The visible tests are the cells nbgrader grades.
Exit status 0 when nothing fails but functions not written yet (NotImplementedError): unfinished
work is not an error. 1 when a test of a written function fails or another cell raises; 2 for an
unknown assignment.
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ASSIGNMENTS = Path(__file__).resolve().parent / "assignments"
CELL_TIMEOUT = 600                       # seconds; the training cells of a5 take about half a minute


def execute(path):
    """The notebook at path, executed in its own folder with errors kept as outputs."""
    nb = nbformat.read(str(path), as_version=4)
    # The kernel's own log (not the notebook's output) stays quiet: it warns about plain TCP on every start.
    NotebookClient(nb, timeout=CELL_TIMEOUT, allow_errors=True, extra_arguments=["--log-level=ERROR"],
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def first_error(cell):
    return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)


def summary(nb):
    """(passed, not written yet, failed with a message, errors in other cells) of an executed notebook."""
    passed, not_written, failed, other = [], [], [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        info = cell.metadata.get("nbgrader", {})
        error = first_error(cell)
        name = info.get("grade_id", "ячейка")
        if info.get("grade"):
            if error is None:
                passed.append(name)
            elif error.ename == "NotImplementedError":
                not_written.append(name)
            else:
                failed.append(f"{name}: {error.ename}: {error.evalue}"[:300])
        elif error is not None and error.ename != "NotImplementedError":
            other.append(f"{name}: {error.ename}: {error.evalue}"[:300])
    return passed, not_written, failed, other


def main(names):
    names = names or sorted(p.name for p in ASSIGNMENTS.iterdir() if (p / f"{p.name}.ipynb").is_file())
    unknown = [n for n in names if not (ASSIGNMENTS / n / f"{n}.ipynb").is_file()]
    if unknown:
        print(f"нет такого задания: {', '.join(unknown)}; задания — это папки {ASSIGNMENTS}")
        return 2
    unfinished = broken = False
    for name in names:
        print(f"{name}: выполняется…", flush=True)
        passed, not_written, failed, other = summary(execute(ASSIGNMENTS / name / f"{name}.ipynb"))
        total = len(passed) + len(not_written) + len(failed)
        print(f"{name}: проходят {len(passed)} из {total} видимых тестов")
        if not_written:
            print(f"  ещё не написаны (NotImplementedError), тестов: {len(not_written)}: {', '.join(not_written)}")
        for line in failed:
            print(f"  НЕ ПРОХОДИТ  {line}")
        for line in other:
            print(f"  ОШИБКА вне тестов  {line}")
        unfinished = unfinished or bool(not_written)
        broken = broken or bool(failed or other)
    if broken:
        print("Итог: есть тесты, которые не проходят, или ошибки (см. выше).")
    elif unfinished:
        print("Итог: ошибок нет, но работа не закончена: не все функции написаны.")
    else:
        print("Итог: все видимые тесты проходят (скрытые тесты запустит преподаватель при оценивании).")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
