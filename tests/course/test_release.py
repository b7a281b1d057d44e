"""The student edition holds nothing secret and works on its own; the main wheel ships no secrets either.

`python -m autograder release OUT` is built once per module; the slowest tests install it into a fresh
virtual environment (pip's cache makes that quick) with the edition's own Makefile, run the visible tests
there, start its JupyterLab as a student does, and run the lectures in the student's kernel with nbval,
comparing every output with the stored one.
"""
import ast
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import course
from autograder.course import release
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow                  # runs nbgrader (the freshness check), pip, whole notebooks

REGION = re.compile(r"^[ \t]*### BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*\n(.*?)^[ \t]*### END \1[ \t]*$", re.M | re.S)
MARKERS = ["### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"]


def squash(text):
    """Text without any whitespace: a region is found however it was re-indented or re-wrapped."""
    return re.sub(r"\s+", "", text)


def secret_regions():
    """[(where, kind, squashed body)] of every solution and hidden-test region in solutions/."""
    found = []
    for assignment in COURSE.assignment_ids:
        for path in COURSE.source_notebooks(assignment).values():
            for cell in nbformat.read(str(path), as_version=4).cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
                for match in REGION.finditer(cell.source):
                    found.append((f"{assignment}/{grade_id}", match.group(1), squash(match.group(2))))
    return found


def readable_text(path):
    """The text of a file as a reader sees it: a notebook's strings decoded from JSON, None for binaries."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return None
    if path.suffix == ".ipynb":
        strings = []

        def walk(node):
            if isinstance(node, str):
                strings.append(node)
            elif isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)
        walk(json.loads(text))
        sources = [cell.source for cell in nbformat.reads(text, as_version=4).cells]      # each in one piece
        text = "\n".join([text, *strings, *sources])
    return text


def digests(folder):
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in Path(folder).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student-edition"
    archive = release.release(COURSE, out)
    return out, archive


def edition_files(out):
    return sorted(p for p in out.rglob("*") if p.is_file())


def test_regions_are_found():
    """Does the secret scan see every solution and hidden-test region of the course (not a vacuous check)?"""
    regions = secret_regions()
    kinds = {kind for _, kind, _ in regions}
    assert kinds == {"SOLUTION", "HIDDEN TESTS"}
    assert {where.split("/")[0] for where, _, _ in regions} == set(COURSE.assignment_ids)
    assert all(body for _, _, body in regions), [w for w, _, b in regions if not b]


def test_edition_holds_no_solution_and_no_hidden_test(edition):
    """Is every solution and hidden-test region of solutions/ absent from every text file of the edition?"""
    out, _ = edition
    texts = {p: squash(readable_text(p)) for p in edition_files(out) if readable_text(p) is not None}
    assert len(texts) > 20
    leaks = [f"{where} ({kind}) appears in {p.relative_to(out)}"
             for where, kind, body in secret_regions() for p, text in texts.items() if body in text]
    leaks += [f"{p.relative_to(out)} holds {marker!r}" for p, text in texts.items() for marker in MARKERS
              if squash(marker) in text]
    assert not leaks, "the edition gives answers away:\n" + "\n".join(leaks)


def test_edition_holds_only_what_a_student_needs(edition):
    """No sample submission, no solutions/ file, no gradebook or database, no git; notebooks as released."""
    out, _ = edition
    files = edition_files(out)
    relative = {p.relative_to(out).as_posix() for p in files}
    for path in files:
        assert ".git" not in path.relative_to(out).parts
        assert path.suffix not in (".db", ".sqlite", ".sqlite3"), path
        assert not path.read_bytes().startswith(b"SQLite format 3"), f"{path} is a database"
    secret_files = {**digests(course.SAMPLES), **digests(COURSE.solutions)}
    copied = [f"{p.relative_to(out)} is {secret_files[d].relative_to(course.REPO)}"
              for d, p in digests(out).items() if d in secret_files]
    assert not copied, copied
    notebooks = {r for r in relative if r.endswith(".ipynb")}
    expected = {f"lectures/{p.name}" for p in (course.REPO / "lectures").glob("*.ipynb")}
    expected |= {f"assignments/{a}/{p.name}" for a in COURSE.assignment_ids
                 for p in (COURSE.assignments / a).glob("*.ipynb")}
    assert notebooks == expected
    for name in expected:
        assert (out / name).read_bytes() == (course.REPO / name).read_bytes(), f"{name} differs from the repository"
    modes = {p.name: p.stat().st_mode & 0o777 for p in (out / "lectures").glob("*.ipynb")}
    assert modes and set(modes.values()) == {release.LECTURE_MODE}, modes      # read-only: autosave cannot touch them
    assert {r for r in relative if r.startswith("autograder/")} == {"autograder/__init__.py", "autograder/testing.py"}
    assert {"README.md", "Makefile", "pyproject.toml", "check_assignments.py", "rnncore/__init__.py",
            "lectures/README.md", release.MARKER} <= relative


def test_edition_pins_what_a_student_needs_and_no_test_tools(edition):
    """Are the edition's dependencies the course's own pins, with nbgrader and without torch, pytest or nbval?"""
    import tomllib
    out, _ = edition
    edition_pins = tomllib.loads((out / "pyproject.toml").read_text())["project"]["dependencies"]
    main = tomllib.loads((course.REPO / "pyproject.toml").read_text())["project"]
    main_pins = main["dependencies"] + main["optional-dependencies"]["course"]
    assert set(edition_pins) <= set(main_pins)
    names = {re.split(r"[=<>]", pin)[0] for pin in edition_pins}
    assert {"numpy", "matplotlib", "ipywidgets", "tqdm", "ipykernel", "jupyterlab", "nbgrader"} <= names
    assert not names & {"torch", "pytest", "pytest-xdist", "nbval"}


def test_zip_holds_the_same_files(edition):
    """Does OUT.zip hold exactly the edition's files, under one folder named like OUT?"""
    out, archive = edition
    assert archive == out.with_name(out.name + ".zip")
    with zipfile.ZipFile(archive) as zf:
        inside = {name: zf.read(name) for name in zf.namelist()}
    assert inside == {f"{out.name}/{p.relative_to(out).as_posix()}": p.read_bytes() for p in edition_files(out)}
    with zipfile.ZipFile(archive) as zf:
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
    assert {m for n, m in modes.items() if "/lectures/" in n and n.endswith(".ipynb")} == {release.LECTURE_MODE}
    assert {m for n, m in modes.items() if not n.endswith(".ipynb") or "/lectures/" not in n} == {0o644}


def test_readme_links_every_lecture_and_assignment(edition):
    """Does the README (the page JupyterLab opens first) link each lecture and assignment, and does each link resolve?"""
    out, _ = edition
    links = re.findall(r"\]\(([^)]+)\)", (out / "README.md").read_text())
    assert {f"lectures/{p.name}" for p in (out / "lectures").glob("*.ipynb")} <= set(links)
    assert {f"assignments/{a}/{a}.ipynb" for a in COURSE.assignment_ids} <= set(links)
    assert all((out / link).is_file() for link in links), [link for link in links if not (out / link).is_file()]


def test_release_replaces_an_earlier_edition_and_refuses_anything_else(edition, tmp_path):
    """Is an existing folder or zip that is not an edition refused and left alone (an edition may be replaced)?"""
    out, _ = edition
    release.check_out(out)                                     # an earlier edition: accepted
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(release.ReleaseError, match="exists and is not a student edition"):
        release.release(COURSE, precious)
    assert (precious / "chapter1.tex").read_text() == "years of work"
    (tmp_path / "notes.zip").write_bytes(b"not a zip")
    with pytest.raises(release.ReleaseError, match=r"notes\.zip exists and is not a student edition"):
        release.check_out(tmp_path / "notes")
    result = subprocess.run([sys.executable, "-m", "autograder", "release", str(precious)],
                            capture_output=True, text=True, cwd=course.REPO)
    assert result.returncode == 2 and "is not a student edition" in result.stderr
    assert sorted(p.name for p in precious.iterdir()) == ["chapter1.tex"]


def test_release_refuses_stale_assignments_and_names_them(tmp_path):
    """With a student notebook out of date with its source, does release refuse and name that notebook?"""
    solutions, assignments = tmp_path / "solutions", tmp_path / "assignments"
    shutil.copytree(COURSE.solutions / "a1_neuron", solutions / "a1_neuron")
    shutil.copytree(COURSE.assignments / "a1_neuron", assignments / "a1_neuron")
    stale = assignments / "a1_neuron" / "a1_neuron.ipynb"
    nb = nbformat.read(str(stale), as_version=4)
    nb.cells[0].source += "\nan edit made by hand"
    nbformat.write(nb, str(stale))
    with pytest.raises(release.ReleaseError, match="out of date") as error:   # a course of one assignment: quick
        release.release(Course(tmp_path), tmp_path / "edition")
    assert str(stale) in str(error.value) and "python -m autograder build" in str(error.value)
    assert not (tmp_path / "edition").exists()


def notebook_env():
    """The Makefile's NOTEBOOK_ENV, read from the Makefile: {variable: value}."""
    text = (course.REPO / "Makefile").read_text().replace("\\\n", " ")
    line = re.search(r"^NOTEBOOK_ENV\s*:=\s*(.*)$", text, re.M).group(1)
    return {key: value.strip('"') for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def _clean_env():
    """The environment of a student's shell: no variables that point Python at this repository's .venv, and
    none of the Makefile's pins for the lectures (`make test` exports them): the edition must set them itself."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "MPLBACKEND", *notebook_env()}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["PIP_NO_COMPILE"] = "1"                                # quicker install; Python compiles on first import
    return env


@pytest.fixture(scope="module")
def installed(edition, tmp_path_factory):
    """The edition unpacked from its zip and set up by its own Makefile in a new virtual environment;
    returns (edition folder, venv, output of `make check`)."""
    _, archive = edition
    tmp_path = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    student, venv = tmp_path / archive.stem, tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    check = subprocess.run(["make", "-C", str(student), "check", f"VENV={venv}", f"PYTHON={base_python}"],
                           capture_output=True, text=True, env=_clean_env(), timeout=1800)
    assert (venv / ".installed-stamp").exists(), check.stdout[-3000:] + check.stderr[-3000:]
    return student, venv, check


def test_untouched_assignments_fail_only_with_not_implemented_in_a_fresh_environment(installed):
    """Installed from the zip into a new venv: does `make check` run every assignment and say in Russian, per
    assignment, that each visible test is not written yet, with no other error, no kernel warning, and no
    failure of make (unfinished work is not an error)?"""
    _, venv, check = installed
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    for assignment in COURSE.assignment_ids:
        nb = nbformat.read(str(COURSE.assignments / assignment / f"{assignment}.ipynb"), as_version=4)
        tests = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert f"{assignment}: проходят 0 из {len(tests)} видимых тестов" in check.stdout, check.stdout
        line = f"  ещё не написаны (NotImplementedError), тестов: {len(tests)}: {', '.join(tests)}"
        assert line in check.stdout.splitlines(), check.stdout
    assert "НЕ ПРОХОДИТ" not in check.stdout and "ОШИБКА" not in check.stdout, check.stdout
    assert "Итог: ошибок нет, но работа не закончена" in check.stdout, check.stdout
    setup_and_check = check.stdout.split("a1_neuron: выполняется", 1)[1] + check.stderr
    assert "Kernel is running over TCP" not in setup_and_check and "make: ***" not in setup_and_check, setup_and_check
    no_torch = subprocess.run([str(venv / "bin" / "python"), "-c", "import rnncore, torch"], capture_output=True,
                              text=True, env=_clean_env())
    assert "No module named 'torch'" in no_torch.stderr           # the student environment has no PyTorch


def test_the_edition_opens_jupyterlab_in_the_student_mode(installed):
    """After the edition's own set-up, does JupyterLab open on the README with nbgrader's instructor panels off?"""
    _, venv, _ = installed
    config = venv / "etc" / "jupyter"
    server = json.loads((config / "jupyter_server_config.d" / "rnncourse-student-mode.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False and extensions["rnncourse_student_mode"] is True
    assert json.loads((config / "jupyter_lab_config.json").read_text())["LabApp"]["default_url"] == "/lab/tree/README.md"
    spec = json.loads((venv / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["env"] == notebook_env() and spec["argv"][0] == str(venv / "bin" / "python"), spec
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import rnncourse_student_mode"], capture_output=True,
                           text=True, env=_clean_env(), cwd=venv)
    assert found.returncode == 0, found.stderr[-2000:]


def lecture_imports():
    """Every `import` and `from ... import` statement of the lectures' code cells (IPython magics left out)."""
    statements = set()
    for path in sorted((course.REPO / "lectures").glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    statements.add(ast.unparse(node))
    return sorted(statements)


def test_lectures_find_what_they_import_in_a_fresh_environment(installed):
    """Does the student environment provide every module and name the lectures import, and the bundled corpus?"""
    _, venv, _ = installed
    statements = lecture_imports()
    assert any("rnncore" in s for s in statements) and any("matplotlib" in s for s in statements), statements
    data = sorted(p.name for p in (course.REPO / "rnncore" / "data").iterdir() if p.is_file())
    code = "\n".join(statements + ["import importlib.resources",
                                    f"for name in {data!r}:",
                                    "    assert (importlib.resources.files('rnncore') / 'data' / name).is_file(), name"])
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          env=_clean_env(), cwd=venv)
    assert done.returncode == 0, done.stderr[-3000:]


def test_jupyterlab_of_the_edition_keeps_lectures_read_only_and_hides_its_machinery(installed, tmp_path):
    """`make lab` as a student runs it (as root too, where Jupyter refuses without --allow-root): does the server
    hide autograder/, deploy/ and the egg-info, report a lecture as not writable and refuse to overwrite it
    (saying how to keep a copy), and offer the kernel with the Makefile's pins?"""
    student, venv, _ = installed
    port, token = free_port(), "edition-token"
    env = _clean_env()
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                 "JUPYTERLAB_WORKSPACES_DIR"):
        env[name] = str(tmp_path / name.lower())
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        lab = subprocess.Popen(["make", "-C", str(student), "lab", f"VENV={venv}", f"LAB_ARGS={args}"], env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/status", token, lab, log)
        top = {item["name"] for item in api(base, token, "/api/contents/")["content"]}
        assert {"README.md", "lectures", "assignments", "rnncore"} <= top, top
        assert not {name for name in top if name in ("autograder", "deploy", "build") or name.endswith(".egg-info")}, top
        lecture = sorted((student / "lectures").glob("*.ipynb"))[0]
        before = lecture.read_bytes()
        model = api(base, token, f"/api/contents/lectures/{lecture.name}")
        assert model["writable"] is False
        status, answer = api_status(base, token, f"/api/contents/lectures/{lecture.name}", "PUT",
                                    {"type": "notebook", "format": "json", "content": model["content"]})
        assert status == 403 and "только для чтения" in answer["message"] and "Save Notebook As" in answer["message"]
        assert lecture.read_bytes() == before
        spec = api(base, token, "/api/kernelspecs")["kernelspecs"]["python3"]["spec"]
        assert spec["env"] == notebook_env(), spec
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(30)
    assert "Running as root is not recommended" not in log.read_text()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_status(base, token, path, method="GET", body=None):
    """(HTTP status, decoded JSON answer) of a call to the Jupyter server's REST API."""
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def api(base, token, path):
    status, answer = api_status(base, token, path)
    assert status == 200, (path, status, answer)
    return answer


def wait_for(url, token, process, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make lab exited with {process.returncode}: {log.read_text()[-3000:]}"
        try:
            if api_status(url.split("/api/")[0], token, "/api/" + url.split("/api/")[1])[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {log.read_text()[-3000:]}")


def test_lectures_give_their_stored_outputs_in_the_student_kernel(installed, tmp_path):
    """nbval, with the repository's sanitizers, runs every lecture of the edition in the student's own kernel (the
    kernelspec the edition installed, with the Makefile's pins, none set by this test): do all outputs match the
    stored ones?"""
    student, venv, _ = installed
    env = _clean_env()
    env.update(JUPYTER_PATH=str(venv / "share" / "jupyter"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    lectures = sorted(str(p.relative_to(student)) for p in (student / "lectures").glob("*.ipynb"))
    assert len(lectures) == len(list((course.REPO / "lectures").glob("*.ipynb")))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                          "--nbval-sanitize-with", str(course.REPO / "lectures" / "sanitize.cfg"), *lectures],
                         capture_output=True, text=True, env=env, cwd=student, timeout=3600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout, run.stdout[-2000:]


def test_main_wheel_ships_no_sample_submission_and_no_solution(tmp_path):
    """Does the wheel of the course package hold rnncore and the grader, but no samples, notebooks or solutions?"""
    src = tmp_path / "src"                              # a copy: building in place would write build/ here
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(course.REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("rnncore", "autograder", "solutions", "assignments"):
        shutil.copytree(course.REPO / folder, src / folder, ignore=ignore)
    assert (src / "autograder" / "samples" / "hostile" / "fork_bomb").is_dir()
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"), str(src)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        contents = {hashlib.sha256(zf.read(n)).hexdigest(): n for n in names}
    assert "autograder/pipeline/grade.py" in names and "rnncore/lstm.py" in names and "rnncore/data/onegin.txt" in names
    assert not [n for n in names if "samples/" in n or n.endswith(".ipynb") or "fork_bomb" in n], names
    secret = {**digests(course.SAMPLES), **digests(COURSE.solutions)}
    assert not [n for d, n in contents.items() if d in secret]
