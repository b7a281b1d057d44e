"""JupyterHub for one course: an instructor, students, nbgrader's exchange on the hub.

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py          # what `make hub` runs

As root (what `make hub` expects) every hub user is a real Unix account and each server runs as
its user (LocalProcessSpawner): hubsetup.py beside this file creates the accounts, an environment
every account can run, the exchange with nbgrader's permissions, and closes the instructor-only
folders of the repository to the students. Not as root, everything runs as the one Unix user that
starts the hub (SimpleLocalProcessSpawner): fine for a look at the interface, but then every
student can read everything, solutions included. Everything listens on 127.0.0.1 and the password
is shared (DummyAuthenticator); README.md beside this file says what changes for production.
Settings come from the environment:

  RNNCOURSE_HUB_ROOT        state folder: accounts' homes, exchange, configuration (default ./build/hub)
  RNNCOURSE_HUB_ENV         the users' environment (default ROOT/env)
  RNNCOURSE_HUB_PORT        port on 127.0.0.1 (default 8000)
  RNNCOURSE_HUB_PASSWORD    the demo password of every account (default "rnn-demo")
  RNNCOURSE_HUB_INSTRUCTOR  the instructor's account (default instructor)
  RNNCOURSE_HUB_STUDENTS    comma-separated student accounts (default student1,student2)

The instructor's course folder is HOME/instructor/course in nbgrader's layout (source/ from the
repository's solutions/, release/ from its assignments/, roster.csv of the demo's students); the
instructor has Formgrader and every nbgrader command, and the terminal has the variables the
instructor guide uses; Formgrader's Autograde and `nbgrader autograde` grade through the course's
judge, each submission in the sandbox (autograder/pipeline/formgrade.py). Students get the student
mode of deploy/student-mode/ with the Assignment List (fetch, submit, fetch feedback) and Validate,
the lectures (read-only) and a landing page.
"""
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STUDENT_MODE = REPO / "deploy" / "student-mode"


def load(path, name):
    """A Python file beside this one (its folder is not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hubsetup = load(HERE / "hubsetup.py", "rnncourse_hubsetup")
student_mode = load(STUDENT_MODE / "install.py", "rnncourse_student_mode_install")

ROOT = Path(os.environ.get("RNNCOURSE_HUB_ROOT", "build/hub")).resolve()
ENV = Path(os.environ.get("RNNCOURSE_HUB_ENV", ROOT / "env")).resolve()
PORT = int(os.environ.get("RNNCOURSE_HUB_PORT", "8000"))
PASSWORD = os.environ.get("RNNCOURSE_HUB_PASSWORD", "rnn-demo")
INSTRUCTOR = os.environ.get("RNNCOURSE_HUB_INSTRUCTOR", "instructor").strip()
STUDENTS = [name.strip() for name in os.environ.get("RNNCOURSE_HUB_STUDENTS", "student1,student2").split(",")
            if name.strip()]
REAL_USERS = os.geteuid() == 0
COURSE_ID = "rnn"
HOME = ROOT / "home"
EXCHANGE = ROOT / "exchange"
STATE = ROOT / "state"            # the hub's database, cookie secret, pid files: root only
COURSE = HOME / INSTRUCTOR / "course"
CONFIG = ROOT / "config"          # CONFIG/instructor and CONFIG/student: per-role Jupyter config paths

c = get_config()  # noqa: F821  (provided by JupyterHub when it reads this file)


def prepare_course():
    """The state folder: exchange, per-role configuration, accounts, the instructor's course folder."""
    ROOT.mkdir(parents=True, exist_ok=True)
    ROOT.chmod(0o755)
    STATE.mkdir(exist_ok=True)
    STATE.chmod(0o700)
    EXCHANGE.mkdir(exist_ok=True)
    EXCHANGE.chmod(0o1777)        # nbgrader's exchange root: everyone writes; the sticky bit as on /tmp
    instructor = CONFIG / "instructor"
    instructor.mkdir(parents=True, exist_ok=True)
    # The course folder; Autograde (Formgrader's button, nbgrader autograde) grades through the judge, sandboxed,
    # with the late penalties of the course's calendar.
    (instructor / "nbgrader_config.py").write_text(hubsetup.instructor_nbgrader_config(
        COURSE_ID, EXCHANGE, COURSE, calendar=COURSE / "calendar.toml"))
    # Formgrader is a page of the instructor's server shown in a JupyterLab frame: allow that frame
    # (the hub's single-user servers answer with frame-ancestors 'none' otherwise).
    (instructor / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}}))
    # No news prompt for the instructor either (the student mode's setting).
    student_mode.write_json(instructor / "labconfig" / "default_setting_overrides.d" / "rnncourse-hub.json",
                            {key: value for key, value in student_mode.settings_overrides().items()
                             if key == "@jupyterlab/apputils-extension:notification"})
    student = CONFIG / "student"
    student_mode.install(student, python=None, exchange=True, landing="")
    extra = "" if REAL_USERS else "import os\nc.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']\n"
    # With one Unix account per user nbgrader names a submission after the account; the demo without
    # root has one account for all, so there the student id is the hub's name of the user.
    (student / "etc" / "jupyter" / "nbgrader_config.py").write_text(hubsetup.nbgrader_config(COURSE_ID, EXCHANGE, extra))
    for path in CONFIG.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    if REAL_USERS:
        hubsetup.ensure_environment(ENV)
        teacher = hubsetup.ensure_account(INSTRUCTOR, HOME / INSTRUCTOR)
        for name in STUDENTS:
            hubsetup.ensure_account(name, HOME / name)
        hubsetup.close_repository(STATE, teacher.pw_gid)
    if not COURSE.exists():
        for assignment in sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir()):
            shutil.copytree(REPO / "solutions" / assignment, COURSE / "source" / assignment)
            shutil.copytree(REPO / "assignments" / assignment, COURSE / "release" / assignment)
        (COURSE / "roster.csv").write_text("id,first_name,last_name,email\n" + "".join(
            f"{name},{name},Demo,{name}@example.org\n" for name in STUDENTS))
        shutil.copy2(REPO / "docs" / "calendar.example.toml", COURSE / "calendar.toml")   # the term's dates
    shutil.copy2(instructor / "nbgrader_config.py", COURSE / "nbgrader_config.py")
    if REAL_USERS:
        hubsetup.chown_tree(COURSE, teacher.pw_uid, teacher.pw_gid)


def deadlines(student):
    """The student's deadlines from the course calendar (their extensions included), for the landing page."""
    if not (COURSE / "calendar.toml").is_file():
        return ""
    from autograder.term import calendar as term_calendar
    try:
        return "\n" + term_calendar.deadlines_markdown(term_calendar.load(COURSE / "calendar.toml"), student=student)
    except term_calendar.CalendarError as exc:
        print(f"the landing page shows no deadlines: {exc}")
        return ""


def terminal_variables(user):
    """What the account's login shells export: the instructor guide's names, on the hub."""
    variables = {"EXCHANGE": str(EXCHANGE), "ID": COURSE_ID}
    if user == INSTRUCTOR:
        variables.update(REPO=str(REPO), COURSE=str(COURSE))
    return variables


def prepare_home(spawner):
    """Before a server starts: its home folder, and the configuration of the user's role."""
    user = spawner.user.name
    home = HOME / user
    home.mkdir(parents=True, exist_ok=True)
    # The student mode's server extension, importable from the repository (no copy in the environment).
    spawner.environment["PYTHONPATH"] = str(STUDENT_MODE)
    spawner.environment.update(student_mode.NOTEBOOK_ENV)  # lectures give the stored numbers
    if user == INSTRUCTOR:
        spawner.environment["JUPYTER_CONFIG_PATH"] = str(CONFIG / "instructor")
        spawner.default_url = "/lab"
    else:
        spawner.environment["JUPYTER_CONFIG_PATH"] = str(CONFIG / "student" / "etc" / "jupyter")
        if not (home / "lectures").exists():
            shutil.copytree(REPO / "lectures", home / "lectures")
            for lecture in (home / "lectures").glob("*.ipynb"):
                lecture.chmod(0o444)                        # read-only: opening and autosave change nothing
        (home / "README.md").write_text((HERE / "student-landing.md").read_text() + deadlines(user))
        spawner.default_url = "/lab/tree/README.md"
    if REAL_USERS:
        spawner.environment["PATH"] = f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin"
        account = hubsetup.ensure_account(user, home)
        hubsetup.chown_tree(home, account.pw_uid, account.pw_gid)
        hubsetup.write_profile(home, account.pw_uid, account.pw_gid, ENV, terminal_variables(user))


prepare_course()

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = PASSWORD
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.admin_users = {INSTRUCTOR}

if REAL_USERS:
    # Each server runs as its user's account, from the environment every account can run.
    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
else:
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(HOME / "{username}")
    c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    print("jupyterhub_config: not root, so every user's server runs as this one Unix user and can read "
          "every other's files; run `make hub` as root for one account per user", file=sys.stderr)
c.Spawner.pre_spawn_hook = prepare_home
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
