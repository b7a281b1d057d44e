"""What the course's demo hub sets up on the machine before JupyterHub starts (as root).

jupyterhub_config.py calls `prepare(...)`; `python deploy/jupyterhub/hubsetup.py remove ROOT`
(what `make hub-clean` runs) undoes it. As root the hub gives every user a real Unix account:

  accounts     one per hub user (`useradd`), home ROOT/home/<user> (mode 700), marked in the
               account's comment field as the demo's, so that `remove` deletes only those
  environment  ENV, a virtual environment every account can run (the repository's .venv may sit
               under a home folder other accounts cannot enter): the course's `course` set,
               the course package installed from the repository, and jupyterhub-singleuser
  exchange     ROOT/exchange, mode 1777 (nbgrader's exchange root: everybody writes, the sticky
               bit keeps one account from removing another's folders)
  repository   the instructor-only folders of the repository (solutions/, autograder/samples/, the
               git history) closed to other accounts: group of the instructor, nothing for others;
               their previous owner and mode are kept in ROOT/state/repository-modes.json for `remove`
  profile      ~/.profile of each account puts ENV/bin first on PATH (JupyterLab's terminal is a
               login shell, and /etc/profile resets PATH) and sets the variables the instructor
               guide uses: REPO, COURSE, EXCHANGE, ID
It also writes the nbgrader configuration of each role (`nbgrader_config`, `instructor_nbgrader_config`).
"""
import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARK = "rnncourse demo hub"                # the comment field of the accounts made here
INSTRUCTOR_ONLY = ["solutions", "autograder/samples", ".git", "build/demo", "grading-out"]
PROFILE_BEGIN = "# >>> rnncourse hub >>>"
PROFILE_END = "# <<< rnncourse hub <<<"

# nbgrader's Autograde (Formgrader's button, `nbgrader autograde`) grades through the course's judge, each
# submission in a sandboxed worker (autograder/pipeline/formgrade.py), never in a kernel it trusts.
AUTOGRADE_IN_SANDBOX = ("# Autograde (Formgrader's button, nbgrader autograde) grades in the sandbox, through the judge.\n"
                        "c.Autograde.exporter_class = 'autograder.pipeline.formgrade.GradeInSandbox'\n")


def nbgrader_config(course_id, exchange, extra=""):
    """nbgrader_config.py text shared by every account: the course id and the exchange."""
    return (f"c = get_config()\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.Exchange.root = {str(exchange)!r}\n" + extra)


def instructor_nbgrader_config(course_id, exchange, course, calendar=None):
    """The instructor's nbgrader_config.py: the course folder, and Autograde through the judge; with a calendar,
    Autograde's late penalties are the calendar's (as `python -m autograder grade --calendar` writes them)."""
    late = "" if calendar is None else (
        "# Late penalties of Autograde: the course calendar's policy, as grade --calendar applies it.\n"
        "c.AssignLatePenalties.plugin_class = 'autograder.term.calendar.CalendarLatePenalty'\n"
        f"c.CalendarLatePenalty.calendar_file = {str(calendar)!r}\n")
    return nbgrader_config(course_id, exchange, f"c.CourseDirectory.root = {str(course)!r}\n" + AUTOGRADE_IN_SANDBOX
                           + late)


def run(command, **kwargs):
    """Run a command; on failure stop with its output (the hub must not start half set up)."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"hub set-up: `{' '.join(map(str, command))}` failed:\n{result.stdout}{result.stderr}")
    return result


def runs_as_nobody(python):
    """Can an account without privileges start this interpreter (and import its standard library)?"""
    try:
        probe = subprocess.run([str(python), "-c", "import json, sqlite3, venv"], capture_output=True, cwd="/",
                               user=65534, group=65534, extra_groups=[], timeout=60)
    except OSError:                     # the interpreter, or a folder on its way, is closed to other accounts
        return False
    return probe.returncode == 0


def shared_python():
    """An interpreter of this Python version that every account can run (RNNCOURSE_HUB_PYTHON to choose)."""
    chosen = os.environ.get("RNNCOURSE_HUB_PYTHON")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [chosen] if chosen else [getattr(sys, "_base_executable", sys.executable),
                                           f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and runs_as_nobody(Path(candidate).resolve()):
            return Path(candidate).resolve()
    raise SystemExit(f"hub set-up: no Python {version} that every account can run (tried {', '.join(filter(None, candidates))}); "
                     f"install one (Debian: apt-get install python{version} python{version}-venv) or name it "
                     "with RNNCOURSE_HUB_PYTHON")


def environment_requirements():
    """pip arguments of the hub's environment: the course package with its `course` set, and JupyterHub."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    hub = [pin for pin in project["optional-dependencies"]["browser"] if pin.startswith("jupyterhub==")]
    return ["-e", f"{REPO}[course]", *hub]


def ensure_environment(env):
    """Create (or bring up to date) the environment every single-user server runs from."""
    python = shared_python()
    stamp = env / ".rnncourse-hub-env"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + f"{python}\n{REPO}".encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return env
    print(f"hub set-up: creating the users' environment {env} from {python} (once, about a minute)", flush=True)
    shutil.rmtree(env, ignore_errors=True)
    run([python, "-m", "venv", env])
    run([env / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *environment_requirements()], env={**os.environ, "PIP_NO_COMPILE": "1"})
    stamp.write_text(want)
    return env


def ensure_account(name, home):
    """The Unix account `name` with its home at `home` (created if missing); refuses someone else's account."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        home.parent.mkdir(parents=True, exist_ok=True)
        run(["useradd", "--home-dir", home, "--create-home", "--shell", "/bin/bash", "--user-group",
             "--comment", f"{MARK} {home.parent.parent}", name])
        entry = pwd.getpwnam(name)
    if Path(entry.pw_dir) != home or not entry.pw_gecos.startswith(MARK):
        raise SystemExit(f"hub set-up: the Unix account {name!r} exists already and is not this demo's "
                         f"(home {entry.pw_dir}); choose other names with RNNCOURSE_HUB_INSTRUCTOR and "
                         "RNNCOURSE_HUB_STUDENTS")
    home.mkdir(parents=True, exist_ok=True)
    chown_tree(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return entry


def chown_tree(path, uid, gid):
    """Give `path` and everything under it to uid:gid (symbolic links themselves, never their targets)."""
    os.chown(path, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def write_profile(home, uid, gid, env, variables):
    """~/.profile: ENV/bin first on PATH and `variables` exported, in a block that is replaced on every start."""
    profile = home / ".profile"
    text = profile.read_text() if profile.exists() else ""
    if PROFILE_BEGIN in text:
        text = text.split(PROFILE_BEGIN)[0] + text.split(PROFILE_END, 1)[-1].lstrip("\n")
    lines = [PROFILE_BEGIN, "# The course's tools (nbgrader, python -m autograder) in every login shell.",
             f'PATH="{env / "bin"}:$PATH"', "export PATH"]
    lines += [f"export {key}='{value}'" for key, value in variables.items()]
    profile.write_text(text + ("\n" if text and not text.endswith("\n") else "") + "\n".join(lines + [PROFILE_END]) + "\n")
    os.chown(profile, uid, gid)


def git_dirs():
    """The git folders of the repository (a worktree's common folder may lie outside it)."""
    found = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--absolute-git-dir", "--git-common-dir"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        return []
    return sorted({(REPO / line).resolve() for line in found.stdout.split()})


def close_repository(state, gid):
    """Close the repository's instructor-only folders to every account but root and group `gid`."""
    saved_file = state / "repository-modes.json"
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    outside = []
    for path in [REPO / rel for rel in INSTRUCTOR_ONLY] + git_dirs():
        if not path.exists() or path.is_symlink() or not path.is_dir():
            continue
        if not path.resolve().is_relative_to(REPO):
            outside.append(path)
            continue
        info = path.stat()
        saved.setdefault(str(path), [info.st_uid, info.st_gid, info.st_mode & 0o7777])
        os.chown(path, -1, gid)
        path.chmod((info.st_mode & 0o700) | 0o050)
    saved_file.write_text(json.dumps(saved, indent=1))
    for path in outside:
        print(f"hub set-up: the git history of this checkout is at {path}, outside the repository; "
              "other accounts may read it (clone the repository for a hub that students use)", flush=True)


def restore_repository(state):
    """Give the closed folders back their owner and mode (what close_repository saved)."""
    saved_file = state / "repository-modes.json"
    if not saved_file.exists():
        return
    for path, (uid, gid, mode) in json.loads(saved_file.read_text()).items():
        if Path(path).exists():
            os.chown(path, uid, gid)
            os.chmod(path, mode)
    saved_file.unlink()


def demo_accounts(root):
    """Names of the accounts this demo made for the hub at `root`."""
    return [entry.pw_name for entry in pwd.getpwall() if entry.pw_gecos == f"{MARK} {root}"]


def remove(root):
    """Undo the set-up of the hub at `root`: its accounts (and their groups), the repository's modes, `root`."""
    root = Path(root).resolve()
    restore_repository(root / "state")
    for name in demo_accounts(root):
        run(["userdel", name])
        try:
            grp.getgrnam(name)
            run(["groupdel", name])
        except KeyError:
            pass
        print(f"removed the account {name}")
    if root.is_relative_to(REPO / "build") or (root / "state").is_dir():
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "remove":
        sys.exit("usage: python deploy/jupyterhub/hubsetup.py remove ROOT   (as root: remove the demo hub's accounts)")
    if os.geteuid() != 0:
        sys.exit("only root can remove accounts; run this with sudo")
    remove(sys.argv[2])
