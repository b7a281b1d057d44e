"""A synthetic class of 200 students for the tests of running a term (calendar, statistics, export, similarity).

How it is made (so that it is what the real grader writes, without grading 1200 notebooks):
1. `graded_handful` grades a handful of distinct submissions once with the real grader
   (autograder.grade.grade, unsandboxed: the notebooks are the course's own samples): `perfect` (every
   assignment), `untouched` (every assignment, the released notebooks), `partly_wrong`, `raises`,
   `infinite_loop` (a1, from autograder/samples/submissions) and one partly wrong a3 and a4. The result is
   kept under build/test-cache/ (a lock makes parallel test workers wait for one grading), keyed by the
   course's notebooks and the grader's source, so it is graded again only when they change.
2. `make_class` gives each of 200 students a profile (perfect, partial, untouched, late, extended, copied)
   and writes an output folder in the grader's documented formats, every row taken from a real graded
   Result: results/<student>/<assignment>.json (the template's Result under the student's name),
   feedback/, grades.csv (student_id, assignment, score, max_score, a column per test cell), report.json
   (submissions and problems), and gradebook.db: the handful's nbgrader gradebook with each student's
   submission, per-cell scores and submission time added through nbgrader's API. Beside it: the term's
   calendar.toml (due dates, a late policy, the extended students' extensions) and roster.csv.
"""
import csv
import datetime as dt
import fcntl
import hashlib
import json
import os
import random
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course
from autograder.course.samples import HONEST, filled
from autograder.course import Course
from autograder.pipeline import gradebook

COURSE = Course.here()

CACHE = course.REPO / "build" / "test-cache"
MSK = dt.timezone(dt.timedelta(hours=3))
ASSIGNMENTS = COURSE.assignment_ids
# The grader's own files decide what the handful scores; the term modules only read its output.
TERM_MODULES = {"term_calendar.py", "term_data.py", "stats.py", "lms.py", "similarity.py", "cli.py"}
DUE = {a: dt.datetime(2026, 9, 22, 23, 59, tzinfo=MSK) + dt.timedelta(weeks=2 * i) for i, a in enumerate(ASSIGNMENTS)}
CALENDAR = """\
course = "Рекуррентные нейронные сети, осень 2026"
timezone = "Europe/Moscow"
roster = "roster.csv"

[late_policy]
per_day = 10
max_penalty = 50
zero_after_days = 7
grace_minutes = 15
"""

WRONG_A3 = {"rnn_backward": "N, T, H = dh.shape\n"
                            "dx = np.zeros((N, T, cache[0][0].shape[1]))\n"
                            "dWx, dWh, db = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3]), np.zeros(H)\n"
                            "for t in range(T):\n"
                            "    dx[:, t], _, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t], cache[t])   # no carry\n"
                            "    dWx += dWx_t\n    dWh += dWh_t\n    db += db_t\n"
                            "return dx, np.zeros((N, H)), dWx, dWh, db"}
WRONG_A4 = {"gru_step_forward": "raise NotImplementedError('GRU: later')"}


def _handful_submissions(folder):
    """The handful, in nbgrader's layout."""
    for student in ("perfect", "partly_wrong", "raises", "infinite_loop"):
        shutil.copytree(HONEST / student, folder / student)
    for a in ASSIGNMENTS:
        (folder / "untouched" / a).mkdir(parents=True)
        shutil.copy(COURSE.assignments / a / f"{a}.ipynb", folder / "untouched" / a / f"{a}.ipynb")
    for student, a, bodies in (("partial_a3", "a3_rnn_bptt", WRONG_A3), ("partial_a4", "a4_lstm_gru", WRONG_A4)):
        (folder / student / a).mkdir(parents=True)
        nbformat.write(filled(a, dict(bodies)), str(folder / student / a / f"{a}.ipynb"))


def _key():
    """A digest of what the handful's grading depends on: the course's notebooks, the grader, rnncore, the handful."""
    import inspect
    digest = hashlib.sha256()
    paths = [*sorted(COURSE.solutions.glob("*/*.ipynb")), *sorted(COURSE.assignments.glob("*/*.ipynb")),
             *sorted(p for p in (course.REPO / "autograder").glob("*.py") if p.name not in TERM_MODULES),
             *sorted((course.REPO / "rnncore").glob("*.py"))]
    for path in paths:
        digest.update(str(path.relative_to(course.REPO)).encode())
        digest.update(path.read_bytes())
    digest.update(inspect.getsource(_handful_submissions).encode() + repr([WRONG_A3, WRONG_A4]).encode())
    return digest.hexdigest()[:16]


def _class_key(n, seed):
    """A digest of how the class is made from the handful."""
    import inspect
    source = "".join(inspect.getsource(f) for f in (plan_class, make_class, write_calendar)) + CALENDAR
    return hashlib.sha256(f"{n} {seed} {source}".encode()).hexdigest()[:12]


def graded_handful():
    """The grading output folder of the handful (graded once per version of the course and the grader)."""
    from autograder.pipeline.grade import Settings, grade
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"handful-{_key()}"
    with open(CACHE / "handful.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                 # parallel test workers wait for the one that grades
        if not (target / "done").exists():
            for old in CACHE.glob("handful-*"):
                shutil.rmtree(old, ignore_errors=True)
            submissions = target / "submissions"
            _handful_submissions(submissions)
            grade(submissions, Settings(out=target / "out", jobs=2, timeout=10, progress=False, allow_unsandboxed=True))
            (target / "done").write_text("graded\n")
    return target


@dataclass
class Student:
    id: str
    profile: str
    first_name: str
    last_name: str
    email: str
    templates: dict = field(default_factory=dict)        # {assignment: handful student whose Result it gets}
    submitted: dict = field(default_factory=dict)        # {assignment: aware datetime}
    extension_days: dict = field(default_factory=dict)   # {assignment: days}
    copied_from: str = ""


FIRST = ["Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Захар", "Ирина", "Кирилл", "Лидия", "Максим",
         "Нина", "Олег", "Полина", "Роман", "Софья", "Тимур", "Ульяна", "Фёдор"]
LAST = ["Иванова", "Петров", "Сидорова", "Кузнецов", "Смирнова", "Попов", "Волкова", "Соколов", "Лебедева", "Козлов"]


def plan_class(n=200, seed=0):
    """[Student] with profiles: 40% perfect, 35% partial, 5% untouched, 10% late, 5% extended, 5% copied."""
    rng = random.Random(seed)
    profiles = (["perfect"] * 80 + ["partial"] * 70 + ["untouched"] * 10 + ["late"] * 20 + ["extended"] * 10
                + ["copied"] * 10)
    assert len(profiles) == 200
    profiles = (profiles * (n // 200 + 1))[:n]
    rng.shuffle(profiles)
    students = []
    for i, profile in enumerate(profiles):
        sid = f"s{i:03d}"
        s = Student(sid, profile, FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)], f"{sid}@students.example.edu")
        for a in ASSIGNMENTS:
            template = "perfect"
            if profile == "untouched":
                template = "untouched"
            elif profile == "partial":
                template = {"a1_neuron": rng.choice(["partly_wrong", "raises", "infinite_loop"]),
                            "a3_rnn_bptt": rng.choice(["partial_a3", "perfect"]),
                            "a4_lstm_gru": rng.choice(["partial_a4", "perfect"])}.get(a, "perfect")
                if a in ("a5_charlm_birnn", "a6_seq2seq_attention") and rng.random() < 0.3:
                    continue                                          # never handed in
            s.templates[a] = template
            s.submitted[a] = DUE[a] - dt.timedelta(hours=rng.uniform(1, 72))
        if profile == "late":
            for a in rng.sample(ASSIGNMENTS, 2):
                s.submitted[a] = DUE[a] + dt.timedelta(hours=rng.choice([0.1, 5, 30, 60, 200]))
        if profile == "extended":
            a = rng.choice(ASSIGNMENTS)
            s.extension_days[a] = 3
            s.submitted[a] = DUE[a] + dt.timedelta(days=rng.choice([2, 4]))   # within the extension, or a day after
        students.append(s)
    sources = rng.sample([s for s in students if s.profile == "perfect"], 3)   # one per independent solution
    for i, s in enumerate(s for s in students if s.profile == "copied"):
        s.copied_from = sources[i % len(sources)].id
    return students


def write_calendar(folder, students):
    lines = [CALENDAR]
    for i, a in enumerate(ASSIGNMENTS):
        release = DUE[a] - dt.timedelta(days=14, hours=13, minutes=59)
        lines.append(f"[assignments.{a}]\nrelease = {release.isoformat()}\ndue = {DUE[a].isoformat()}\n")
    for s in students:
        for a, days in s.extension_days.items():
            lines.append(f'[[extensions]]\nstudent = "{s.id}"\nassignment = "{a}"\ndays = {days}\n'
                         'reason = "болезнь, справка"\n')
    (folder / "calendar.toml").write_text("\n".join(lines))
    with open(folder / "roster.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for s in students:
            writer.writerow([s.id, s.first_name, s.last_name, s.email])


def synthetic_class(n=200, seed=0):
    """(folder, [Student]) of the synthetic class, made once per version of the handful (under the same lock);
    the folder holds out/, calendar.toml, roster.csv. Tests that change a file copy it first."""
    handful = graded_handful()
    target = handful / f"class-{_class_key(n, seed)}"
    with open(CACHE / "handful.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "done").exists():
            for old in handful.glob("class-*"):
                shutil.rmtree(old, ignore_errors=True)
            make_class(target, n, seed, handful)
            (target / "done").write_text("made\n")
    return target, plan_class(n, seed)


def make_class(folder, n=200, seed=0, handful=None):
    """Write the synthetic class under `folder`: out/ (a grading output folder), calendar.toml, roster.csv.
    Returns the [Student]. A student's Result file is a hard link to its template's (the grader names a
    Result by its path, results/<student>/<assignment>.json); grades.csv, report.json and the gradebook
    have a row of the student's own."""
    from nbgrader.api import Gradebook
    folder = Path(folder)
    handful = (handful or graded_handful()) / "out"
    students = plan_class(n, seed)
    out = folder / "out"
    out.mkdir(parents=True)
    write_calendar(folder, students)
    results = {(p.parent.name, p.stem): json.loads(p.read_text()) for p in handful.glob("results/*/*.json")}
    report = json.loads((handful / "report.json").read_text())
    problems = {}
    for p in report["problems"]:
        problems.setdefault((p["student"], p["assignment"]), []).append(p)

    summary, problem_rows = [], []
    shutil.copy(handful / "gradebook.db", out / "gradebook.db")
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course.COURSE_ID) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in students:
            gb.update_or_create_student(s.id, first_name=s.first_name, last_name=s.last_name, email=s.email)
            for a, template in s.templates.items():
                result = results[(template, a)]
                (out / "results" / s.id).mkdir(parents=True, exist_ok=True)
                os.link(handful / "results" / template / f"{a}.json", out / "results" / s.id / f"{a}.json")
                score = sum(g["score"] for g in result["grades"])
                max_score = sum(g["max_score"] for g in result["grades"])
                found = [dict(p, student=s.id) for p in problems.get((template, a), [])]
                problem_rows += found
                summary.append({"student": s.id, "assignment": a, "score": score, "max_score": max_score,
                                "problems": sorted({p["kind"] for p in found})})
                submission = gb.update_or_create_submission(
                    a, s.id, timestamp=s.submitted[a].astimezone(dt.timezone.utc).replace(tzinfo=None))
                by_cell = {(g["notebook"], g["grade_id"]): g["score"] for g in result["grades"]}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        grade.auto_score = by_cell.get((notebook.name, grade.name), 0.0)
        for template in {"perfect", "untouched", "partly_wrong", "raises", "infinite_loop", "partial_a3", "partial_a4"}:
            gb.remove_student(template) if _has_student(gb, template) else None
        gb.db.commit()
    gradebook.export_csv(f"sqlite:///{out / 'gradebook.db'}", out / "grades.csv", course.COURSE_ID)
    (out / "report.json").write_text(json.dumps({"submissions": summary, "problems": problem_rows}, indent=1,
                                                ensure_ascii=False))
    return students


def _has_student(gb, student):
    from nbgrader.api import MissingEntry
    try:
        gb.find_student(student)
        return True
    except MissingEntry:
        return False


def write_notebooks(folder, students, assignment="a3_rnn_bptt"):
    """The class's notebooks of one assignment in nbgrader's layout, for the similarity check: each student's
    template notebook; a copied student hands in a disguised copy (renamed variables, changed comments,
    statements reordered) of an independent solution that another student (its source) hands in."""
    import similarity_solutions as planted
    from autograder.course.samples import filled
    handful = graded_handful() / "submissions"
    variants = list(planted.INDEPENDENT)
    copies = {}                                          # {source student: the independent solution it hands in}
    for s in students:
        if s.profile == "copied":
            if s.copied_from not in copies:
                copies[s.copied_from] = variants[len(copies)]
            variant = copies[s.copied_from]
            target = Path(folder) / s.id / assignment
            target.mkdir(parents=True)
            how = {"rename", "comments", "reorder"} if variant in planted.RENAMES else {"comments", "reorder"}
            nbformat.write(filled(assignment, planted.disguised(variant, how)), str(target / f"{assignment}.ipynb"))
    for s in students:
        if s.profile == "copied" or assignment not in s.templates:
            continue
        target = Path(folder) / s.id / assignment
        target.mkdir(parents=True)
        if s.id in copies:
            nbformat.write(filled(assignment, dict(planted.INDEPENDENT[copies[s.id]])), str(target / f"{assignment}.ipynb"))
        else:
            shutil.copy(next((handful / s.templates[assignment] / assignment).glob("*.ipynb")),
                        target / f"{assignment}.ipynb")
    return copies
