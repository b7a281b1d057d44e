"""Bringing folders, zips and LMS downloads into nbgrader's layout."""
import shutil
import zipfile

from autograder import course
from autograder.intake import collect
from autograder.course import Course

COURSE = Course.here()

ASSIGNMENT = COURSE.assignment_ids[0]
RELEASE = COURSE.assignments / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _layout(root, students):
    for s in students:
        (root / s / ASSIGNMENT).mkdir(parents=True)
        shutil.copyfile(RELEASE, root / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


def test_folder_in_nbgrader_layout(tmp_path):
    """Is a <student>/<assignment>/<notebook> folder staged as it is?"""
    _layout(tmp_path / "in", ["alice", "bob"])
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert sorted(found) == [("alice", ASSIGNMENT), ("bob", ASSIGNMENT)] and problems == []
    assert (tmp_path / "staging" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


def test_zip_with_an_enclosing_folder(tmp_path):
    """Is a zip of the layout (inside one top folder) understood?"""
    _layout(tmp_path / "in" / "submitted", ["carol"])
    archive = shutil.make_archive(str(tmp_path / "subs"), "zip", tmp_path / "in")
    found, _ = collect.collect(archive, tmp_path / "staging")
    assert list(found) == [("carol", ASSIGNMENT)]


def test_lms_download_with_nested_archives(tmp_path):
    """Does an LMS zip (nbgrader zip_collect file names, one nested zip) yield one submission per student?"""
    lms = tmp_path / "lms.zip"
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(RELEASE, f"{ASSIGNMENT}_dave_attempt_2026-11-20-10-00-00_{ASSIGNMENT}.ipynb")
    with zipfile.ZipFile(lms, "w") as zf:
        zf.write(RELEASE, f"{ASSIGNMENT}_erin_attempt_2026-11-21-09-30-00_{ASSIGNMENT}.ipynb")
        zf.write(inner, "dave.zip")
        zf.writestr("readme.txt", "not a submission")
    found, problems = collect.collect(lms, tmp_path / "staging")
    assert sorted(found) == [("dave", ASSIGNMENT), ("erin", ASSIGNMENT)]
    assert [p.kind for _, _, p in problems] == ["unmatched-file"]


def test_unknown_assignment_and_unsafe_zip_are_reported(tmp_path):
    """Is a folder for a non-existent assignment reported, and a zip escaping its folder refused (not raised)?"""
    _layout(tmp_path / "in", ["frank"])
    (tmp_path / "in" / "frank" / "a9_unknown").mkdir()
    shutil.copyfile(RELEASE, tmp_path / "in" / "frank" / "a9_unknown" / "x.ipynb")
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert ("frank", ASSIGNMENT) in found
    assert [(s, a, p.kind) for s, a, p in problems] == [("frank", "a9_unknown", "unknown-assignment")]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.ipynb", "{}")
    found, problems = collect.collect(evil, tmp_path / "staging2")
    assert found == {} and [p.kind for _, _, p in problems] == ["unsafe-file"]
    assert not (tmp_path / "escape.ipynb").exists()


def test_archive_bombs_links_and_escapes_are_refused_per_archive(tmp_path, monkeypatch):
    """Are a zip bomb, a symlink, a `../` member and a fake zip each refused alone, the rest unpacked?"""
    from autograder.intake import unpack
    monkeypatch.setattr(unpack, "MAX_TOTAL_BYTES", 2 ** 20)               # a small limit keeps the bomb small
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(4):
            zf.writestr(f"zeros{k}.bin", b"\0" * 2 ** 20)                  # 4 MB from a few KB
    outer = tmp_path / "lms.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(bomb, "eve.zip")
        zf.writestr("../../escape.ipynb", "{}")
        link = zipfile.ZipInfo("link.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/shadow")
        zf.writestr("fake.zip", "not an archive")
        zf.writestr("a1_neuron_" + "я" * 200 + "\x1b[2J.ipynb", "{}")     # long, non-ASCII, control characters
    files, problems = unpack.unpack(outer, tmp_path / "out")
    assert [f.name for f in files] == ["lms.zip/a1_neuron_" + "я" * 200 + "\x1b[2J.ipynb"]
    assert all(len(f.path.name) < 20 for f in files)                      # stored under a short generated name
    reasons = dict(problems)
    assert "archive bomb" in reasons["lms.zip/eve.zip"]
    assert "outside the archive" in reasons["lms.zip/../../escape.ipynb"]
    assert "symbolic link" in reasons["lms.zip/link.ipynb"]
    assert "not a zip or tar archive" in reasons["lms.zip/fake.zip"]
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written < 2 ** 20


def test_student_ids_that_look_alike_stay_apart(tmp_path):
    """Do `bob smith`, `bob_smith`, `_carol_`, `carol` and two emoji names give six different students?"""
    names = ["bob smith", "bob_smith", "_carol_", "carol", "\U0001F600", "\U0001F601"]
    _layout(tmp_path / "in", names)
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert len(found) == 6
    assert ("carol", ASSIGNMENT) in found                        # a safe id stays as it is
    renamed = [p.detail for _, _, p in problems if p.kind == "renamed-student"]
    assert len(renamed) == 4 and all("is graded as" in d for d in renamed)


def test_an_lms_file_name_cannot_claim_another_students_id(tmp_path):
    """Does `..._mallory_attempt_..._x_victim_attempt_..._a1_neuron.ipynb` count for mallory, never for the victim?"""
    lms = tmp_path / "lms.zip"
    with zipfile.ZipFile(lms, "w") as zf:
        zf.write(RELEASE, f"{ASSIGNMENT}_victim_attempt_2026-11-20-10-00-00_{ASSIGNMENT}.ipynb")
        zf.writestr(f"{ASSIGNMENT}_mallory_attempt_2026-11-21-10-00-00_x_victim_attempt_2026-11-22-10-00-00_{ASSIGNMENT}.ipynb",
                    "{}")
        zf.writestr(f"{ASSIGNMENT}_bob_smith_attempt_2026-11-21-10-00-00_{ASSIGNMENT}.ipynb", "{}")
    found, problems = collect.collect(lms, tmp_path / "staging")
    assert list(found) == [("victim", ASSIGNMENT)]
    assert (tmp_path / "staging" / "victim" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == RELEASE.read_bytes()
    kinds = sorted((s, p.kind) for s, _, p in problems)
    assert kinds == [("mallory", "unknown-assignment"), ("unknown", "unmatched-file")]


def test_two_attempts_are_both_reported_and_the_latest_is_graded(tmp_path):
    """With two uploads of one notebook, is the later one graded and both named in the report?"""
    lms = tmp_path / "lms.zip"
    with zipfile.ZipFile(lms, "w") as zf:
        zf.writestr(f"{ASSIGNMENT}_dave_attempt_2026-11-21-10-00-00_{ASSIGNMENT}.ipynb", "late")
        zf.writestr(f"{ASSIGNMENT}_dave_attempt_2026-11-20-10-00-00_{ASSIGNMENT}.ipynb", "early")
    found, problems = collect.collect(lms, tmp_path / "staging")
    assert found[("dave", ASSIGNMENT)][0].read_text() == "late"
    [(student, _, problem)] = problems
    assert problem.kind == "duplicate-submission" and "2026-11-20" in problem.detail and "2026-11-21" in problem.detail


def test_symlinks_in_a_folder_are_refused(tmp_path):
    """Is a notebook that is a symlink into solutions/ refused instead of graded?"""
    _layout(tmp_path / "in", ["alice"])
    (tmp_path / "in" / "mallory" / ASSIGNMENT).mkdir(parents=True)
    (tmp_path / "in" / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").symlink_to(
        COURSE.solutions / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert list(found) == [("alice", ASSIGNMENT)]
    assert [p.kind for _, _, p in problems] == ["unsafe-file"]
