"""Run each submission's kernel in a bubblewrap sandbox with resource limits.

The grader (nbgrader in a worker process) stays outside; only the kernel that executes student
code is confined. The kernelspec written by `write_kernelspec` starts this module as a small
trusted launcher, which
  1. moves itself into a pids cgroup (fork bombs) when the machine offers one,
  2. sets rlimits inherited by the kernel: address space (memory bombs), CPU time, file size,
     no core dumps, and a process count (effective when not running as root),
  3. execs bwrap: new pid, network, ipc, uts and cgroup namespaces; a file system that holds only
     the system folders, this Python and its environment, and the autograder package (never
     rnncore, the reference), all read-only (see `visible_paths`); sized tmpfs for the working
     folder, /tmp, /var/tmp and /dev/shm; the kernel's connection file and socket folder; an empty
     environment. The kernel runs as uid 65534 with no capabilities: as root, bwrap sets up the
     sandbox and `setpriv` drops to the host's uid 65534 (so nothing only root may read is
     readable); otherwise a user namespace maps uid 65534 to the instructor's own uid.
The kernel talks to the grader over Unix sockets (ipc transport) because it has no network. Its
socket folder is writable only until the kernel has made its sockets (the grader then seals it).

`probe()` says which of these protections this machine can provide; the grader refuses to run
untrusted code without all of them unless the instructor explicitly accepts the gap.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

KERNEL_NAME = "rnncourse-sandbox"
CGROUP_ROOTS = [Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")]   # cgroup v1, then v2


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (defaults suit the course's assignments)."""
    memory_mb: int = 3072          # address space of the kernel and each of its children
    cpu_seconds: int = 900         # CPU time of the whole notebook
    max_processes: int = 64        # processes and threads in the sandbox
    max_file_mb: int = 64          # largest file the kernel may write
    workdir_mb: int = 128          # size of the writable working folder
    tmp_mb: int = 64               # size of /tmp (and of /var/tmp and /dev/shm, a quarter each)


@dataclass
class Probe:
    """What the sandbox can do on this machine."""
    bwrap: str = ""
    missing: list = field(default_factory=list)      # protections that are not available
    cgroup_root: str = ""

    @property
    def complete(self):
        return bool(self.bwrap) and not self.missing

    def kernel_settings(self):
        """What a grading process needs to know of this machine's sandbox (it travels as JSON)."""
        return {"enabled": self.bwrap != "", "cgroup_root": self.cgroup_root}


def _pids_cgroup_root():
    """A pids cgroup hierarchy we may create groups in, or None."""
    for root in CGROUP_ROOTS:
        controllers = root / "cgroup.controllers"
        is_v1 = (root / "pids.max").exists() or root.name == "pids"
        if is_v1 and os.access(root, os.W_OK) and (root / "cgroup.procs").exists():
            return root
        if controllers.exists() and "pids" in controllers.read_text().split() and os.access(root, os.W_OK):
            return root
    return None


SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
SANDBOX_UID = 65534


def visible_paths():
    """What the kernel may see (read-only): the system, this Python, its environment, the autograder package.

    Everything else - home folders, the course's solutions, the rnncore reference, git history,
    grading folders, other submissions, other courses' gradebooks - does not exist inside the sandbox.
    The autograder package is there for the notebooks' `autograder.testing` import and for
    `autograder.kernel_server`, through which the grader calls the student's functions.
    """
    import autograder
    paths = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(autograder.__file__)]
    return [str(Path(p).resolve()) for p in dict.fromkeys(paths)]


def _parent_folders(path):
    """Create the folders above a mount point as 0755 (bwrap makes them 0700: uid 65534 could not pass)."""
    args = []
    for parent in reversed(Path(path).parents):
        if str(parent) != "/" and str(parent) not in SYSTEM_PATHS:
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _tmpfs(path, megabytes, perms="1777"):
    return ["--perms", perms, "--size", str(megabytes * 2 ** 20), "--tmpfs", path]


def bwrap_command(work, ipc_dir, connection_file, hide, limits, command=None):
    """The bwrap argument list that runs `command` (default: an IPython kernel) confined to `work`."""
    work, ipc_dir, connection_file = (Path(p).resolve() for p in (work, ipc_dir, connection_file))
    as_root = os.geteuid() == 0
    if as_root:                     # bwrap is privileged: no user namespace; setpriv drops to the host's uid 65534
        cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    else:                           # unprivileged: a user namespace maps uid 65534 inside to the instructor
        cmd = ["bwrap", "--unshare-all", "--cap-drop", "ALL", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    cmd += ["--die-with-parent", "--new-session", "--dev", "/dev", "--proc", "/proc",
            *_tmpfs("/tmp", limits.tmp_mb), *_tmpfs("/var/tmp", limits.tmp_mb // 4),
            *_tmpfs("/dev/shm", limits.tmp_mb // 4)]
    for path in SYSTEM_PATHS:                                # mounted after /tmp, so a course under /tmp shows
        if os.path.islink(path):                             # merged /usr: /bin -> usr/bin
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for path in visible_paths():
        cmd += _parent_folders(path) + ["--ro-bind", path, path]
    for path in [course_samples(), *hide]:                   # inside the visible folders, hide these too
        if Path(path).exists():
            cmd += ["--tmpfs", str(path)]
    cmd += _parent_folders(work) + _tmpfs(str(work), limits.workdir_mb, perms="0777")
    for extra in sorted(Path(work).iterdir()) if Path(work).is_dir() else []:
        if extra.is_file() and extra.suffix != ".ipynb":    # data files the assignment ships
            cmd += ["--ro-bind", str(extra), str(extra)]
    cmd += _parent_folders(ipc_dir)
    cmd += ["--bind", str(ipc_dir), str(ipc_dir), "--ro-bind", str(connection_file), str(connection_file),
            "--clearenv",                                    # no grader secrets or paths leak in (JPY_PARENT_PID too:
            "--setenv", "PATH", "/usr/bin:/bin",             # pid 1 in the sandbox is not our parent)
            "--setenv", "LANG", "C.UTF-8", "--setenv", "MPLBACKEND", "agg",
            "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "MALLOC_ARENA_MAX", "2",
            "--chdir", str(work), "--"]
    if as_root:
        cmd += ["setpriv", "--reuid", str(SANDBOX_UID), "--regid", str(SANDBOX_UID), "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + (command or [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file)])


def course_samples():
    """The bundled sample submissions (perfect ones are solutions): never visible to a kernel."""
    return str(Path(__file__).resolve().parent / "samples")


def probe(scratch):
    """Check what this machine supports by starting a tiny sandbox. Returns a Probe."""
    result = Probe()
    bwrap = shutil.which("bwrap")
    if not bwrap:
        result.missing.append("bubblewrap (bwrap) is not installed: no isolation at all "
                              "(Debian/Ubuntu: apt-get install bubblewrap)")
        return result
    scratch = Path(scratch).resolve()                        # bwrap needs absolute paths
    work, ipc = scratch / "probe-work", scratch / "probe-ipc"
    work.mkdir(parents=True, exist_ok=True)
    ipc.mkdir(parents=True, exist_ok=True)
    conn = ipc / "conn.json"
    conn.write_text("{}")
    check = ("import os; print(os.getuid(), os.access('/etc/shadow', os.R_OK), "
             "os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize <= 2 ** 30)")
    cmd = bwrap_command(work, ipc, conn, [], Limits(), command=[sys.executable, "-c", check])
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        run = None
        error = str(exc)
    if run is not None and run.returncode == 0 and run.stdout.split() != [str(SANDBOX_UID), "False", "True"]:
        result.missing.append(f"the sandbox is not confined as expected (uid, /etc/shadow readable, /tmp sized: "
                              f"{run.stdout.strip()})")
        return result
    if run is None or run.returncode != 0:
        detail = error if run is None else (run.stderr.strip() or run.stdout.strip())
        result.missing.append(f"bwrap cannot create a sandbox here ({detail[-300:]}); "
                              "unprivileged user namespaces may be disabled")
        return result
    result.bwrap = bwrap
    root = _pids_cgroup_root()
    if root is not None:
        result.cgroup_root = str(root)
    elif os.geteuid() == 0:
        result.missing.append("no writable pids cgroup: as root, RLIMIT_NPROC is not enforced, "
                              "so a fork bomb would not be contained")
    return result


def write_kernelspec(kernels_dir, work, hide, limits, cgroup_root="", cgroup_name=""):
    """Write kernels_dir/KERNEL_NAME/kernel.json that starts the launcher for one submission."""
    spec_dir = Path(kernels_dir) / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "autograder.sandbox", "--work", str(work),
            "--limits", json.dumps(asdict(limits)),
            "--cgroup-root", cgroup_root, "--cgroup-name", cgroup_name]
    for path in hide:
        argv += ["--hide", str(path)]
    spec = {"argv": argv + ["--", "{connection_file}"], "display_name": "Python 3 (sandbox)",
            "language": "python", "interrupt_mode": "message"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def kernel_config(kernels_dir, kernel_cwd, hide, limits, cgroup_root="", cgroup_name="", run_dir=None):
    """Set up the sandboxed kernel for one job and return the traitlets Config that selects it.

    Writes the kernelspec into kernels_dir (the caller puts kernels_dir's parent on JUPYTER_PATH,
    where jupyter_client looks for kernelspecs), and configures jupyter_client to talk to the kernel
    over Unix sockets in run_dir. Socket paths are limited to about 100 characters, so run_dir should
    be short (the caller makes one under /tmp). The kernel (uid 65534) makes its sockets in run_dir;
    JudgedExecute seals it once the kernel is up.
    """
    from traitlets.config import Config
    write_kernelspec(kernels_dir, kernel_cwd, hide, limits, cgroup_root, cgroup_name)
    run_dir = Path(run_dir or Path(kernels_dir).parent / "run")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir, 0o777)
    c = Config()
    c.KernelManager.transport = "ipc"                     # the sandbox has no network, only sockets
    c.KernelManager.ip = str(run_dir / "kernel")
    c.KernelManager.connection_file = str(run_dir / "kernel.json")
    c.Execute.kernel_name = KERNEL_NAME
    c.JudgedExecute.sealed_folder = str(run_dir)
    return c


def _join_cgroup(root, name, max_processes):
    group = Path(root) / name
    group.mkdir(exist_ok=True)
    (group / "pids.max").write_text(str(max_processes))
    (group / "cgroup.procs").write_text(str(os.getpid()))


def remove_cgroup(root, name):
    """Remove a cgroup made for a kernel, killing anything still inside it."""
    if not root or not name:
        return
    group = Path(root) / name
    if not group.exists():
        return
    for pid in (group / "cgroup.procs").read_text().split():
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        group.rmdir()
    except OSError:
        pass


def _set_limits(limits):
    mb = 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:                                    # counted per real user; root is exempt
        running = len([p for p in os.listdir("/proc") if p.isdigit()])
        resource.setrlimit(resource.RLIMIT_NPROC, (running + limits.max_processes,) * 2)


def launch(argv=None):
    """Entry point of the kernelspec: confine, limit, then exec the kernel in bwrap."""
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox")
    parser.add_argument("--work", required=True)
    parser.add_argument("--limits", required=True)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--cgroup-root", default="")
    parser.add_argument("--cgroup-name", default="")
    parser.add_argument("connection_file")
    args = parser.parse_args(argv)
    limits = Limits(**json.loads(args.limits))
    connection = json.loads(Path(args.connection_file).read_text())
    ipc_dir = Path(connection["ip"]).parent
    if args.cgroup_root:
        _join_cgroup(args.cgroup_root, args.cgroup_name, limits.max_processes)
    if os.geteuid() == 0:                                    # the kernel (uid 65534) must read its connection file
        os.chown(args.connection_file, SANDBOX_UID, SANDBOX_UID)
    cmd = bwrap_command(args.work, ipc_dir, args.connection_file, args.hide, limits)
    _set_limits(limits)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    launch()
