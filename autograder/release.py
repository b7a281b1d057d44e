"""python -m autograder release OUT: the student edition of the course, a folder and a zip beside it.

What a student gets, and nothing the grader keeps secret:

    OUT/README.md                   how to start (Russian): two commands, links to every lecture and assignment
    OUT/Makefile, OUT/pyproject.toml   the student environment, pinned like the course's own
    OUT/check_assignments.py        runs the visible tests of every assignment
    OUT/lectures/                   the executed lecture notebooks (read-only: mode 444) and their README
    OUT/assignments/<a>/<a>.ipynb   the student versions that `python -m autograder build` made
    OUT/rnncore/                    the reference package and its data
    OUT/autograder/__init__.py, OUT/autograder/testing.py   what the visible tests import
    OUT/.rnncourse-edition          marker: this folder is an edition (a later release may replace it)
    OUT.zip                         the same, in one enclosing folder

No solutions/, no hidden tests, no sample submissions, no gradebook, no git history:
`edition_files` lists every file copied, and tests/test_release.py checks the result.
"""
import os
import re
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path

from . import build, course

MARKER = ".rnncourse-edition"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)          # fixed dates: the same edition gives the same zip

# Student-side extras, the one place to add to the edition: the student mode of JupyterLab (deploy/student-mode/:
# the edition's README opens first, nbgrader's instructor panels are off, Validate tells lectures from assignments).
# EXTRA_FILES: (source path, path in the edition), each checked for secrets by tests/test_release.py;
# EXTRA_SETUP: shell lines the edition's Makefile runs once after installing the environment, in the edition's folder.
STUDENT_MODE = Path("deploy") / "student-mode"
EXTRA_FILES = [(course.REPO / STUDENT_MODE / name, STUDENT_MODE / name)
               for name in ("install.py", "rnncourse_student_mode.py", "README.md")]
# The student mode also hides the edition's machinery from JupyterLab's file browser and writes the kernelspec
# that runs the lectures with the Makefile's pins (install.py's NOTEBOOK_ENV).
HIDDEN = ["autograder", "deploy", "*.egg-info", "build"]
EXTRA_SETUP = [f"$(VENV)/bin/python {STUDENT_MODE}/install.py --prefix $(VENV)"
               + "".join(f" --hide '{name}'" for name in HIDDEN)]
LECTURE_MODE = 0o444     # lectures are read-only: opening, autosave and Validate leave them as released


class ReleaseError(ValueError):
    """The edition cannot be written; the message says why and what to do."""


def edition_files():
    """[(source path, relative path in the edition)] of every file copied from the repository."""
    files = [(p, p.relative_to(course.REPO)) for p in sorted((course.REPO / "lectures").glob("*.ipynb"))]
    for assignment in course.assignment_ids():
        files += [(p, p.relative_to(course.ASSIGNMENTS.parent))
                  for p in sorted((course.ASSIGNMENTS / assignment).glob("*.ipynb"))]
    rnncore = course.REPO / "rnncore"
    files += [(p, p.relative_to(course.REPO)) for p in sorted(rnncore.glob("*.py"))]
    files += [(p, p.relative_to(course.REPO)) for p in sorted((rnncore / "data").glob("*.txt"))]
    files += [(course.REPO / "autograder" / name, Path("autograder") / name) for name in ("__init__.py", "testing.py")]
    files += [(Path(src), Path(dest)) for src, dest in EXTRA_FILES]
    return files


def student_requirements():
    """The pinned packages a student needs: the course's numpy pin and its `course` extra (no test tools)."""
    project = tomllib.loads((course.REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["course"]


def check_out(out):
    """Refuse an OUT (or OUT.zip) that exists and is not an earlier edition; never delete anything else."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and (out / MARKER).is_file()):
        raise ReleaseError(f"{out} exists and is not a student edition (it has no {MARKER} file); "
                           "nothing was changed. Choose a new folder, or remove this one yourself.")
    archive = out.with_name(out.name + ".zip")
    if archive.exists():
        try:
            with zipfile.ZipFile(archive) as zf:
                ours = f"{out.name}/{MARKER}" in zf.namelist()
        except zipfile.BadZipFile:
            ours = False
        if not ours:
            raise ReleaseError(f"{archive} exists and is not a student edition; nothing was changed. "
                               "Choose another OUT, or remove that file yourself.")


def check_assignments_fresh():
    """Refuse to release student versions that are out of date with solutions/ (naming them)."""
    stale = build.build(check=True)
    if stale:
        names = "\n".join(f"  {p}" for p in stale)
        raise ReleaseError("assignments/ is out of date with solutions/; these notebooks differ, are missing "
                           f"or have no source:\n{names}\nRun `python -m autograder build` first, then release again.")


def release(out, calendar=None):
    """Write the student edition to `out` and `out`.zip; returns the path of the zip.

    calendar: a term_calendar.Calendar whose deadlines the README shows (None: no deadlines section)."""
    out = Path(out).resolve()
    check_out(out)
    check_assignments_fresh()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))    # renamed into place when complete
    try:
        partial.chmod(0o755)
        for src, dest in edition_files():
            (partial / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, partial / dest)
        write_generated(partial, calendar)
        for lecture in (partial / "lectures").glob("*.ipynb"):
            lecture.chmod(LECTURE_MODE)
    except BaseException:
        shutil.rmtree(partial)
        raise
    if out.exists():                                  # an earlier edition (check_out made sure)
        shutil.rmtree(out)
    partial.rename(out)
    return write_zip(out)


def write_generated(root, calendar=None):
    """The files made for the edition: README, Makefile, pyproject.toml, the check script, the marker."""
    (root / "lectures" / "README.md").write_text(lectures_readme())
    readme = README.replace("@CONTENTS@", contents())
    if calendar is not None:
        from .term_calendar import deadlines_markdown
        readme += "\n" + deadlines_markdown(calendar)
    (root / "README.md").write_text(readme)
    (root / "Makefile").write_text(MAKEFILE.replace("@EXTRA_SETUP@\n", "".join(f"\t{line}\n" for line in EXTRA_SETUP)))
    (root / "check_assignments.py").write_text(CHECK_SCRIPT)
    pins = "".join(f'    "{pin}",\n' for pin in student_requirements())
    (root / "pyproject.toml").write_text(PYPROJECT.replace("@PINS@", pins))
    (root / MARKER).write_text("student edition of the recurrent neural networks course; "
                               "`python -m autograder release` may replace this folder\n")


def contents():
    """The README's list of lectures and assignments, as Markdown links into the edition."""
    lectures = sorted(p.name for p in (course.REPO / "lectures").glob("*.ipynb"))
    lines = ["Лекции (папка [lectures](lectures/README.md)):", ""]
    lines += [f"- [{name.removesuffix('.ipynb')}](lectures/{name})" for name in lectures]
    lines += ["", "Задания (папка `assignments/`):", ""]
    lines += [f"- [{a}](assignments/{a}/{a}.ipynb)" for a in course.assignment_ids()]
    return "\n".join(lines)


def lectures_readme():
    """lectures/README.md with its last section (how to run them in the course repository) replaced."""
    text = (course.REPO / "lectures" / "README.md").read_text()
    head = re.split(r"^## Running them\s*$", text, flags=re.MULTILINE)[0].rstrip()
    return head + ("\n\n## Running them\n\n`make lab` in the folder above opens JupyterLab (see ../README.md). "
                   "The lectures are stored read-only, so that they stay as released; to experiment, keep a copy: "
                   "File → Save Notebook As….\n")


def write_zip(out):
    """out.zip with every file under one folder named like `out`, in a stable order with fixed dates."""
    archive = out.with_name(out.name + ".zip")
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".zip", dir=out.parent)
    os.close(fd)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{out.name}/{path.relative_to(out).as_posix()}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            lecture = path.parent == out / "lectures" and path.suffix == ".ipynb"
            info.external_attr = (LECTURE_MODE if lecture else 0o644) << 16   # lectures stay read-only when unzipped
            zf.writestr(info, path.read_bytes())
    os.chmod(partial, 0o644)                          # mkstemp made it private
    os.replace(partial, archive)
    return archive


README = """\
# Рекуррентные нейронные сети: материалы для студентов

Лекции и задания открытого курса о рекуррентных нейронных сетях: от одного нейрона до LSTM, GRU,
bidirectional RNN, char-level генерации текста и seq2seq с вниманием (attention). Текст на русском, код и термины —
на английском.

## Две команды

Нужны только `python3` (3.11 или новее) и `make`:

```sh
make lab     # создать окружение .venv (в первый раз, несколько минут) и открыть JupyterLab
make check   # запустить visible tests всех заданий и показать итог по каждому заданию
```

`make lab` ставит в `.venv` закреплённые версии пакетов (numpy, matplotlib, ipywidgets, JupyterLab,
nbgrader) и пакет курса `rnncore`, затем открывает JupyterLab в браузере. Остановить — `Ctrl+C` в терминале.
Эта страница открывается в JupyterLab первой; ссылки ниже открывают лекции и задания.

## Содержание

@CONTENTS@

Папка `rnncore/` — reference-пакет на numpy, который используют лекции: его функции короткие, их стоит читать.

## Лекции

Лекции уже выполнены: выводы и графики сохранены в них. Чтобы запустить лекцию самому, откройте её
и выберите Run → Run All Cells; после этого работают слайдеры. Числа получаются те же, что в тексте:
ядро Python в JupyterLab запускается с теми же настройками numpy и OpenBLAS, с которыми лекции выполнены.

Лекции открыты только для чтения, чтобы всегда оставаться такими, какими их выпустили: автосохранение
их не меняет, а сохранить изменения поверх лекции нельзя. Чтобы поэкспериментировать и сохранить
свои изменения, сохраните копию: File → Save Notebook As… (например, `my_01_neuron_and_layers.ipynb`).

## Как решать задания

1. Откройте `assignments/<задание>/<задание>.ipynb`. В каждой ячейке с `# YOUR CODE HERE` замените
   `raise NotImplementedError()` своим кодом. Не вызывайте функции `rnncore` в решениях: тесты это замечают.
2. Ячейка с тестом после каждой функции — visible test: запустите её и прочитайте сообщение, если она падает.
   Hidden tests проверяют то же на других входах; их запускает преподаватель при оценивании.
3. Перед сдачей: Kernel → Restart Kernel and Run All Cells (или кнопка Validate), затем `make check`.
   Пока функция не написана, её тесты падают с `NotImplementedError`: `make check` так и пишет, это не ошибка.
   Если тест написанной функции не проходит, `make check` называет его и завершается с ошибкой.
4. Не переименовывайте файл, не удаляйте и не меняйте ячейки с тестами: они восстанавливаются при
   оценивании, а переименованный notebook не оценивается.
5. Сдавайте так, как скажет преподаватель: через вкладку Assignments (nbgrader) на JupyterHub курса или
   загрузкой файла `.ipynb` в LMS.
"""

MAKEFILE = """\
# Two commands (see README.md): `make lab` and `make check`.
# The first run creates the virtual environment .venv; nothing else is needed but python3 and make.

PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed-stamp
# Jupyter refuses to run as root unless told; extra options for `jupyter lab` go in LAB_ARGS.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

.PHONY: lab check setup

## Set up (the first time) and open JupyterLab.
lab: $(STAMP)
\t$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(LAB_ARGS)

## Run the visible tests of every assignment (or ASSIGNMENTS="a1_neuron a2_optimizers").
check: $(STAMP)
\t@$(VENV)/bin/python check_assignments.py $(ASSIGNMENTS)

setup: $(STAMP)

$(STAMP): pyproject.toml
\t$(PYTHON) -m venv $(VENV)
\t$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e .
@EXTRA_SETUP@
\tchmod a-w lectures/*.ipynb
\ttouch $(STAMP)
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rnncourse-student"
version = "0.1.0"
description = "Student edition of an open course on recurrent neural networks"
requires-python = ">=3.11"
# The same pins as the course repository: notebook outputs stay byte-stable, Validate works.
dependencies = [
@PINS@]

[tool.setuptools]
packages = ["rnncore", "autograder"]

[tool.setuptools.package-data]
rnncore = ["data/*.txt"]
"""

CHECK_SCRIPT = '''\
\"\"\"Run the visible tests of the assignments and say, per assignment, which pass (in Russian, like the README).

    python check_assignments.py [ASSIGNMENT ...]      # default: every folder of assignments/

Each notebook runs top to bottom in a fresh kernel, like "Restart Kernel and Run All Cells";
a failing cell does not stop the run. The visible tests are the cells nbgrader grades.
Exit status 0 when nothing fails but functions not written yet (NotImplementedError): unfinished
work is not an error. 1 when a test of a written function fails or another cell raises; 2 for an
unknown assignment.
\"\"\"
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ASSIGNMENTS = Path(__file__).resolve().parent / "assignments"
CELL_TIMEOUT = 600                       # seconds; the training cells of a5 take about half a minute


def execute(path):
    \"\"\"The notebook at path, executed in its own folder with errors kept as outputs.\"\"\"
    nb = nbformat.read(str(path), as_version=4)
    # The kernel's own log (not the notebook's output) stays quiet: it warns about plain TCP on every start.
    NotebookClient(nb, timeout=CELL_TIMEOUT, allow_errors=True, extra_arguments=["--log-level=ERROR"],
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def first_error(cell):
    return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)


def summary(nb):
    \"\"\"(passed, not written yet, failed with a message, errors in other cells) of an executed notebook.\"\"\"
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
'''
