"""JupyterHub for one course: an instructor, students, nbgrader's exchange on the hub.

    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py          # what `make hub` runs

As written it is the demo: everything on 127.0.0.1, every user a process of the Unix user that runs
the hub (SimpleLocalProcessSpawner), passwords shared (DummyAuthenticator). README.md beside this
file says what changes for production. Settings come from the environment:

  RNNCOURSE_HUB_ROOT       state folder: hub database, exchange, home folders (default ./build/hub)
  RNNCOURSE_HUB_PORT       port on 127.0.0.1 (default 8000)
  RNNCOURSE_HUB_PASSWORD   the demo password of every account (default "rnn-demo")
  RNNCOURSE_HUB_STUDENTS   comma-separated student accounts (default student1,student2)

The instructor's course folder is HOME/instructor/course in nbgrader's layout (source/ from the
repository's solutions/, release/ from its assignments/); the instructor has Formgrader and every
nbgrader command. Students get the student mode of deploy/student-mode/ with the Assignment List
(fetch, submit, fetch feedback) and Validate, a copy of the lectures and a landing page.
"""
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STUDENT_MODE = REPO / "deploy" / "student-mode"


def load_student_mode_installer():
    """deploy/student-mode/install.py as a module (its folder is not a package)."""
    spec = importlib.util.spec_from_file_location("student_mode_install", STUDENT_MODE / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT = Path(os.environ.get("RNNCOURSE_HUB_ROOT", "build/hub")).resolve()
PORT = int(os.environ.get("RNNCOURSE_HUB_PORT", "8000"))
PASSWORD = os.environ.get("RNNCOURSE_HUB_PASSWORD", "rnn-demo")
INSTRUCTOR = "instructor"
STUDENTS = [name.strip() for name in os.environ.get("RNNCOURSE_HUB_STUDENTS", "student1,student2").split(",")
            if name.strip()]
COURSE_ID = "rnn"
HOME = ROOT / "home"
EXCHANGE = ROOT / "exchange"
COURSE = HOME / INSTRUCTOR / "course"
CONFIG = ROOT / "config"          # CONFIG/instructor and CONFIG/student: per-role Jupyter config paths

c = get_config()  # noqa: F821  (provided by JupyterHub when it reads this file)


def nbgrader_config(extra=""):
    """nbgrader_config.py text shared by every account: the course id and the exchange."""
    return (f"c = get_config()\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(EXCHANGE)!r}\n" + extra)


def prepare_course():
    """Create the state folder: exchange, per-role configuration, the instructor's course folder."""
    EXCHANGE.mkdir(parents=True, exist_ok=True)
    EXCHANGE.chmod(0o777)  # nbgrader's exchange is shared by every account (one Unix user each in production)
    instructor = CONFIG / "instructor"
    instructor.mkdir(parents=True, exist_ok=True)
    (instructor / "nbgrader_config.py").write_text(nbgrader_config(
        f"c.CourseDirectory.root = {str(COURSE)!r}\n"))
    # Formgrader is a page of the instructor's server shown in a JupyterLab frame: allow that frame
    # (the hub's single-user servers answer with frame-ancestors 'none' otherwise).
    (instructor / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}}))
    student = CONFIG / "student"
    load_student_mode_installer().install(student, python=None, exchange=True, landing="")
    # nbgrader names a submission after the Unix user; here every account is one Unix user, so the
    # student id is the hub's name of the account (with one Unix user per student, leave this out).
    (student / "etc" / "jupyter" / "nbgrader_config.py").write_text(nbgrader_config(
        "import os\nc.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']\n"))
    if not COURSE.exists():
        for assignment in sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir()):
            shutil.copytree(REPO / "solutions" / assignment, COURSE / "source" / assignment)
            shutil.copytree(REPO / "assignments" / assignment, COURSE / "release" / assignment)
    shutil.copy2(instructor / "nbgrader_config.py", COURSE / "nbgrader_config.py")


def prepare_home(spawner):
    """Before a server starts: its home folder, and the configuration of the user's role."""
    user = spawner.user.name
    home = HOME / user
    home.mkdir(parents=True, exist_ok=True)
    # The student mode's server extension, importable from the repository (no copy in the environment).
    spawner.environment["PYTHONPATH"] = str(STUDENT_MODE)
    if user == INSTRUCTOR:
        spawner.environment["JUPYTER_CONFIG_PATH"] = str(CONFIG / "instructor")
        spawner.default_url = "/lab"
        return
    spawner.environment["JUPYTER_CONFIG_PATH"] = str(CONFIG / "student" / "etc" / "jupyter")
    if not (home / "lectures").exists():
        shutil.copytree(REPO / "lectures", home / "lectures")
    shutil.copy2(Path(__file__).with_name("student-landing.md"), home / "README.md")
    spawner.default_url = "/lab/tree/README.md"


prepare_course()

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(ROOT / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "proxy.pid")

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = PASSWORD
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.admin_users = {INSTRUCTOR}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOME / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.pre_spawn_hook = prepare_home
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
