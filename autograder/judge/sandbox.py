"""Run each submission's kernel in a bubblewrap sandbox, bounded as a whole.

The grader stays outside; only the kernel that executes student code is confined. A kernel is
started by a `KernelLauncher` (in grading: the job's supervisor, which runs with the privileges
the worker lacks; see autograder/pipeline/workers.py), never by the worker itself. The worker's
jupyter_client asks for a kernel through `SandboxProvisioner`, which forwards the request to the
launcher; the command that runs is the launcher's, never one the worker chose. The launcher runs
this module (`python -m autograder.judge.sandbox`) as a small trusted program, which
  1. moves itself into the job's kernel cgroups (pids and memory: the kernel's whole process tree
     is bounded, not each process) when the machine offers them,
  2. sets rlimits inherited by the kernel: address space per process, CPU time, file size, no core
     dumps, and a process count (the fallback where no pids cgroup can be made),
  3. execs bwrap: new pid, network, ipc, uts and cgroup namespaces; a file system that holds only
     the system folders, this Python and its environment, and the kernel-side helpers of the
     grader (autograder/kernel/ and testing.py: never the rest of the grader, never rnncore, the
     reference), all read-only (see `visible_paths`); sized tmpfs for the working folder, /tmp,
     /var/tmp and /dev/shm; the kernel's connection file and socket folder; an empty environment.
     The kernel runs as uid 65534 with no capabilities: as root, bwrap sets up the sandbox and
     `setpriv` drops to the host's uid 65534 (so nothing only root may read is readable);
     without root ("userns" mode) a user namespace maps uid 65534 to the instructor's own uid.
The kernel talks to the grader over Unix sockets (ipc transport) because it has no network. Its
socket folder is writable only until the kernel has made its sockets (the worker then asks the
launcher to seal it).

`probe()` says which of these protections this machine can provide; the grader refuses to run
untrusted code without all of them unless the instructor explicitly accepts the gap.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Integer

KERNEL_NAME = "rnncourse-sandbox"
PROVISIONER = "rnncourse-sandbox"          # the entry point of SandboxProvisioner (pyproject.toml)
SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
SANDBOX_UID = 65534
KERNEL_LIB = "/opt/rnncourse-kernel"       # where the kernel-side helpers appear inside the sandbox
KERNEL_SIDE = ["__init__.py", "testing.py", "kernel"]   # of the autograder package: all the sandbox mounts of it
CGROUP_PREFIX = "rnncourse-"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (defaults suit the course's assignments)."""
    memory_mb: int = 3072          # memory of the kernel's whole process tree (and address space of each process)
    cpu_seconds: int = 900         # CPU time of the whole notebook
    max_processes: int = 64        # processes and threads in the sandbox
    max_file_mb: int = 64          # largest file the kernel may write
    workdir_mb: int = 128          # size of the writable working folder
    tmp_mb: int = 64               # size of /tmp (and of /var/tmp and /dev/shm, a quarter each)


# --- cgroups: the kernel's whole process tree, bounded ---------------------------------------------------
@dataclass(frozen=True)
class Cgroups:
    """Where kernel cgroups can be made: a pids and a memory hierarchy ("" where there is none).

    cgroup v1 mounts each controller on its own folder (/sys/fs/cgroup/pids, /sys/fs/cgroup/memory);
    cgroup v2 has one folder for both. A kernel's cgroup is `<hierarchy>/<name>`."""
    pids: str = ""
    memory: str = ""

    @property
    def roots(self):
        return list(dict.fromkeys(p for p in (self.pids, self.memory) if p))


def find_cgroups(base=Path("/sys/fs/cgroup")):
    """The writable pids and memory hierarchies of this machine (v1, then v2)."""
    def writable(path):
        return (path / "cgroup.procs").exists() and os.access(path, os.W_OK)
    if writable(base / "pids") or writable(base / "memory"):                 # cgroup v1
        return Cgroups(str(base / "pids") if writable(base / "pids") else "",
                       str(base / "memory") if writable(base / "memory") else "")
    controllers = base / "cgroup.controllers"
    if controllers.exists() and writable(base):                             # cgroup v2
        available = controllers.read_text().split()
        for controller in ("pids", "memory"):
            if controller in available:
                try:
                    (base / "cgroup.subtree_control").write_text(f"+{controller}")
                except OSError:
                    pass
        enabled = (base / "cgroup.subtree_control").read_text().split()
        return Cgroups(str(base) if "pids" in enabled else "", str(base) if "memory" in enabled else "")
    return Cgroups()


def _is_v2(root):
    return (Path(root) / "cgroup.controllers").exists()


def create_cgroups(cgroups, name, limits):
    """Make the kernel cgroup `name` in each hierarchy, with the limits of the whole process tree."""
    for root in cgroups.roots:
        group = Path(root) / name
        group.mkdir(exist_ok=True)
        v2 = _is_v2(root)
        if root == cgroups.pids:
            (group / "pids.max").write_text(str(limits.max_processes))
        if root == cgroups.memory:
            limit = str(limits.memory_mb * 2 ** 20)
            (group / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
            swap = group / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")
            if swap.exists():                                  # no swapping past the limit either
                swap.write_text("0" if v2 else limit)


def join_cgroups(cgroups, name, pid):
    for root in cgroups.roots:
        (Path(root) / name / "cgroup.procs").write_text(str(pid))


def peak_memory_mb(cgroups, name):
    """The most memory the kernel's process tree used (None where the machine does not say)."""
    if not cgroups.memory:
        return None
    group = Path(cgroups.memory) / name
    for file in ("memory.peak", "memory.max_usage_in_bytes"):
        try:
            return round(int((group / file).read_text().split()[0]) / 2 ** 20, 1)
        except (OSError, ValueError, IndexError):
            continue
    return None


def remove_cgroups(cgroups, name):
    """Remove a kernel's cgroups, killing anything still inside them."""
    for root in cgroups.roots:
        group = Path(root) / name
        if not group.is_dir():
            continue
        for _ in range(50):
            try:
                pids = (group / "cgroup.procs").read_text().split()
            except OSError:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError, ValueError):
                    pass
            try:
                group.rmdir()
                break
            except OSError:
                import time
                time.sleep(0.05)


def remove_stale_cgroups(cgroups):
    """Remove the kernel cgroups of grading runs whose process is gone (`rnncourse-<pid>-...`)."""
    for root in cgroups.roots:
        for group in Path(root).glob(f"{CGROUP_PREFIX}*"):
            owner = group.name[len(CGROUP_PREFIX):].split("-")[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                remove_cgroups(Cgroups(root if root == cgroups.pids else "", root if root == cgroups.memory else ""),
                               group.name)


# --- what the machine can do -----------------------------------------------------------------------------
@dataclass
class Probe:
    """What the sandbox can do on this machine."""
    bwrap: str = ""
    missing: list = field(default_factory=list)      # protections that are not available
    cgroups: Cgroups = field(default_factory=Cgroups)
    mode: str = "none"                                # "root", "userns" or "none" (no bwrap)

    @property
    def complete(self):
        return bool(self.bwrap) and not self.missing

    def kernel_settings(self):
        """What a grading process needs to know of this machine's sandbox (it travels as JSON)."""
        return {"enabled": self.bwrap != "", "mode": self.mode, "cgroups": asdict(self.cgroups)}


def visible_paths():
    """What a sandbox may see (read-only): the system, this Python and its environment.

    Home folders, the course's solutions, the grader's package, the rnncore reference, git
    history, grading folders, other submissions and other courses' gradebooks do not exist inside.
    """
    paths = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))]
    return [str(Path(p).resolve()) for p in dict.fromkeys(paths)]


def kernel_side_files():
    """{path inside the sandbox: path on the host}: the grader's kernel-side code (autograder/kernel/) and the
    student-side helpers (autograder/testing.py), as package `autograder`: nothing else of the grader."""
    package = Path(__file__).resolve().parent.parent
    return {f"{KERNEL_LIB}/autograder/{name}": str(package / name) for name in KERNEL_SIDE}


def parent_folders(path, skip=()):
    """bwrap arguments that create the folders above a mount point as 0755 (bwrap makes them 0700)."""
    args = []
    for parent in reversed(Path(path).parents):
        if str(parent) != "/" and str(parent) not in SYSTEM_PATHS and str(parent) not in skip:
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def system_view():
    """bwrap arguments for the read-only system folders (merged /usr: /bin -> usr/bin stays a link)."""
    args = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _tmpfs(path, megabytes, perms="1777"):
    return ["--perms", perms, "--size", str(megabytes * 2 ** 20), "--tmpfs", path]


def bwrap_command(work, ipc_dir, connection_file, hide, limits, mode, command=None):
    """The bwrap argument list that runs `command` (default: an IPython kernel) confined to `work`."""
    work, ipc_dir, connection_file = (Path(p).resolve() for p in (work, ipc_dir, connection_file))
    if mode == "root":              # bwrap is privileged: no user namespace; setpriv drops to the host's uid 65534
        cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    else:                           # a user namespace maps uid 65534 inside to the instructor
        cmd = ["bwrap", "--unshare-all", "--unshare-user", "--cap-drop", "ALL",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    cmd += ["--die-with-parent", "--new-session", "--dev", "/dev", "--proc", "/proc",
            *_tmpfs("/tmp", limits.tmp_mb), *_tmpfs("/var/tmp", limits.tmp_mb // 4),
            *_tmpfs("/dev/shm", limits.tmp_mb // 4)]
    cmd += system_view()                                     # after /tmp, so a course under /tmp shows
    for path in visible_paths():
        cmd += parent_folders(path) + ["--ro-bind", path, path]
    for inside, outside in kernel_side_files().items():
        cmd += parent_folders(inside) + ["--ro-bind", outside, inside]
    for path in hide:                                        # inside the visible folders, hide these too
        if Path(path).exists():
            cmd += ["--tmpfs", str(path)]
    cmd += parent_folders(work) + _tmpfs(str(work), limits.workdir_mb, perms="0777")
    for extra in sorted(Path(work).iterdir()) if Path(work).is_dir() else []:
        if extra.is_file() and not extra.is_symlink() and extra.suffix != ".ipynb":   # data files the assignment ships
            cmd += ["--ro-bind", str(extra), str(extra)]
    cmd += parent_folders(ipc_dir) + parent_folders(connection_file)
    cmd += ["--bind", str(ipc_dir), str(ipc_dir), "--ro-bind", str(connection_file), str(connection_file),
            "--clearenv",                                    # no grader secrets or paths leak in
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "PYTHONPATH", KERNEL_LIB,
            "--setenv", "LANG", "C.UTF-8", "--setenv", "MPLBACKEND", "agg",
            "--setenv", "HOME", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "MALLOC_ARENA_MAX", "2",
            "--chdir", str(work), "--"]
    if mode == "root":
        cmd += ["setpriv", "--reuid", str(SANDBOX_UID), "--regid", str(SANDBOX_UID), "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return cmd + (command or [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file)])


def probe(scratch, mode=None):
    """Check what this machine supports by starting a tiny sandbox. Returns a Probe.

    mode: "root" (the default as root) or "userns" (the default otherwise)."""
    result = Probe()
    bwrap = shutil.which("bwrap")
    if not bwrap:
        result.missing.append("bubblewrap (bwrap) is not installed: no isolation at all "
                              "(Debian/Ubuntu: apt-get install bubblewrap)")
        return result
    mode = mode or ("root" if os.geteuid() == 0 else "userns")
    scratch = Path(scratch).resolve()                        # bwrap needs absolute paths
    work, ipc = scratch / "probe-work", scratch / "probe-ipc"
    work.mkdir(parents=True, exist_ok=True)
    ipc.mkdir(parents=True, exist_ok=True)
    conn = ipc / "conn.json"
    conn.write_text("{}")
    check = ("import os; print(os.getuid(), os.access('/etc/shadow', os.R_OK), "
             "os.statvfs('/tmp').f_blocks * os.statvfs('/tmp').f_frsize <= 2 ** 30)")
    cmd = bwrap_command(work, ipc, conn, [], Limits(), mode, command=[sys.executable, "-c", check])
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        run = None
        error = str(exc)
    expected = [str(SANDBOX_UID), "False" if mode == "root" else str(os.access("/etc/shadow", os.R_OK)), "True"]
    if run is not None and run.returncode == 0 and run.stdout.split() != expected:
        result.missing.append(f"the sandbox is not confined as expected (uid, /etc/shadow readable, /tmp sized: "
                              f"{run.stdout.strip()})")
        return result
    if run is None or run.returncode != 0:
        detail = error if run is None else (run.stderr.strip() or run.stdout.strip())
        result.missing.append(f"bwrap cannot create a sandbox here ({detail[-300:]}); "
                              "unprivileged user namespaces may be disabled")
        return result
    result.bwrap, result.mode = bwrap, mode
    result.cgroups = find_cgroups() if mode == "root" else Cgroups()
    if mode == "root" and not result.cgroups.pids:
        result.missing.append("no writable pids cgroup: as root, RLIMIT_NPROC is not enforced, "
                              "so a fork bomb would not be contained")
    if mode == "root" and not result.cgroups.memory:
        result.missing.append("no writable memory cgroup: a kernel's children could together use "
                              "max_processes x memory_mb")
    return result


# --- starting kernels: the launcher (privileged side) and the provisioner (worker side) -----------------
class KernelLauncher:
    """Starts, watches and stops the sandboxed kernels of one job, on requests of the job's worker.

    Everything that decides what runs comes from `params`, given by the grader when the job
    started: the working folder, the limits, what to hide, the cgroups, the mode. From the worker
    it takes only the kernel's connection data, checked field by field and written by itself into a
    folder the worker cannot write. `base` is a folder of the job's private /tmp.
    """

    def __init__(self, params, base):
        self.params, self.base = params, Path(base)
        self.limits = Limits(**params["limits"])
        self.cgroups = Cgroups(**params.get("cgroups", {}))
        self.ipc_dir = self.base / "kernels"                 # the kernel's sockets (and the worker's end of them)
        self.conn_dir = self.base / "connections"            # connection files: the launcher's own copies
        self.log_dir = self.base / "logs"                    # what the kernel process wrote to stderr (for errors)
        self.process, self.launched = None, 0
        self.peak_mb = None
        for folder, mode in ((self.ipc_dir, 0o755), (self.conn_dir, 0o711), (self.log_dir, 0o755)):
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, mode)

    @property
    def ip(self):
        """The ipc address prefix the worker's KernelManager must use."""
        return str(self.ipc_dir / "kernel")

    def cgroup_name(self):
        return f"{self.params['cgroup_name']}-k{self.launched}"

    def launch(self, connection):
        """Start a kernel for this connection data (a dict the worker sent)."""
        self.stop()
        info = self._checked(connection)
        self.launched += 1
        conn_file = self.conn_dir / f"kernel-{self.launched}.json"
        descriptor = os.open(conn_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        with os.fdopen(descriptor, "w") as f:
            json.dump(info, f)
        if self.params["mode"] == "root":
            os.chown(conn_file, SANDBOX_UID, SANDBOX_UID)    # the kernel (uid 65534) reads it
        os.chmod(self.ipc_dir, 0o777)                         # the kernel makes its sockets in there
        if self.cgroups.roots:
            create_cgroups(self.cgroups, self.cgroup_name(), self.limits)
        launcher = {"work": self.params["work"], "limits": asdict(self.limits), "hide": self.params.get("hide", []),
                    "mode": self.params["mode"], "cgroups": asdict(self.cgroups), "cgroup_name": self.cgroup_name()}
        with open(self.log_dir / f"kernel-{self.launched}.log", "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", __spec__.name, json.dumps(launcher), str(conn_file)],
                                            start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def _checked(self, connection):
        if type(connection) is not dict:
            raise ValueError("the connection data must be a dict")
        info = {"transport": "ipc", "ip": self.ip, "signature_scheme": "hmac-sha256"}
        if connection.get("transport") != "ipc" or connection.get("ip") != self.ip:
            raise ValueError(f"the kernel must listen on ipc://{self.ip}-*")
        if connection.get("signature_scheme") != "hmac-sha256":
            raise ValueError("the kernel's messages must be signed with hmac-sha256")
        for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
            port = connection.get(name)
            if type(port) is not int or not 0 < port < 65536:
                raise ValueError(f"{name} must be a port number")
            info[name] = port
        key = connection.get("key")
        if type(key) is not str or not 0 < len(key) <= 256 or not key.isprintable():
            raise ValueError("the key must be printable text")
        info["key"] = key
        return info

    def poll(self):
        return None if self.process is None else self.process.poll()

    def signal(self, signum):
        if signum not in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            raise ValueError(f"signal {signum} is not one a kernel gets")
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def seal(self):
        """No new files in the socket folder: the kernel has made its sockets."""
        os.chmod(self.ipc_dir, 0o755)

    def stop(self):
        """Stop the running kernel (if any) and everything it started; remember its peak memory."""
        if self.process is None:
            return
        self.signal(signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.cgroups.roots:
            peak = peak_memory_mb(self.cgroups, self.cgroup_name())
            self.peak_mb = peak if self.peak_mb is None or peak is None else max(self.peak_mb, peak)
            remove_cgroups(self.cgroups, self.cgroup_name())
        self.process = None

    def log_tail(self, n=1500):
        """The end of what the last kernel process wrote to stderr (it dies before it can say more elsewhere)."""
        log = self.log_dir / f"kernel-{self.launched}.log"
        return log.read_text(errors="replace")[-n:] if self.launched and log.is_file() else ""

    def handle(self, request):
        """One request of the worker's provisioner -> the reply (plain JSON); never raises."""
        try:
            op = request.get("op") if type(request) is dict else None
            if op == "launch":
                self.launch(request.get("connection"))
                return {"ok": True}
            if op == "poll":
                return {"ok": True, "returncode": self.poll()}
            if op == "signal":
                self.signal(int(request.get("signum", 0)))
                return {"ok": True}
            if op == "seal":
                self.seal()
                return {"ok": True}
            if op == "stop":
                self.stop()
                return {"ok": True}
            return {"ok": False, "error": f"unknown request {str(op)[:40]!r}"}
        except (OSError, ValueError, TypeError) as exc:
            return {"ok": False, "error": str(exc)[:300]}


class Channel:
    """Requests to a KernelLauncher: over a socket to the job's supervisor, or to one in this process."""

    MAX_MESSAGE = 65536

    def __init__(self, fd=-1, launcher=None):
        self.socket = socket.socket(fileno=fd) if fd >= 0 else None
        self.launcher = launcher

    def request(self, **request):
        if self.launcher is not None:
            reply = self.launcher.handle(json.loads(json.dumps(request)))
        else:
            self.socket.send(json.dumps(request).encode())
            data = self.socket.recv(self.MAX_MESSAGE)
            if not data:
                raise RuntimeError("the job's supervisor is gone")
            reply = json.loads(data)
        if not reply.get("ok"):
            raise RuntimeError(f"the kernel launcher refused: {reply.get('error')}")
        return reply


class _LaunchedKernel:
    """What the provisioner knows of a kernel the launcher started: enough for poll, wait and signals."""

    def __init__(self, channel):
        self.channel, self.returncode = channel, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self.channel.request(op="poll")["returncode"]
        return self.returncode

    def send_signal(self, signum):
        self.channel.request(op="signal", signum=int(signum))

    def kill(self):
        self.send_signal(signal.SIGKILL)


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's provisioner for the sandboxed kernel: it asks the job's KernelLauncher to start it.

    Configured in the kernelspec (see `write_kernelspec`): `channel_fd` is the worker's socket to
    its supervisor; without one, `launcher` holds the parameters of a KernelLauncher made in this
    process (only a process that may drop a kernel to uid 65534 itself can do that: the tests, as
    root)."""

    channel_fd = Integer(-1, help="the worker's socket to the job's supervisor").tag(config=True)
    launcher = Dict(help="KernelLauncher parameters, when this process launches kernels itself").tag(config=True)
    _channels = {}                       # one Channel per fd or launcher folder, shared by the kernels of a job

    def _channel(self):
        key = self.channel_fd if self.channel_fd >= 0 else self.launcher.get("base")
        if key not in SandboxProvisioner._channels:
            if self.channel_fd >= 0:
                SandboxProvisioner._channels[key] = Channel(fd=self.channel_fd)
            else:
                SandboxProvisioner._channels[key] = Channel(launcher=KernelLauncher(self.launcher, self.launcher["base"]))
        return SandboxProvisioner._channels[key]

    async def launch_kernel(self, cmd, **kwargs):
        connection = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self.connection_info.items()}
        self._channel().request(op="launch", connection=connection)
        self.process = _LaunchedKernel(self._channel())
        self.pid = self.pgid = None
        return self.connection_info

    async def poll(self):
        return self.process.poll() if self.process else 0

    async def wait(self):
        import asyncio
        if self.process is None:
            return 0
        while self.process.poll() is None:
            await asyncio.sleep(0.1)
        code, self.process = self.process.returncode, None
        return code

    async def send_signal(self, signum):
        if self.process:
            self.process.send_signal(signum)

    async def kill(self, restart=False):
        if self.process:
            self.process.kill()

    async def terminate(self, restart=False):
        if self.process:
            self.process.send_signal(signal.SIGTERM)

    async def cleanup(self, restart=False):
        if not restart:
            self._channel().request(op="stop")

    def seal(self):
        """Ask the launcher to seal the kernel's socket folder (call once the kernel is up)."""
        self._channel().request(op="seal")


def write_kernelspec(kernels_dir, provisioner_config):
    """Write kernels_dir/KERNEL_NAME/kernel.json: a kernel started through SandboxProvisioner."""
    spec_dir = Path(kernels_dir) / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": ["(started by the job's kernel launcher)", "{connection_file}"],
            "display_name": "Python 3 (sandbox)", "language": "python", "interrupt_mode": "message",
            "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER, "config": provisioner_config}}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


def kernel_config(kernels_dir, ip, provisioner_config, work_dir):
    """The traitlets Config that runs a job's notebooks in the sandboxed kernel.

    Writes the kernelspec into kernels_dir (the executor must look there: `JudgedExecute.kernel_dirs`).
    `ip` is the launcher's ipc address prefix; connection files go to work_dir.
    """
    from traitlets.config import Config
    write_kernelspec(kernels_dir, provisioner_config)
    c = Config()
    c.KernelManager.transport = "ipc"                     # the sandbox has no network, only sockets
    c.KernelManager.ip = ip
    c.KernelManager.connection_file = str(Path(work_dir) / "kernel.json")
    c.Execute.kernel_name = KERNEL_NAME
    return c


# --- the launcher program (python -m autograder.judge.sandbox) ------------------------------------------------
def _set_limits(limits, count_processes):
    mb = 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if count_processes:                                       # counted per real user: the fallback without a pids cgroup
        running = len([p for p in os.listdir("/proc") if p.isdigit()])
        resource.setrlimit(resource.RLIMIT_NPROC, (running + limits.max_processes,) * 2)


def launch(argv=None):
    """Entry point of the launcher: join the kernel's cgroups, limit, then exec the kernel in bwrap."""
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}")
    parser.add_argument("params", help="JSON: work, limits, hide, mode, cgroups, cgroup_name")
    parser.add_argument("connection_file")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    limits, cgroups = Limits(**params["limits"]), Cgroups(**params["cgroups"])
    connection = json.loads(Path(args.connection_file).read_text())
    ipc_dir = Path(connection["ip"]).parent
    if cgroups.roots:
        join_cgroups(cgroups, params["cgroup_name"], os.getpid())
    cmd = bwrap_command(params["work"], ipc_dir, args.connection_file, params["hide"], limits, params["mode"])
    os.umask(0)                                               # the worker (another uid) connects to the kernel's sockets
    _set_limits(limits, count_processes=not cgroups.pids and os.geteuid() != 0)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    launch()
