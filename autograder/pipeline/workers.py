"""Where grading jobs run, and with which privileges.

    parent (the instructor's process)        writes the gradebook, grades.csv, report.json, feedback
    └─ server (bwrap: a read-only view)      has imported the grader once; forks a supervisor per job
       └─ supervisor (per job)               a mount namespace where only the job's folder is writable;
          │                                  starts and stops the job's kernels when the worker asks
          ├─ worker (uid W, no privileges)   decodes the submission, runs nbgrader with the judge,
          │                                  writes result.json into its job folder; its own pid namespace
          └─ kernel (bwrap, uid 65534)       the student's code (autograder.judge.sandbox)

The server's view of the file system holds the system folders, this Python and its environment,
the grader's and rnncore's source, the course files of the run and the input, all read-only, and
the jobs folder. A supervisor mounts, for its job, the jobs folder read-only except the job's own
folder, a private temporary folder (/job-tmp), and a fresh /proc for the worker's pid namespace, then forks the worker,
which drops every privilege before it reads anything of the job:
- as root ("root" mode), the worker runs as the dedicated user W (`worker_user`), with no groups,
  no capabilities, no_new_privs, not dumpable;
- otherwise ("userns" mode), the server runs in a user namespace where the instructor is root, and
  the worker leaves it for a user namespace of its own, in which every mount it inherited is
  locked read-only;
- without bubblewrap ("none", only with --allow-unsandboxed) nothing is confined.
So a worker can write its job folder and its temporary folder, and nothing else: not the course, the
gradebook, solutions/, the package's source, another job's folder; no folder on its sys.path is
writable. Only the parent records anything, from the JSON the worker wrote, validated.

Messages between the parent and the server are JSON lines on the server's stdin and stdout:
    parent -> server   {"op": "run", "id": n, "kind": "grade"|"intake"|"probe", "workdir": ..., "kernel": {...}}
                       {"op": "cancel", "id": n}
                       {"op": "warm_up", "release": folder}     render the released notebooks once (feedback)
    server -> parent   {"op": "ready"}; {"op": "done", "id": n, "status": code, "kernel_peak_mb": x}
Closing the server's stdin stops it and everything it started.
"""
import ctypes
import grp
import json
import os
import pwd
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..judge import sandbox

DEFAULT_WORKER_USER = "rnncourse-grader"
WORKER_MEMORY_MB = 4096                # address space of a worker (the grader's own process, not the kernel)
WORKER_TMP_MB = 512                    # the job's private temporary folder (kernel sockets, nbgrader's scratch)
JOB_TMP = "/job-tmp"                   # where it is mounted (a short path: socket paths are limited)
SERVER_TMP = "/server-tmp"             # the server's own scratch (matplotlib's cache while it preloads); hidden from jobs

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38


class WorkerUnavailable(RuntimeError):
    """Workers cannot be started as required; the message says why and what to do."""


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    _check(_libc.mount(enc(source), enc(str(target)), enc(fstype), flags, enc(data)), f"mount {target}")


def _unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def _prctl(option, value):
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


# --- the worker's identity ---------------------------------------------------------------------------------
def worker_identity(name=DEFAULT_WORKER_USER, create=True):
    """(uid, gid) of the dedicated worker user (root mode); created if missing and allowed.

    Refuses root, the kernel's uid 65534 and anything that is not a plain account."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if not create:
            raise WorkerUnavailable(f"the worker user {name!r} does not exist: create it (useradd --system --no-create-home "
                                    f"--shell /usr/sbin/nologin {name}) or pass --worker-user NAME") from None
        run = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                              "--shell", "/usr/sbin/nologin", "--user-group", name], capture_output=True, text=True)
        if run.returncode != 0 and not _exists(name):           # not made by another grader at the same moment
            raise WorkerUnavailable(f"cannot create the worker user {name!r} ({(run.stderr or run.stdout).strip()[:200]}): "
                                    f"create it by hand (useradd --system --no-create-home {name}) or pass --worker-user NAME")
        entry = pwd.getpwnam(name)
    if entry.pw_uid in (0, sandbox.SANDBOX_UID) or entry.pw_gid in (0, sandbox.SANDBOX_UID):
        raise WorkerUnavailable(f"the worker user {name!r} has uid {entry.pw_uid}, gid {entry.pw_gid}: grading workers "
                                "need an account of their own (not root, not nobody)")
    return entry.pw_uid, entry.pw_gid


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# --- the server's view ---------------------------------------------------------------------------------------
def package_sources():
    """The source folders the worker imports the grader and the reference from (an editable install's too)."""
    import autograder
    import rnncore
    return [str(Path(m.__file__).resolve().parent) for m in (autograder, rnncore)]


def server_command(mode, jobs_dir, readable, cgroups):
    """The command that starts the server: bwrap with the view (modes root and userns), or plain Python."""
    main = [sys.executable, "-m", __spec__.name, str(jobs_dir)]
    if mode == "none":
        return main
    if mode == "root":
        cmd = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
    else:
        cmd = ["bwrap", "--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL",
               "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
    cmd += ["--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--perms", "0755", "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", JOB_TMP, "--perms", "0700", "--tmpfs", SERVER_TMP]
    cmd += sandbox.system_view()
    mounted = []
    for path in [*sandbox.visible_paths(), *package_sources(), *readable]:
        path = str(Path(path).resolve())
        if any(path == m or path.startswith(m + "/") for m in mounted):
            continue
        mounted.append(path)
        cmd += sandbox.parent_folders(path) + ["--ro-bind", path, path]
    cmd += sandbox.parent_folders(jobs_dir) + ["--bind", str(jobs_dir), str(jobs_dir)]
    for root in cgroups.roots:                             # the supervisors make the kernels' cgroups
        cmd += ["--bind" if mode == "root" else "--ro-bind", root, root]
    cmd += ["--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/"]   # the view's own folders, too
    venv_bin = os.path.dirname(sys.executable)
    roots = ":".join(dict.fromkeys(str(Path(p).parent) for p in package_sources()))   # the grader this process runs
    cmd += ["--clearenv", "--setenv", "PATH", f"{venv_bin}:/usr/bin:/bin", "--setenv", "PYTHONPATH", roots,
            "--setenv", "LANG", "C.UTF-8",
            "--setenv", "HOME", SERVER_TMP, "--setenv", "MPLCONFIGDIR", SERVER_TMP,
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONUNBUFFERED", "1",
            "--chdir", "/", "--"]
    return cmd + main


# --- parent side ---------------------------------------------------------------------------------------------
class Server:
    """The parent's handle on a server: start jobs, wait for them, cancel them, stop everything.

    mode: "root", "userns" or "none"; worker: (uid, gid) for root mode; readable: extra folders and
    files the workers may read (the run's course files, the input); cgroups: sandbox.Cgroups.
    """

    def __init__(self, jobs_dir, mode, worker=None, readable=(), cgroups=sandbox.Cgroups()):
        self.jobs_dir, self.mode, self.worker, self.cgroups = Path(jobs_dir), mode, worker, cgroups
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.jobs_dir, 0o755)
        self._next, self._lock, self._waiting = 0, threading.Lock(), {}
        config = {"mode": mode, "worker": list(worker) if worker else None, "cgroups": cgroups.__dict__,
                  "parent": os.getpid()}
        self.process = subprocess.Popen(server_command(mode, self.jobs_dir, readable, cgroups) + [json.dumps(config)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, bufsize=1, start_new_session=True)
        line = self.process.stdout.readline()
        if json.loads(line or "{}").get("op") != "ready":
            self.process.kill()
            raise WorkerUnavailable("the grading server did not start: " + self.process.stderr.read()[-600:].strip())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def new_workdir(self, label):
        """A fresh job folder, owned by the worker (its only writable place)."""
        with self._lock:
            self._next += 1
            number = self._next
        workdir = self.jobs_dir / f"{number:05d}-{label}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        if self.mode == "root":
            os.chown(workdir, *self.worker)
        os.chmod(workdir, 0o700)
        return workdir

    def run(self, kind, workdir, kernel=None, timeout=None):
        """Run one job to its end (or cancel it after `timeout` s). Returns the server's "done" message."""
        event, box = threading.Event(), {}
        with self._lock:
            self._next += 1
            ident = self._next
            self._waiting[ident] = (event, box)
        self._send({"op": "run", "id": ident, "kind": kind, "workdir": str(workdir), "kernel": kernel or {}})
        if not event.wait(timeout):
            self._send({"op": "cancel", "id": ident})
            event.wait(60)
            box.setdefault("status", "timeout")
            box["timed_out"] = True
        with self._lock:
            self._waiting.pop(ident, None)
        if not box:
            box = {"status": "lost", "error": "the grading server stopped"}
        return box

    def warm_up(self, release_dir):
        """Have the server render the released notebooks once: the feedback templates, markdown and highlighted
        code are then loaded in every worker it forks (a feedback page takes about 0.1 s instead of 2)."""
        self._send({"op": "warm_up", "release": str(release_dir)})

    def _send(self, message):
        try:
            with self._lock:
                self.process.stdin.write(json.dumps(message) + "\n")
                self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _read(self):
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                event, box = self._waiting.get(message.get("id"), (None, None))
            if event is not None:
                box.update(message)
                event.set()
        with self._lock:                                    # the server is gone: nobody waits for it
            for event, box in self._waiting.values():
                box.setdefault("status", "lost")
                box.setdefault("error", "the grading server stopped: " + (self.process.stderr.read()[-400:] if
                                                                          self.process.stderr else ""))
                event.set()

    def close(self):
        """Stop the server and everything it started (jobs, kernels)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for root in self.cgroups.roots:                    # whatever a killed supervisor left
            for group in Path(root).glob(f"{sandbox.CGROUP_PREFIX}{os.getpid()}-*"):
                sandbox.remove_cgroups(self.cgroups, group.name)


# --- server side -------------------------------------------------------------------------------------------
def serve(jobs_dir, config):
    """The server's loop: run jobs as they come, report each when it ends; stop when stdin closes."""
    import matplotlib.pyplot  # noqa: F401   what every job imports, once, in the server (it takes seconds)
    import rnncore  # noqa: F401

    from ..judge import worker  # noqa: F401
    running = {}                                           # supervisor pid -> (job id, summary pipe)
    by_id = {}
    print(json.dumps({"op": "ready"}), flush=True)
    stdin_open, pending = True, b""
    while stdin_open or running:
        readable, _, _ = select.select([0] if stdin_open else [], [], [], 0.1)
        lines = []
        if readable:
            chunk = os.read(0, 65536)
            if not chunk:
                stdin_open = False
                for pid in list(running):
                    _kill(pid)
            *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            message = json.loads(line)
            if message["op"] == "run":
                pid, pipe = _start_supervisor(jobs_dir, config, message)
                running[pid] = (message["id"], pipe)
                by_id[message["id"]] = pid
            elif message["op"] == "cancel" and message["id"] in by_id:
                _kill(by_id[message["id"]])
            elif message["op"] == "warm_up":               # the jobs forked after this inherit what it loaded
                from ..judge import feedback
                feedback.warm_up(message["release"])
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid not in running:
                continue
            ident, pipe = running.pop(pid)
            by_id.pop(ident, None)
            summary = _read_summary(pipe)
            _remove_job_cgroups(config, ident)             # a killed supervisor cannot clean up after itself
            code = os.waitstatus_to_exitcode(status)
            if stdin_open:
                print(json.dumps({"op": "done", "id": ident, "status": code, **summary}), flush=True)


def _job_cgroup(config, ident):
    return f"{sandbox.CGROUP_PREFIX}{config['parent']}-{ident}"


def _remove_job_cgroups(config, ident):
    cgroups = sandbox.Cgroups(**config["cgroups"])
    for root in cgroups.roots:
        for group in Path(root).glob(f"{_job_cgroup(config, ident)}-k*"):
            sandbox.remove_cgroups(cgroups, group.name)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_summary(pipe):
    try:
        data = os.read(pipe, 65536)
    except OSError:
        data = b""
    os.close(pipe)
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {}


def _start_supervisor(jobs_dir, config, message):
    """Fork the supervisor of one job; returns (its pid, the read end of its summary pipe)."""
    read_end, write_end = os.pipe()
    cgroup_name = _job_cgroup(config, message["id"])
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    os.close(read_end)
    code = 70
    try:
        code = supervise(Path(jobs_dir), config, message, cgroup_name, write_end)
    except BaseException as exc:                         # never return into the server's loop
        try:
            sys.stderr.write(f"supervisor of job {message.get('id')}: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    os._exit(code)


def supervise(jobs_dir, config, message, cgroup_name, summary_fd):
    """One job: its mount namespace, its worker, its kernels. Returns the worker's exit code."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    workdir = Path(message["workdir"]).resolve()
    if workdir.parent != jobs_dir.resolve():
        raise ValueError(f"{workdir} is not a job folder")
    mode = config["mode"]
    if mode != "none":
        _private_mounts(jobs_dir, workdir, message["kind"])
        tmp = Path(JOB_TMP)
    else:
        tmp = workdir / "tmp"
        tmp.mkdir(exist_ok=True)
    kernel = dict(message.get("kernel") or {})
    launcher = None
    if kernel:
        kernel.update(mode=mode, cgroups=config["cgroups"], cgroup_name=cgroup_name)
        launcher = sandbox.KernelLauncher(kernel, tmp / "launcher")
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    worker_pid = os.fork()
    if worker_pid == 0:
        ours.close()
        os._exit(_worker_namespace(config, message, workdir, theirs.fileno(), launcher.ip if launcher else ""))
    theirs.close()
    status = _serve_kernel_requests(ours, worker_pid, launcher)
    summary = {}
    if launcher is not None:
        launcher.stop()
        summary.update(kernel_peak_mb=launcher.peak_mb, kernel_log=launcher.log_tail())
    os.write(summary_fd, json.dumps(summary).encode())
    return os.waitstatus_to_exitcode(status) if status >= 0 else 70


def _private_mounts(jobs_dir, workdir, kind):
    """The job's mount namespace: the jobs folder read-only except this job's folder; a temporary folder of its own."""
    _unshare(CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(str(jobs_dir), str(jobs_dir), None, MS_BIND | MS_REC)
    _mount(None, str(jobs_dir), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount(str(workdir), str(workdir), None, MS_BIND)
    _mount(None, str(workdir), None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)
    _mount("tmpfs", JOB_TMP, "tmpfs", MS_NOSUID | MS_NODEV, f"size={WORKER_TMP_MB}m,mode=1777")
    _mount("tmpfs", SERVER_TMP, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0755")   # empty, read-only


def _serve_kernel_requests(channel, worker_pid, launcher):
    """Answer the worker's kernel requests until it exits; returns its wait status."""
    while True:
        pid, status = os.waitpid(worker_pid, os.WNOHANG)
        if pid:
            return status
        readable, _, _ = select.select([channel], [], [], 0.2)
        if not readable:
            continue
        try:
            data = channel.recv(sandbox.Channel.MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:                                     # the worker closed its end: wait for it to exit
            _, status = os.waitpid(worker_pid, 0)
            return status
        try:
            request = json.loads(data)
        except ValueError:
            request = None
        reply = launcher.handle(request) if launcher else {"ok": False, "error": "this job has no kernel"}
        try:
            channel.send(json.dumps(reply).encode())
        except OSError:
            pass


def _worker_namespace(config, message, workdir, channel_fd, kernel_ip):
    """In the forked child: a pid namespace of the worker's own, then the worker (pid 1 there)."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if config["mode"] != "none":
            _unshare(CLONE_NEWPID | CLONE_NEWNS)         # its /proc must not replace the supervisor's
            pid = os.fork()
            if pid:                                      # wait for the worker, exit as it did
                _, status = os.waitpid(pid, 0)
                return os.waitstatus_to_exitcode(status) & 0xFF
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _drop_privileges(config)
        return _run_worker(message, workdir, channel_fd, kernel_ip)
    except BaseException as exc:
        try:
            sys.stderr.write(f"worker of job {message.get('id')}: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
        return 70


def _drop_privileges(config):
    """Become the unprivileged worker (see the module docstring); irreversible."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_MB * 2 ** 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if config["mode"] == "root":
        uid, gid = config["worker"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)                      # all capabilities go with uid 0
    elif config["mode"] == "userns":
        uid, gid = os.geteuid(), os.getegid()
        _unshare(CLONE_NEWUSER)                          # inherited mounts are now locked; our capabilities
        Path("/proc/self/setgroups").write_text("deny")  # count only in this new, empty namespace
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_DUMPABLE, 0)                           # no other process of uid W may trace or read this one


def _run_worker(message, workdir, channel_fd, kernel_ip):
    """The job itself, in the worker: nothing it may write is on sys.path."""
    os.chdir(workdir)
    for fd in range(3, 1024):
        if fd != channel_fd:
            try:
                os.close(fd)
            except OSError:
                pass
    sys.path[:] = [p for p in sys.path if p and os.path.isdir(p) and not os.access(p, os.W_OK)]
    os.environ.update(HOME=str(workdir), TMPDIR=JOB_TMP if Path(JOB_TMP).is_dir() else str(workdir),
                      JUPYTER_CONFIG_DIR=str(workdir / "jupyter"), JUPYTER_DATA_DIR=str(workdir / "jupyter"),
                      JUPYTER_RUNTIME_DIR=str(workdir / "jupyter" / "runtime"), IPYTHONDIR=str(workdir / "ipython"),
                      MPLCONFIGDIR=str(workdir / "matplotlib"), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                      MPLBACKEND="agg", PYTHONUNBUFFERED="1")
    log = os.open(workdir / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    from ..judge import worker
    return worker.main(message["kind"], workdir, channel_fd, kernel_ip)


if __name__ == "__main__":                  # the server: python -m autograder.pipeline.workers JOBS_DIR CONFIG
    serve(Path(sys.argv[1]), json.loads(sys.argv[2]))
