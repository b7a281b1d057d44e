"""A grading run that always finishes: one student's input is that student's problem, faults are reported.

One run grades an honest bystander beside a submission of every class of input that once stopped a
whole run (metadata of the wrong type, expressions too deep to compile, a timestamp that is not a
time, archives with an empty member name, corrupt deflate, LZMA and gzip data, names that collide).
Then the machine's faults: a read-only output folder, a full disk, a locked or damaged gradebook,
a damaged cache, Ctrl-C and kill -9 at random points: each is one `error:` line (exit 2), an
interrupted run's message (exit 130), or a plain re-run that ends where an uninterrupted run ends.
"""
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from autograder.intake import collect
from autograder.course.samples import HONEST, filled, solution_cell
from grading_helpers import grades_by_submission, problem_kinds, require_sandbox, run_grading

pytestmark = pytest.mark.slow
A1 = "a1_neuron"


def _write(folder, student, nb, name=f"{A1}.ipynb"):
    path = folder / student / A1 / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb, version=4))
    return path


def _with_metadata(grade_id, change):
    nb = filled(A1)
    change(solution_cell(nb, grade_id).metadata)
    return nb


def _with_cell(code):
    nb = filled(A1)
    nb.cells.insert(3, nbformat.v4.new_code_cell(code, id="added-cell"))
    return nb


def _zip_member_corrupted(compression):
    """A zip whose one member's compressed bytes are damaged (its CRC no longer matches)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        zf.writestr(f"{A1}.ipynb", random.Random(0).randbytes(20_000).hex())
    data = bytearray(buffer.getvalue())
    for k in range(100, 160):                                 # past the local header, inside the compressed bytes
        data[k] ^= 0xFF
    return bytes(data)


def _corrupt_tar_gz():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        payload = nbformat.writes(filled(A1), version=4).encode()
        info = tarfile.TarInfo(f"{A1}.ipynb")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    data = bytearray(buffer.getvalue())
    data[-6] ^= 0xFF                                         # inside the gzip trailer's CRC-32
    return bytes(data)


def hostile_inputs(folder):
    """{student: what is wrong with the input}; every one of them next to an honest bystander."""
    _write(folder, "bystander", filled(A1))
    cases = {
        "metadata_not_a_dict": _with_metadata("sigmoid", lambda m: m.__setitem__("nbgrader", "not a dict")),
        "grade_id_a_list": _with_metadata("tanh", lambda m: m["nbgrader"].__setitem__("grade_id", ["tanh"])),
        "test_without_points": _with_metadata("test_sigmoid", lambda m: m["nbgrader"].pop("points")),
        "test_with_text_points": _with_metadata("test_tanh", lambda m: m["nbgrader"].__setitem__("points", "ten")),
        "long_expression": _with_cell("x = " + " + ".join(["1"] * 200_000)),
        "deep_unary_minus": _with_cell("x = " + "-" * 100_000 + "1"),
    }
    for student, nb in cases.items():
        _write(folder, student, nb)
    _write(folder, "bad_timestamp", filled(A1))
    (folder / "bad_timestamp" / A1 / "timestamp.txt").write_text("the day after the deadline")
    archives = folder / "archives" / A1
    _write(folder, "archives", filled(A1))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), "an empty member name")
        zf.writestr("readme.txt", "ok")
    (archives / "empty_name.zip").write_bytes(buffer.getvalue())
    (archives / "bad_deflate.zip").write_bytes(_zip_member_corrupted(zipfile.ZIP_DEFLATED))
    (archives / "bad_lzma.zip").write_bytes(_zip_member_corrupted(zipfile.ZIP_LZMA))
    (archives / "bad_crc.tar.gz").write_bytes(_corrupt_tar_gz())
    # identities that must never merge
    _write(folder, "bob smith", filled(A1))
    _write(folder, collect.student_id("bob smith"), filled(A1, {"sigmoid": "raise NotImplementedError()"}))
    return sorted(cases) + ["bad_timestamp", "archives"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    require_sandbox(tmp_path_factory.mktemp("probe"))
    folder = tmp_path_factory.mktemp("hostile_inputs")
    students = hostile_inputs(folder)
    out = tmp_path_factory.mktemp("graded")
    summary = run_grading(folder, out, jobs=2, timeout=20)
    return out, summary, students


def test_every_student_is_graded_whatever_the_others_sent(graded):
    """Is there a row for every input, and does the bystander keep exactly 100?"""
    out, summary, students = graded
    rows = grades_by_submission(out)
    assert {s for s, _ in rows} >= set(students) | {"bystander"}
    assert rows[("bystander", A1)]["score"] == 100.0 and problem_kinds(out, "bystander", A1) == set()


@pytest.mark.parametrize("student, kind", [
    ("metadata_not_a_dict", "deleted-solution-cell"), ("grade_id_a_list", "deleted-solution-cell"),
    ("test_without_points", "edited-test-cell"), ("test_with_text_points", "edited-test-cell"),
    ("long_expression", "syntax-error"), ("deep_unary_minus", "syntax-error"), ("bad_timestamp", "bad-timestamp"),
])
def test_each_bad_input_is_its_own_problem(graded, student, kind):
    """Is each class reported on its own submission, which is graded (no grader error)?"""
    out, _, _ = graded
    kinds = problem_kinds(out, student, A1)
    assert kind in kinds and "grader-error" not in kinds, kinds


def test_broken_archives_are_reported_and_the_rest_is_graded(graded):
    """Are an empty member name and corrupt deflate, LZMA and gzip data each reported, the notebook graded?"""
    out, _, _ = graded
    report = json.loads((Path(out) / "report.json").read_text())
    details = [p["detail"] for p in report["problems"] if p["kind"] in ("unsafe-file", "unmatched-file")]
    for archive in ("empty_name.zip", "bad_deflate.zip", "bad_lzma.zip", "bad_crc.tar.gz"):
        assert any(archive in d for d in details), (archive, details)
    assert any("bad_crc.tar.gz" in d and "cannot be unpacked" in d for d in details)
    assert grades_by_submission(out)[("archives", A1)]["score"] == 100.0


def test_two_inputs_never_become_one_student(graded):
    """Do `bob smith` and a folder named like its safe id stay two students with their own grades?"""
    out, _, _ = graded
    rows = grades_by_submission(out)
    smith = [(s, row["score"]) for (s, _), row in rows.items() if s.startswith("bob")]
    assert len(smith) == 2 and dict(smith)[collect.student_id("bob smith")] == 100.0, smith
    assert min(score for _, score in smith) < 100.0, smith                 # the other one's own (wrong) sigmoid


def test_names_that_differ_only_in_bytes_that_are_not_utf8_stay_apart(tmp_path):
    """Do two folder names that differ only in undecodable bytes give two students?"""
    for raw in (b"caf\xe9", b"caf\xe8"):
        path = Path(os.fsdecode(bytes(tmp_path / "in") + b"/" + raw)) / A1
        path.mkdir(parents=True)
        shutil.copyfile(HONEST / "perfect" / A1 / f"{A1}.ipynb", path / f"{A1}.ipynb")
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert len(found) == 2 and len({s for s, _ in found}) == 2
    assert sum(p.kind == "renamed-student" for _, _, p in problems) == 2


def test_reports_are_bounded(tmp_path):
    """Does a cell with 50,000 suspicious lines give a bounded number of problems and a small report?"""
    require_sandbox(tmp_path / "probe")
    nb = _with_cell("\n".join("exec('1')" for _ in range(50_000)))
    _write(tmp_path / "in", "flagger", nb)
    summary = run_grading(tmp_path / "in", tmp_path / "out", jobs=1, timeout=20)
    flags = [p for p in summary["problems"] if p["kind"] == "suspected-cheating"]
    assert 0 < len(flags) <= 21 and any("more" in p["detail"] for p in flags)
    assert (tmp_path / "out" / "report.json").stat().st_size < 100_000


# --- faults of the machine -------------------------------------------------------------------------------------
def grade_cli(submissions, out, *extra, timeout=900):
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--jobs", "2",
                           "--quiet", "--timeout", "20", *extra], capture_output=True, text=True, timeout=timeout)


def small_class(folder, students=("perfect", "partly_wrong", "raises", "warns", "untouched")):
    for student in students:
        shutil.copytree(HONEST / student / A1, folder / student / A1)
    return folder


@contextmanager
def mounted_tmpfs(path, options):
    """A tmpfs of our own at `path` (as root), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _one_error_line(run):
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr[-2000:]
    return lines[0]


def test_a_read_only_output_folder_is_one_error(tmp_path):
    """Is an --out on a read-only file system refused in one line that says so?"""
    require_sandbox(tmp_path / "probe")
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m"):
        line = _one_error_line(grade_cli(small_class(tmp_path / "in", ("perfect",)), tmp_path / "ro" / "out"))
    assert "cannot write" in line or "Read-only" in line, line


def test_a_full_disk_is_one_error_and_a_rerun_finishes(tmp_path):
    """When the disk fills mid-run, does the run stop with one line that says what is saved, and does a re-run
    on a disk with room finish with everybody graded?"""
    require_sandbox(tmp_path / "probe")
    submissions = small_class(tmp_path / "in")
    with mounted_tmpfs(tmp_path / "small", "size=3m"):
        out = tmp_path / "small" / "out"
        line = _one_error_line(grade_cli(submissions, out))
        assert "disk is full" in line and "run the same command again" in line, line
        subprocess.run(["mount", "-o", "remount,size=400m", str(tmp_path / "small")], check=True)
        run = grade_cli(submissions, out)
        assert run.returncode == 0, run.stderr[-2000:]
        assert len(grades_by_submission(out)) == 5


def test_a_locked_gradebook_is_one_error(tmp_path):
    """With another program holding the gradebook locked, is the run one error line that says so?"""
    require_sandbox(tmp_path / "probe")
    submissions = small_class(tmp_path / "in", ("perfect",))
    assert grade_cli(submissions, tmp_path / "out").returncode == 0
    shutil.copytree(HONEST / "raises" / A1, submissions / "raises" / A1)
    lock = sqlite3.connect(tmp_path / "out" / "gradebook.db", timeout=1)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        line = _one_error_line(grade_cli(submissions, tmp_path / "out"))
    finally:
        lock.rollback()
        lock.close()
    assert "locked" in line and "upgrade" not in line, line


def test_a_damaged_gradebook_at_the_default_place_is_one_error(tmp_path):
    """Is a gradebook.db that is not a database refused before grading, in one line?"""
    require_sandbox(tmp_path / "probe")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "gradebook.db").write_bytes(b"not a database" * 100)
    line = _one_error_line(grade_cli(small_class(tmp_path / "in", ("perfect",)), tmp_path / "out"))
    assert "gradebook" in line and "move it away" in line, line


def test_damaged_cache_files_are_rebuilt_not_trusted(tmp_path):
    """A half-written template gradebook and result file (a kill or a full disk while they were written):
    does the next run rebuild them and grade as if they had never existed?"""
    require_sandbox(tmp_path / "probe")
    submissions = small_class(tmp_path / "in", ("perfect", "partly_wrong"))
    run_grading(submissions, tmp_path / "out", jobs=2)
    before = (tmp_path / "out" / "grades.csv").read_text()
    template = next((tmp_path / "out" / "cache").glob("template-*.db"))
    template.write_bytes(template.read_bytes()[:4096])
    result = tmp_path / "out" / "results" / "perfect" / f"{A1}.json"
    result.write_text(result.read_text()[:100])
    summary = run_grading(submissions, tmp_path / "out", jobs=2)
    assert summary["graded_now"] == 1                        # the damaged result only
    assert (tmp_path / "out" / "grades.csv").read_text() == before
    assert sqlite3.connect(template).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _running_kernels(out):
    """Processes whose command line names this run's folder (the server, workers, kernels)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(out) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def _wait_for_results(out, n, timeout=300):
    end = time.time() + timeout
    while time.time() < end and len(list(Path(out).glob("results/*/*.json"))) < n:
        time.sleep(0.2)


def test_ctrl_c_stops_everything_records_what_finished_and_says_how_to_resume(tmp_path):
    """Does Ctrl-C end the run within seconds (exit 130, no traceback), with the finished results kept, no grading
    process left behind, and a re-run that grades only the rest?"""
    require_sandbox(tmp_path / "probe")
    submissions = small_class(tmp_path / "in")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                                "--jobs", "1", "--quiet", "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_results(out, 1)
    process.send_signal(signal.SIGINT)
    started = time.time()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and time.time() - started < 30, stderr[-2000:]
    assert "Traceback" not in stderr and "run the same command again" in stderr, stderr[-2000:]
    time.sleep(1)
    assert _running_kernels(out) == []
    done = len(list(out.glob("results/*/*.json")))
    assert 1 <= done < 5
    summary = run_grading(submissions, out, jobs=2)
    assert summary["graded_now"] == 5 - done


def test_a_run_killed_at_random_points_ends_where_an_uninterrupted_run_ends(tmp_path):
    """kill -9 at random moments, then a plain re-run: is grades.csv the one an uninterrupted run writes?"""
    require_sandbox(tmp_path / "probe")
    submissions = small_class(tmp_path / "in")
    reference = tmp_path / "reference"
    run_grading(submissions, reference, jobs=2)
    out = tmp_path / "out"
    rng = random.Random(20261206)
    for delay in sorted(rng.uniform(2, 25) for _ in range(3)):
        process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                                    "--jobs", "2", "--quiet", "--timeout", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.kill()
        process.wait()
    run_grading(submissions, out, jobs=2)
    assert (out / "grades.csv").read_text() == (reference / "grades.csv").read_text()
    assert _running_kernels(out) == []
