"""Where grading jobs run: workers on this machine, or on the machines of a Dask cluster.

    LocalExecutor(jobs=N)     N jobs at a time, each in a worker of this machine's server (the default)
    DaskExecutor(client)      each job on a worker of a Dask cluster (`grade --scheduler` / `--cluster`)

Both take `records.Job`s and yield `(job, records.Result)` pairs as jobs finish; only the grading
process records them. Either way a job runs through `run_job`: in a worker forked by a server
(autograder/pipeline/workers.py) that has imported the grader once, in a job folder of its own, without
privileges, stopped when it overruns its wall-clock ceiling. Whatever goes wrong becomes a
`grader-error` result with 0 points for review, never a lost submission. A Dask task is
self-contained: it carries its Job as JSON, and the course files (`records.CourseFiles`) reach
every worker once, so workers need no shared file system.

`open_run` checks, before anything is written, where jobs will run, and starts this machine's
server (intake always runs here: the input is here).
"""
import asyncio
import functools
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from ..judge import sandbox
from ..records import Job, Problem, Result, read_limited, write_atomic
from . import workers

INTAKE_TIMEOUT = 1800                    # seconds to unpack and sort the whole input
AHEAD = 50                               # Dask tasks submitted ahead of the results


def kernel_params(job, workdir, sandbox_info):
    """What the job's supervisor needs to start the job's kernels (None: an unconfined kernel)."""
    if not sandbox_info["enabled"]:
        return None
    work = Path(workdir) / "course" / "autograded" / job.student / job.assignment
    return {"work": str(work), "limits": job.limits, "hide": job.hide}


def run_job(server, job, course_dir, sandbox_info):
    """Grade one job in a worker of `server`; returns its Result (a grader-error one if anything failed)."""
    label = f"{job.student}--{job.assignment}"[:100]
    started = time.monotonic()
    workdir = server.new_workdir(label)
    write_atomic(workdir / "input.json", json.dumps({"course_dir": str(course_dir), "job": json.loads(job.to_json())}))
    done = server.run("grade", workdir, kernel_params(job, workdir, sandbox_info), timeout=job.wall_timeout)
    try:
        result = Result.from_json(read_limited(workdir / "result.json"))
        if (result.student, result.assignment, result.key) != (job.student, job.assignment, job.key):
            raise ValueError("the result is not this job's")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = (f"grading did not finish within {job.wall_timeout} s" if done.get("timed_out") else
                  f"the worker ended with status {done.get('status')} and no readable result ({type(exc).__name__})")
        log = workdir / "worker.log"
        tail = read_limited(log, 2 ** 20)[-1500:] if log.is_file() else ""
        return Result.failed(job, f"{reason}; recorded as 0 for review (worker folder kept: {workdir}). {tail}")
    result.timing["total_seconds"] = round(time.monotonic() - started, 3)
    if done.get("kernel_peak_mb") is not None:
        result.timing["kernel_peak_mb"] = float(done["kernel_peak_mb"])
    if result.grader_error and done.get("kernel_log"):
        result.problems.append(Problem("grader-error", f"the kernel's last words: {str(done['kernel_log'])[-800:]}"))
    shutil.rmtree(workdir, ignore_errors=True)
    return result


class LocalExecutor:
    """`--jobs N`: N jobs at a time, each in a worker of this machine's server."""

    def __init__(self, jobs, server, course_dir, sandbox_info):
        self.jobs, self.server, self.course_dir, self.sandbox_info = max(1, jobs), server, course_dir, sandbox_info
        self.dashboard = ""
        self._pool = None

    def results(self, jobs):
        """(job, Result) as jobs finish; at most 2 x N jobs are in flight (memory does not grow with the class)."""
        self._pool = ThreadPoolExecutor(max_workers=self.jobs)
        jobs, pending = iter(jobs), {}
        try:
            while True:
                while len(pending) < 2 * self.jobs and (job := next(jobs, None)) is not None:
                    pending[self._pool.submit(run_job, self.server, job, self.course_dir, self.sandbox_info)] = job
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield pending.pop(future), future.result()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def cancel(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self):
        pass


class Run:
    """What one grading run needs of the machine: the local server (intake, and local jobs) and the executor."""

    def __init__(self, settings, probe, server, scratch, client=None, cluster=None, sandbox_label=""):
        self.settings, self.probe, self.server, self.scratch = settings, probe, server, scratch
        self.client, self.cluster = client, cluster
        self.kind = "dask" if client is not None else "local"
        self.sandbox_label = sandbox_label or ("bubblewrap" if probe.bwrap else "none")
        self._executor = None

    def intake(self, source, settings):
        """Unpack and sort the input in a worker: (manifest, the staging folder it describes).

        The input is copied into the worker's folder first (a copy of bytes, nothing decoded): the
        instructor's folder need not be readable by the worker's uid."""
        workdir = self.server.new_workdir("intake")
        copy = workdir / "input" / Path(source).name if Path(source).is_file() else workdir / "input"
        copy.parent.mkdir(exist_ok=True)
        skipped = copy_input(Path(source), copy)
        write_atomic(workdir / "input.json", json.dumps({
            "source": str(copy), "skipped": skipped, "assignments": settings.course.assignment_ids,
            "assignment": settings.assignment, "lms_regexp": settings.lms_regexp}))
        done = self.server.run("intake", workdir, timeout=INTAKE_TIMEOUT)
        try:
            manifest = json.loads(read_limited(workdir / "manifest.json"))
            if type(manifest) is not dict:
                raise ValueError("not a manifest")
        except (OSError, ValueError) as exc:
            log = workdir / "worker.log"
            tail = read_limited(log, 2 ** 20)[-600:].strip() if log.is_file() else ""
            from .grade import GradingError
            raise GradingError(f"the submissions in {source} could not be read (status {done.get('status')}, "
                               f"{type(exc).__name__}): {tail}") from None
        return manifest, workdir / "staging"

    def executor(self, course_files):
        if self.client is None:
            course_dir = course_files.write(self.scratch / "course")
            self.server.warm_up(course_dir / "release")
            self._executor = LocalExecutor(self.settings.jobs, self.server, course_dir, self.probe.kernel_settings())
        else:
            self._executor = DaskExecutor(self.client, course_files, self.cluster)
        return self._executor

    def cancel(self):
        """Ctrl-C: queued jobs are dropped, running workers and kernels stopped."""
        if self._executor is not None:
            self._executor.cancel()
        self.server.close()

    def close(self):
        if self._executor is not None:
            self._executor.close()
        elif self.client is not None:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        self.server.close()


def copy_input(source, target):
    """Copy the input's regular files and folders (links as links, for intake to refuse); returns the
    relative names of what is neither (devices, sockets, pipes), which intake reports."""
    if source.is_file():
        shutil.copyfile(source, target)
        return []
    skipped = []
    for folder, dirs, names in os.walk(source):              # links are not followed
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in dirs + names:
            path = Path(folder) / name
            if path.is_symlink():
                os.symlink(os.readlink(path), target / relative / name)
            elif name in names and path.is_file():
                shutil.copyfile(path, target / relative / name)
            elif name in names:
                skipped.append(str(relative / name))
    return skipped


def start_server(probe, scratch, readable, worker_user):
    """This machine's server, in the strongest mode the probe allows (see autograder/pipeline/workers.py)."""
    mode = probe.mode if probe.bwrap else "none"
    identity = workers.worker_identity(worker_user) if mode == "root" else None
    sandbox.remove_stale_cgroups(probe.cgroups)
    return workers.Server(Path(scratch) / "jobs", mode, identity, readable, probe.cgroups)


def open_run(settings, source, check_sandbox):
    """Check and connect to where the jobs will run, before anything is written; start this machine's server."""
    from .grade import GradingError, SandboxUnavailable
    scratch = settings.out / "work"
    probe_dir = Path(tempfile.mkdtemp(prefix="rnncourse-probe-"))
    try:
        probe = check_sandbox(settings, probe_dir)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    client = cluster = None
    label = ""
    if settings.scheduler or settings.cluster:
        client, cluster, incomplete = _connect(settings)
        label = "incomplete on some workers" if incomplete else "bubblewrap"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        os.chmod(scratch, 0o700)                                    # the course files (hidden tests) are in there
        shutil.rmtree(scratch / "jobs", ignore_errors=True)         # what a killed run left
        (scratch / "course").mkdir(exist_ok=True)
        server = start_server(probe, scratch, [scratch / "course"], settings.worker_user)
    except workers.WorkerUnavailable as exc:
        if client is not None:
            client.close()
        raise SandboxUnavailable(f"REFUSING TO GRADE: {exc}") from None
    except OSError as exc:
        if client is not None:
            client.close()
        raise GradingError(f"cannot prepare {scratch} ({exc.strerror}): choose another --out") from None
    return Run(settings, probe, server, scratch, client, cluster, label)


def _connect(settings):
    from .grade import GradingError, SandboxUnavailable
    try:
        from distributed import Client
    except ImportError:
        raise GradingError("grading on a Dask cluster needs dask.distributed: pip install 'rnncore[cluster]'") from None
    cluster = None
    if settings.cluster:
        cluster = local_cluster(int(settings.cluster.split(":")[1]))
        client = Client(cluster)
    else:
        try:
            client = Client(settings.scheduler, timeout=10)
        except OSError as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {settings.scheduler} ({exc}); start it "
                               "(`dask scheduler`) or check the address and that this machine may connect") from None
    lacking = {address: gaps for address, gaps in check_workers(client).items() if gaps}
    fatal = {a: [g for g in gaps if "daemonic" in g or not settings.allow_unsandboxed] for a, gaps in lacking.items()}
    if not client.scheduler_info()["workers"] or any(fatal.values()):
        client.close()
        if cluster is not None:
            cluster.close()
        if not lacking:
            raise GradingError(f"the Dask cluster at {settings.scheduler} has no workers: start some (`dask worker "
                               f"{settings.scheduler}`)")
        lines = "\n".join(f"  - {address}: {gap}" for address, gaps in sorted(fatal.items()) for gap in gaps)
        raise SandboxUnavailable("REFUSING TO GRADE: these Dask workers cannot grade safely:\n" + lines +
                                 "\nInstall what is missing on them (see autograder/README.md), or pass "
                                 "--allow-unsandboxed to accept running student code without a sandbox.")
    if lacking:
        print("WARNING: grading WITHOUT full isolation (--allow-unsandboxed) on: " + ", ".join(sorted(lacking)),
              file=sys.stderr)
    client.run(warm_up_worker, settings.worker_user, wait=False)    # while this process collects the submissions
    return client, cluster, bool(lacking)


# --- Dask -----------------------------------------------------------------------------------------------
class DaskExecutor:
    """Each job a task on a Dask cluster (dask.distributed); `client` is connected to its scheduler.

    A task that raises is retried once; a task whose worker dies (killed, out of memory) is
    rescheduled by the scheduler until it has seen `distributed.scheduler.allowed-failures` deaths,
    then reported as KilledWorker: both end as a grader-error result. The tasks form one group
    ("grade"), so when there are more than twice as many as worker threads the scheduler queues them
    and hands a worker only what it runs (`worker-saturation` 1.0): a death then counts only against
    the task that was running. (Dask also counts it against tasks assigned to that worker but not
    started, which happens only in runs smaller than that.)
    """

    def __init__(self, client, course_files, cluster=None):
        self.client, self.cluster = client, cluster
        # Once in the graph, not once per task: workers fetch it from each other, and a worker that dies with
        # it is no loss (scattered data would be lost with the last worker that held it).
        self.course = client.submit(_same, course_files, key=f"course-files-{course_files.version}", pure=False)
        info = client.scheduler_info()
        port = info.get("services", {}).get("dashboard")
        self.dashboard = client.dashboard_link if port else ""
        self._futures = {}

    def results(self, jobs):
        """(job, Result) as tasks finish. At most AHEAD tasks (or 4 per worker thread) wait at once: enough for the
        scheduler to queue them, few enough that the grading process's memory does not grow with the class."""
        from distributed import as_completed as dask_completed
        jobs = iter(jobs)
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values())
        ahead = max(AHEAD, 4 * threads)
        finished = dask_completed()
        while True:
            while len(self._futures) < ahead and (job := next(jobs, None)) is not None:
                key = ("grade", job.name, job.key[:16])          # one task group "grade": queued on the scheduler
                future = self.client.submit(grade_on_dask_worker, job.to_json(), self.course, key=key, retries=1,
                                            pure=False)
                self._futures[future] = job
                finished.add(future)
            if not self._futures:
                return
            future = next(finished)
            job = self._futures.pop(future)
            yield job, task_result(job, future)

    def cancel(self):
        self.client.cancel(list(self._futures), force=True)

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _same(value):
    return value


def task_result(job, future):
    """The Result of a finished Dask task; a grader-error Result if the task failed or its worker died."""
    try:
        return Result.from_json(future.result())
    except Exception as exc:                                          # KilledWorker, or the task raised twice
        from distributed.scheduler import KilledWorker
        reason = ("its Dask worker died while grading it (killed or out of memory), also on the retry"
                  if isinstance(exc, KilledWorker) else f"the Dask task failed twice: {type(exc).__name__}: {exc}")
        return Result.failed(job, f"{reason}; recorded as 0 for review")


def grade_on_dask_worker(job_json, course_files):
    """The Dask task: grade one Job (JSON) on this worker; returns the Result as JSON."""
    job = Job.from_json(job_json)
    scratch, server, probe = _dask_worker_state()
    course_dir = course_files.write(scratch / "course")
    if course_dir not in _warmed:
        server.warm_up(course_dir / "release")
        _warmed.add(course_dir)
    return run_job(server, job, course_dir, probe.kernel_settings()).to_json()


_warmed = set()                          # course files whose release this Dask worker's server has rendered


@functools.cache
def _dask_worker_state(worker_user=workers.DEFAULT_WORKER_USER):
    """(scratch folder, server, sandbox probe) of this Dask worker process, made on first use."""
    scratch = Path(tempfile.mkdtemp(prefix="rnncourse-grader-"))
    (scratch / "course").mkdir()
    probe = sandbox.probe(scratch / "probe")
    server = start_server(probe, scratch, [scratch / "course"], worker_user)
    return scratch, server, probe


def describe_worker():
    """What a Dask worker offers for grading (run on every worker by `check_workers`)."""
    probe = sandbox.probe(tempfile.mkdtemp(prefix="rnncourse-probe-"))
    return {"missing": list(probe.missing), "daemon": multiprocessing.current_process().daemon}


async def warm_up_worker(worker_user=workers.DEFAULT_WORKER_USER):
    """Start this worker's server now (it imports the grader once, for seconds), while the grading process
    is still collecting the submissions. Async, so that `client.run` need not wait for it; the work itself
    runs in a thread beside the worker's event loop."""
    await asyncio.get_running_loop().run_in_executor(None, _dask_worker_state, worker_user)


def check_workers(client):
    """{worker address: [what it lacks]} for every worker of the cluster; an empty list means ready.

    A daemonic worker process cannot start the processes that grade a job (Dask's nanny starts workers
    as daemons unless the configuration says otherwise); a worker without the full sandbox would run
    student code unconfined.
    """
    lacking = {}
    for address, info in client.run(describe_worker).items():
        gaps = list(info["missing"])
        if info["daemon"]:
            gaps.insert(0, "it runs as a daemonic process and cannot start grading processes: start workers with "
                           "DASK_DISTRIBUTED__WORKER__DAEMON=False in their environment (or with --no-nanny)")
        lacking[address] = gaps
    return lacking


def local_cluster(n_workers):
    """A LocalCluster of n worker processes on loopback, ready for grading (non-daemonic workers, one retry
    after a worker dies). The settings stay in this process's Dask configuration: the nanny reads them
    again when it restarts a worker that died."""
    import dask
    from distributed import LocalCluster
    dask.config.set({"distributed.worker.daemon": False,             # a worker starts grading processes
                     "distributed.scheduler.allowed-failures": 1,       # a task survives one worker death
                     "distributed.scheduler.worker-saturation": 1.0})   # a worker holds only the task it runs
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, memory_limit=0)
