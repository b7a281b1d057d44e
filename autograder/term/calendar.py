"""The course calendar: release and due dates, the late policy and per-student extensions, in one TOML file.

    [late_policy]                     # every assignment's, unless an assignment has its own
    per_day = 10                      # percent of the score lost per started day late
    max_penalty = 50                  # percent, at most (optional)
    zero_after_days = 7               # later than this many days: 0 points (optional)
    grace_minutes = 15                # this much after the due date is still on time (optional)

    [assignments.a1_neuron]
    release = 2026-09-08T10:00:00+03:00
    due = 2026-09-22T23:59:00+03:00

    [[extensions]]
    student = "ivanova"
    assignment = "a3_rnn_bptt"        # or a list of assignments
    days = 3                          # or: due = 2026-10-23T23:59:00+03:00

The format is documented in docs/calendar.md. Every date carries its time zone. `load` checks the
whole file and raises CalendarError, whose message names the file and the line, for anything it
cannot use: an unknown key, assignment or student, a date without a time zone, an extension that
ends before the due date.

What the rest of the course calls:
    load(path, assignments=None, students=None) -> Calendar
    due_for(calendar, assignment, student) -> datetime          the student's due date (extension included)
    late_penalty(calendar, assignment, student, submitted_at, raw_score, max_score) -> Late
    CalendarLatePenalty                nbgrader's LateSubmissionPlugin with the same policy (the grading run
                                       writes it into the gradebook: autograder.pipeline.gradebook.apply_calendar)
    deadlines_markdown / deadlines_html(calendar, student=None)          the deadlines, for students (Russian)
    late_feedback_html(late, calendar)                                   the late part of a feedback page (Russian)
One function decides every penalty (`Policy.penalty_points`): the grader, the plugin (and so Formgrader
and `nbgrader export`) and the statistics cannot disagree.
"""
import csv
import datetime as dt
import html
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

DAY = 86400.0
POLICY_KEYS = {"per_day", "max_penalty", "zero_after_days", "grace_minutes", "of"}
ASSIGNMENT_KEYS = {"release", "due", "title", "late_policy"}
EXTENSION_KEYS = {"student", "assignment", "days", "due", "reason"}
TOP_KEYS = {"late_policy", "assignments", "extensions", "roster", "timezone", "course"}
EXAMPLE_DATE = "2026-09-22T23:59:00+03:00"


class CalendarError(ValueError):
    """The calendar cannot be used. The message is `FILE:LINE: what is wrong; how to fix it`."""


@dataclass(frozen=True)
class Policy:
    """A late policy. Percentages are of the score obtained (of = "score") or of the maximum (of = "max_score")."""
    per_day: float = 0.0
    max_penalty: float = 100.0
    zero_after_days: int = None
    grace_minutes: float = 0.0
    of: str = "score"

    def late_days(self, seconds_late):
        """Started days late: 0 on time or within the grace period, 1 for a minute to a day late, and so on."""
        if seconds_late <= self.grace_minutes * 60:
            return 0
        return math.ceil(seconds_late / DAY)

    def fraction(self, late_days):
        """The share of the score (or of the maximum) that is lost, 0..1."""
        if late_days <= 0:
            return 0.0
        if self.zero_after_days is not None and late_days > self.zero_after_days:
            return 1.0
        return min(self.per_day * late_days, self.max_penalty, 100.0) / 100.0

    def penalty_points(self, seconds_late, score, max_score):
        """Points lost by a score handed in seconds_late after its due date (never more than the score)."""
        if score <= 0:
            return 0.0
        lost = self.fraction(self.late_days(seconds_late))
        if lost >= 1.0:
            return float(score)
        return float(min(score, lost * (score if self.of == "score" else max_score)))

    @property
    def penalizes(self):
        return self.per_day > 0 or self.zero_after_days is not None

    def describe_ru(self):
        """The policy in one Russian sentence, for students."""
        if not self.penalizes:
            return "Опоздание отмечается, но баллы за него не снимаются."
        basis = "набранных баллов" if self.of == "score" else "максимального балла"
        parts = []
        if self.per_day > 0:
            cap = f", всего не больше {_num(self.max_penalty)} %" if self.max_penalty < 100 else ""
            parts.append(f"за каждый начатый день опоздания снимается {_num(self.per_day)} % {basis}{cap}")
        if self.zero_after_days is not None:
            parts.append("работа, сданная позже срока, получает 0 баллов" if self.zero_after_days == 0 else
                         f"работа, сданная позже чем через {_days_ru(self.zero_after_days)} после срока, "
                         "получает 0 баллов")
        text = "; ".join(parts)
        if self.grace_minutes > 0:
            text += f". Сданное в течение {_num(self.grace_minutes)} мин после срока опозданием не считается"
        return text[0].upper() + text[1:] + "."


@dataclass(frozen=True)
class Deadline:
    assignment: str
    due: dt.datetime
    release: dt.datetime = None
    title: str = ""
    policy: Policy = field(default_factory=Policy)


@dataclass(frozen=True)
class Extension:
    student: str
    assignment: str
    due: dt.datetime                      # the new due date
    reason: str = ""
    line: int = 0


@dataclass
class Calendar:
    """A checked calendar. deadlines: {assignment: Deadline}; extensions: {(student, assignment): Extension};
    roster: {student id: {first_name, last_name, email}} or None; timezone: how dates are shown (None: as written)."""
    path: str
    deadlines: dict
    extensions: dict
    roster: dict = None
    timezone: dt.tzinfo = None
    course: str = ""

    def due_for(self, assignment, student):
        return due_for(self, assignment, student)


@dataclass(frozen=True)
class Late:
    """What lateness did to one submission. Times are aware datetimes; submitted is None when unknown."""
    assignment: str
    student: str
    due: dt.datetime
    submitted: dt.datetime
    extended: bool
    seconds_late: float
    late_days: int
    penalty_percent: float
    raw_score: float
    max_score: float
    penalty: float
    final_score: float

    def as_row(self):
        """Plain values for CSV and JSON (times in ISO 8601 with their offset)."""
        return {"due": self.due.isoformat() if self.due else "", "submitted_at": self.submitted.isoformat() if self.submitted else "",
                "extended": self.extended, "late_days": self.late_days, "penalty_percent": self.penalty_percent,
                "raw_score": self.raw_score, "penalty": round(self.penalty, 6), "final_score": round(self.final_score, 6),
                "max_score": self.max_score}


# ---------------------------------------------------------------- reading the file

class _Lines:
    """Where each key of a TOML text is written: {(table path..., key): line}, for messages.

    Handles what the calendar uses: [tables], [[arrays of tables]] (their entries numbered from 0),
    dotted and quoted keys, keys of inline tables (reported at the line of the table's key).
    """

    HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")

    def __init__(self, text):
        self.lines, counts, table = {}, {}, ()
        for number, line in enumerate(text.splitlines(), 1):
            header = self.HEADER.match(line)
            if header:
                path = self._split(header.group(2))
                if header.group(1) == "[[":
                    counts[path] = counts.get(path, -1) + 1
                    path = path + (counts[path],)
                table = path
                self.lines.setdefault(table, number)
                continue
            key = self.KEY.match(line)
            if key:
                path = table + self._split(key.group(1))
                self.lines.setdefault(path, number)
                for i in range(len(table) + 1, len(path)):       # a.b = 1 also defines table a
                    self.lines.setdefault(path[:i], number)

    @staticmethod
    def _split(dotted):
        parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', dotted)
        return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)

    def of(self, *path):
        """The line of the longest known prefix of path (0 if none)."""
        for i in range(len(path), 0, -1):
            if tuple(path[:i]) in self.lines:
                return self.lines[tuple(path[:i])]
        return 0


class _Reader:
    def __init__(self, name, text):
        self.name, self.where = name, _Lines(text)

    def fail(self, path, message):
        line = self.where.of(*path)
        raise CalendarError(f"{self.name}:{line}: {message}" if line else f"{self.name}: {message}")

    def keys(self, table, allowed, path, what):
        if not isinstance(table, dict):
            self.fail(path, f"{what} must be a table (key = value lines), got {table!r}")
        for key in table:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key {key!r} in {what}; the keys are {', '.join(sorted(allowed))}")

    def moment(self, value, path, what):
        """An aware datetime from a TOML offset date-time (or an ISO 8601 string with an offset)."""
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                self.fail(path, f"{what} {value!r} is not a date and time: write it as {EXAMPLE_DATE}")
        if isinstance(value, dt.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                self.fail(path, f"{what} {value.isoformat()} has no time zone: write the offset, e.g. "
                                f"{value.isoformat()}+03:00 (Moscow) or {value.isoformat()}Z (UTC)")
            return value
        if isinstance(value, dt.date):
            self.fail(path, f"{what} {value.isoformat()} has no time and no time zone: write e.g. "
                            f"{value.isoformat()}T23:59:00+03:00")
        self.fail(path, f"{what} must be a date and time such as {EXAMPLE_DATE}, got {value!r}")

    def number(self, value, path, what, integer=False, minimum=0.0):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            self.fail(path, f"{what} must be {'a whole number' if integer else 'a number'}, got {value!r}")
        if value < minimum:
            self.fail(path, f"{what} must be at least {minimum:g}, got {value!r}")
        return value

    def policy(self, table, path, base=None):
        self.keys(table, POLICY_KEYS, path, "late_policy")
        values = dict(vars(base or Policy()))
        for key in ("per_day", "max_penalty", "grace_minutes"):
            if key in table:
                values[key] = float(self.number(table[key], path + (key,), f"late_policy.{key}"))
        for key in ("per_day", "max_penalty"):
            if values[key] > 100:
                self.fail(path + (key,), f"late_policy.{key} is a percentage: at most 100, got {values[key]:g}")
        if "zero_after_days" in table:
            values["zero_after_days"] = self.number(table["zero_after_days"], path + ("zero_after_days",),
                                                    "late_policy.zero_after_days", integer=True)
        if "of" in table:
            if table["of"] not in ("score", "max_score"):
                self.fail(path + ("of",), f"late_policy.of must be \"score\" (a percentage of the points obtained) "
                                          f"or \"max_score\" (of the maximum), got {table['of']!r}")
            values["of"] = table["of"]
        return Policy(**values)


def load(path, assignments=None, students=None):
    """Read and check a calendar file; returns a Calendar or raises CalendarError.

    assignments: the assignment ids that exist (default: the course's, from solutions/).
    students: the student ids that exist, if there is no roster in the file (None: not checked).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalendarError(f"{path}: no such file; write the course calendar there (see docs/calendar.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"{path}: cannot be read ({exc})") from None
    return parse(text, str(path), assignments, students, base=path.parent)


def parse(text, name="calendar.toml", assignments=None, students=None, base=None):
    """Check the TOML text of a calendar; see `load`. base: the folder a relative roster path is read from."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise CalendarError(f"{name}:{line.group(1) if line else ''}: not valid TOML: {exc}".replace(":: ", ": ")) from None
    if assignments is None:
        from ..course import Course
        assignments = Course.here().assignment_ids
    known = list(assignments)
    read = _Reader(name, text)
    read.keys(data, TOP_KEYS, (), "the calendar")
    timezone = None
    if "timezone" in data:
        timezone = _timezone(read, data["timezone"])
    roster = None
    if "roster" in data:
        roster = _roster(read, data["roster"], Path(base or "."))
        students = list(roster)
    default = read.policy(data["late_policy"], ("late_policy",)) if "late_policy" in data else Policy()

    table = data.get("assignments", {})
    read.keys(table, set(table), ("assignments",), "[assignments]")
    deadlines = {}
    for assignment, entry in table.items():
        where = ("assignments", assignment)
        if assignment not in known:
            read.fail(where, f"unknown assignment {assignment!r}; the course has {', '.join(known)}")
        read.keys(entry, ASSIGNMENT_KEYS, where, f"[assignments.{assignment}]")
        if "due" not in entry:
            read.fail(where, f"assignment {assignment} has no due date: add due = {EXAMPLE_DATE}")
        due = read.moment(entry["due"], where + ("due",), f"the due date of {assignment}")
        release = read.moment(entry["release"], where + ("release",), f"the release date of {assignment}") \
            if "release" in entry else None
        if release is not None and release >= due:
            read.fail(where + ("due",), f"{assignment} is due ({due.isoformat()}) before it is released "
                                        f"({release.isoformat()})")
        policy = read.policy(entry["late_policy"], where + ("late_policy",), default) if "late_policy" in entry else default
        title = entry.get("title", "")
        if not isinstance(title, str):
            read.fail(where + ("title",), f"the title of {assignment} must be a string")
        deadlines[assignment] = Deadline(assignment, due, release, title, policy)

    entries = data.get("extensions", [])
    if not isinstance(entries, list):
        read.fail(("extensions",), "extensions must be written as [[extensions]] tables, one per extension")
    extensions = {}
    for i, entry in enumerate(entries):
        where = ("extensions", i)
        read.keys(entry, EXTENSION_KEYS, where, "an [[extensions]] entry")
        for key in ("student", "assignment"):
            if key not in entry:
                read.fail(where, f"this extension names no {key}: add {key} = \"...\"")
        student = entry["student"]
        if not isinstance(student, str) or not student:
            read.fail(where + ("student",), f"student must be a student id (a string), got {student!r}")
        if students is not None and student not in students:
            source = "the roster" if roster is not None else "the course's students"
            read.fail(where + ("student",), f"unknown student {student!r}: not in {source}; check the spelling "
                                            "(ids are case-sensitive)")
        names = entry["assignment"] if isinstance(entry["assignment"], list) else [entry["assignment"]]
        if ("days" in entry) == ("due" in entry):
            read.fail(where, "an extension gives either days = N (days after the due date) or due = <new due date>, "
                             "not both and not neither")
        for assignment in names:
            if assignment not in deadlines:
                message = (f"unknown assignment {assignment!r}; the course has {', '.join(known)}"
                           if assignment not in known else f"assignment {assignment} has no due date in this calendar "
                           f"(add [assignments.{assignment}]) and so cannot be extended")
                read.fail(where + ("assignment",), message)
            due = deadlines[assignment].due
            if "days" in entry:
                days = read.number(entry["days"], where + ("days",), "days")
                if days <= 0:
                    read.fail(where + ("days",), f"an extension of {days:g} days ends on or before the due date of "
                                                 f"{assignment}: give a positive number of days")
                new_due = due + dt.timedelta(days=days)
            else:
                new_due = read.moment(entry["due"], where + ("due",), f"the extended due date of {assignment}")
                if new_due <= due:
                    read.fail(where + ("due",), f"the extension ends ({new_due.isoformat()}) before the due date of "
                                                f"{assignment} ({due.isoformat()}): give a later date")
            if (student, assignment) in extensions:
                read.fail(where, f"{student} already has an extension for {assignment} (line "
                                 f"{extensions[(student, assignment)].line}): keep one")
            extensions[(student, assignment)] = Extension(student, assignment, new_due, str(entry.get("reason", "")),
                                                          read.where.of(*where))
    course_name = data.get("course", "")
    if not isinstance(course_name, str):
        read.fail(("course",), "course must be the course's name, a string")
    return Calendar(name, deadlines, extensions, roster, timezone, course_name)


def _timezone(read, value):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    if not isinstance(value, str):
        read.fail(("timezone",), f"timezone must be an IANA name such as \"Europe/Moscow\", got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        read.fail(("timezone",), f"unknown time zone {value!r}: use an IANA name such as \"Europe/Moscow\"")


def _roster(read, value, base):
    """{id: row} from nbgrader's roster CSV (id, first_name, last_name, email), as `nbgrader db student import` reads."""
    if not isinstance(value, str):
        read.fail(("roster",), f"roster must be the path of a CSV file, got {value!r}")
    path = base / value
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        read.fail(("roster",), f"cannot read the roster {path}: {exc.strerror or exc}")
    if rows and "id" not in rows[0]:
        read.fail(("roster",), f"the roster {path} needs an id column (nbgrader's roster: id,first_name,last_name,email)")
    return {r["id"].strip(): {k: (v or "").strip() for k, v in r.items() if k and k != "id"} for r in rows if r.get("id")}


def read_roster(path):
    """{student id: {first_name, last_name, email}} of nbgrader's roster CSV; CalendarError if it cannot be read."""
    path = Path(path)
    return _roster(_Reader(str(path), ""), path.name, path.resolve().parent)


# ---------------------------------------------------------------- deciding lateness

def due_for(calendar, assignment, student):
    """The due date of an assignment for a student: the extended one if there is an extension. KeyError if the
    calendar has no due date for the assignment."""
    extension = calendar.extensions.get((student, assignment))
    return extension.due if extension else calendar.deadlines[assignment].due


def late_penalty(calendar, assignment, student, submitted_at, raw_score, max_score):
    """What the calendar does to one submission's score: a Late.

    submitted_at: an aware datetime (a naive one is taken as UTC, as nbgrader stores times), or None when the
    submission time is unknown (then it counts as on time). An assignment without a due date is never late.
    """
    if assignment not in calendar.deadlines:
        return Late(assignment, student, None, _aware(submitted_at), False, 0.0, 0, 0.0, raw_score, max_score, 0.0,
                    raw_score)
    deadline = calendar.deadlines[assignment]
    due = due_for(calendar, assignment, student)
    submitted = _aware(submitted_at)
    seconds = max(0.0, (submitted - due).total_seconds()) if submitted else 0.0
    days = deadline.policy.late_days(seconds)
    penalty = deadline.policy.penalty_points(seconds, raw_score, max_score)
    return Late(assignment, student, due, submitted, (student, assignment) in calendar.extensions, seconds, days,
                100.0 * deadline.policy.fraction(days), raw_score, max_score, penalty, raw_score - penalty)


def parse_timestamp(text):
    """An aware datetime from nbgrader's timestamp text ('2026-09-22 23:59:00.123456 UTC', or any ISO 8601)."""
    from nbgrader.utils import parse_utc
    return _aware(parse_utc(str(text).strip()))


def _aware(moment):
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def utc_naive(moment):
    """How nbgrader's gradebook stores a time: naive, in UTC."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


class CalendarLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin applying the course calendar's policy (the same `Policy.penalty_points`).

    nbgrader computes the seconds late from the gradebook's due date and the submission's extension, which
    `autograder.pipeline.gradebook.apply_calendar` writes from the calendar. In an nbgrader_config.py:

        c.AssignLatePenalties.plugin_class = "autograder.term.calendar.CalendarLatePenalty"
        c.CalendarLatePenalty.calendar_file = "/path/to/calendar.toml"
    """

    calendar_file = Unicode("", help="The course calendar (TOML) whose late policy applies").tag(config=True)

    def __init__(self, calendar=None, **kwargs):
        super().__init__(**kwargs)
        self._calendar = calendar

    @property
    def calendar(self):
        if self._calendar is None:
            if not self.calendar_file:
                raise CalendarError("CalendarLatePenalty.calendar_file is not set: point it at the course calendar")
            self._calendar = load(self.calendar_file)
        return self._calendar

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        """nbgrader's interface: the penalty of one notebook. The assignment and notebook come from the caller
        (nbgrader's AssignLatePenalties preprocessor, whose attributes name them)."""
        parent = self.parent
        max_score = score
        if self.calendar.deadlines.get(parent.assignment_id, Deadline("", None)).policy.of == "max_score":
            max_score = parent.gradebook.find_submission_notebook(
                parent.notebook_id, parent.assignment_id, student_id).max_score
        return self.penalty(parent.assignment_id, score, max_score, total_seconds_late)

    def penalty(self, assignment, score, max_score, total_seconds_late):
        """The penalty in points for a notebook of `assignment` (None for an assignment the calendar does not know)."""
        deadline = self.calendar.deadlines.get(assignment)
        if deadline is None or total_seconds_late <= 0:
            return None
        return deadline.policy.penalty_points(total_seconds_late, score, max_score)


@dataclass(frozen=True)
class GradebookLate:
    """One submission's lateness as written into the gradebook."""
    student: str
    assignment: str
    seconds_late: float
    raw_score: float
    penalty: float


# ---------------------------------------------------------------- what students read (Russian)

def _num(x):
    return f"{x:g}".replace(".", ",")


def _days_ru(n):
    n = int(n) if float(n).is_integer() else n
    if not isinstance(n, int):
        return f"{_num(n)} дня"
    word = "дней" if 11 <= n % 100 <= 14 else {1: "день", 2: "дня", 3: "дня", 4: "дня"}.get(n % 10, "дней")
    return f"{n} {word}"


def format_moment(moment, calendar=None):
    """'22.09.2026 23:59 (UTC+03:00)' in the calendar's time zone (or the one it was written in)."""
    if moment is None:
        return "—"
    tz = calendar.timezone if calendar is not None and calendar.timezone is not None else None
    local = moment.astimezone(tz) if tz else moment
    offset = local.utcoffset() or dt.timedelta(0)
    sign, minutes = ("+" if offset >= dt.timedelta(0) else "−"), abs(int(offset.total_seconds())) // 60
    return f"{local:%d.%m.%Y %H:%M} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def _duration_ru(seconds):
    minutes = int(round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([_days_ru(days)] if days else []) + ([f"{hours} ч"] if hours else []) + ([f"{minutes} мин"] if minutes else [])
    return " ".join(parts) or "меньше минуты"


def deadline_rows(calendar, student=None):
    """[(assignment, title, release text, due text, the student's own due text or "")], in due-date order."""
    rows = []
    for d in sorted(calendar.deadlines.values(), key=lambda d: (d.due, d.assignment)):
        own = ""
        if student is not None and (student, d.assignment) in calendar.extensions:
            own = format_moment(calendar.extensions[(student, d.assignment)].due, calendar)
        rows.append((d.assignment, d.title, format_moment(d.release, calendar) if d.release else "—",
                     format_moment(d.due, calendar), own))
    return rows


def _policies(calendar):
    """[(assignments, Policy)]: the distinct policies and the assignments under each."""
    found = {}
    for d in sorted(calendar.deadlines.values(), key=lambda d: d.due):
        found.setdefault(d.policy, []).append(d.assignment)
    return list(found.items())


def deadlines_markdown(calendar, student=None):
    """The deadlines as a Markdown section in Russian (the student edition's README, the hub's landing page).

    student: add a column with that student's extended due dates, when there are any.
    """
    rows = deadline_rows(calendar, student)
    personal = any(r[4] for r in rows)
    header = "| Задание | Выдаётся | Срок сдачи |" + (" Ваш срок (продлён) |" if personal else "")
    lines = ["## Сроки сдачи", "", header, "|---|---|---|" + ("---|" if personal else "")]
    for assignment, title, release, due, own in rows:
        name = f"`{assignment}`" + (f" — {_md(title)}" if title else "")
        lines.append(f"| {name} | {release} | {due} |" + (f" {own or '—'} |" if personal else ""))
    lines += ["", *_policy_lines(calendar)]
    return "\n".join(lines) + "\n"


def _md(text):
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text)


def _policy_lines(calendar):
    policies = _policies(calendar)
    if len(policies) == 1:
        return [f"**Опоздания.** {policies[0][0].describe_ru()} Время отправки — время последней отправки работы."]
    return ["**Опоздания.** Время отправки — время последней отправки работы."] + [
        f"- {', '.join(f'`{a}`' for a in names)}: {policy.describe_ru()}" for policy, names in policies]


def deadlines_html(calendar, student=None):
    """The same deadlines as an HTML fragment (a <section>), every text escaped."""
    rows = deadline_rows(calendar, student)
    personal = any(r[4] for r in rows)
    e = html.escape
    head = "<tr><th>Задание</th><th>Выдаётся</th><th>Срок сдачи</th>" + ("<th>Ваш срок (продлён)</th>" if personal else "") + "</tr>"
    body = "".join(
        f"<tr><td><code>{e(a)}</code>{' — ' + e(t) if t else ''}</td><td>{e(r)}</td><td>{e(d)}</td>"
        + (f"<td>{e(own or '—')}</td>" if personal else "") + "</tr>" for a, t, r, d, own in rows)
    policies = _policies(calendar)
    if len(policies) == 1:
        policy = f"<p><strong>Опоздания.</strong> {e(policies[0][0].describe_ru())}</p>"
    else:
        policy = "<p><strong>Опоздания.</strong></p><ul>" + "".join(
            f"<li>{e(', '.join(names))}: {e(p.describe_ru())}</li>" for p, names in policies) + "</ul>"
    return (f'<section class="course-deadlines"><h2>Сроки сдачи</h2>'
            f'<table class="deadlines"><thead>{head}</thead><tbody>{body}</tbody></table>{policy}</section>')


def late_feedback_html(late, calendar=None):
    """The part of a feedback page about the deadline, in Russian: due date, submission time, late days, penalty."""
    e = html.escape
    rows = []
    due = format_moment(late.due, calendar)
    if late.extended and calendar is not None and late.assignment in calendar.deadlines:
        due += f" — продлён (исходный срок {format_moment(calendar.deadlines[late.assignment].due, calendar)})"
    rows.append(("Срок сдачи", due))
    rows.append(("Сдано", format_moment(late.submitted, calendar) if late.submitted else "время отправки неизвестно"))
    if late.seconds_late <= 0:
        rows.append(("Опоздание", "нет, сдано в срок"))
    elif late.late_days == 0:
        rows.append(("Опоздание", f"{_duration_ru(late.seconds_late)} — в пределах льготного времени, не считается"))
    else:
        rows.append(("Опоздание", f"{_days_ru(late.late_days)} (на {_duration_ru(late.seconds_late)})"))
    if late.penalty > 0:
        rows.append(("Штраф", f"{_num(round(late.penalty_percent, 2))} %: −{_num(round(late.penalty, 2))} балла"))
        rows.append(("Итог", f"{_num(round(late.final_score, 2))} из {_num(late.max_score)} "
                             f"(без штрафа {_num(round(late.raw_score, 2))})"))
    else:
        rows.append(("Штраф", "нет"))
        rows.append(("Итог", f"{_num(round(late.final_score, 2))} из {_num(late.max_score)}"))
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    policy = ""
    if calendar is not None and late.assignment in calendar.deadlines:
        policy = f"<p>{e(calendar.deadlines[late.assignment].policy.describe_ru())}</p>"
    return f'<section class="late-submission"><h2>Срок и опоздание</h2><table>{body}</table>{policy}</section>'


def describe(calendar):
    """A plain-text summary for the instructor's terminal: deadlines, policies, extensions."""
    lines = [f"{calendar.path}: {len(calendar.deadlines)} assignment(s), {len(calendar.extensions)} extension(s)"
             + (f", roster of {len(calendar.roster)} student(s)" if calendar.roster is not None else
                " (no roster: student ids of extensions are not checked)")]
    for d in sorted(calendar.deadlines.values(), key=lambda d: d.due):
        p = d.policy
        rule = (f"-{p.per_day:g}%/day" + (f" up to {p.max_penalty:g}%" if p.max_penalty < 100 else "")
                + (f", 0 after {p.zero_after_days} day(s)" if p.zero_after_days is not None else "")
                + (f", grace {p.grace_minutes:g} min" if p.grace_minutes else "") + f" (of {p.of})") \
            if p.penalizes else "no penalty"
        lines.append(f"  {d.assignment:<22} release {d.release.isoformat() if d.release else '-':<25} "
                     f"due {d.due.isoformat():<25} {rule}")
    for (student, assignment), x in sorted(calendar.extensions.items()):
        lines.append(f"  extension: {student} / {assignment} until {x.due.isoformat()}" + (f" ({x.reason})" if x.reason else ""))
    return "\n".join(lines)
