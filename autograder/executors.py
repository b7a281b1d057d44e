"""Where grading jobs run: child processes on this machine, or the workers of a Dask cluster.

    LocalExecutor(jobs=N)     N jobs at a time, each in a child process of this machine (the default)
    DaskExecutor(client)      each job on a worker of a Dask cluster (`grade --scheduler` / `--cluster`)

Both take `records.Job`s and yield `(job, records.Result)` pairs as jobs finish; only the grading
process records them. Either way a job runs in `run_in_child`: a child process forked from a server
that has imported the grader once, in its own process group, stopped when it overruns its
wall-clock ceiling. Whatever goes wrong becomes a `grader-error` result with 0 points for review,
never a lost submission. A Dask task is self-contained: it carries its Job as JSON, and the course
files (`records.CourseFiles`) reach every worker once, so workers need no shared file system.
"""
import asyncio
import functools
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import sandbox
from .records import Job, Result

PRELOAD = ["autograder.worker", "matplotlib.pyplot", "rnncore"]   # what every grading child imports


def worker_processes():
    """Child processes forked from a server that has imported nbgrader once (importing it takes seconds)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def run_in_child(job, course_dir, workdir, sandbox_info, processes):
    """Grade one job in a child process (worker.run_job); returns its Result, a grader-error one if it failed."""
    from . import worker
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "job.json").write_text(job.to_json())
    proc = processes.Process(target=worker.run_job, args=(str(workdir), str(course_dir), json.dumps(sandbox_info)))
    proc.start()
    proc.join(job.wall_timeout)
    if proc.is_alive():                                       # stop the worker and its kernel together
        os.killpg(proc.pid, signal.SIGKILL)
        proc.join()
    if (workdir / "result.json").exists():
        return Result.from_json((workdir / "result.json").read_text())
    log = workdir / "worker.log"
    tail = log.read_text()[-1500:] if log.exists() else ""
    reason = (f"grading did not finish within {job.wall_timeout} s" if proc.exitcode == -signal.SIGKILL
              else f"the grading process exited with code {proc.exitcode}")
    return Result.failed(job, f"{reason}; recorded as 0 for review. {tail}")


class LocalExecutor:
    """`--jobs N`: N jobs at a time, each in a child process on this machine.

    Work folders are scratch/<student>--<assignment>; the one of a job that ended in a grader-error is
    kept for review.
    """

    def __init__(self, jobs, course_files, scratch, probe):
        self.jobs, self.scratch = max(1, jobs), Path(scratch)
        self.course_dir = course_files.write(self.scratch / "course")
        self.sandbox_info = probe.kernel_settings()
        self.processes = worker_processes()
        self.dashboard = ""

    def results(self, jobs):
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = {pool.submit(self._run, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def _run(self, job):
        workdir = self.scratch / f"{job.student}--{job.assignment}"
        shutil.rmtree(workdir, ignore_errors=True)
        result = run_in_child(job, self.course_dir, workdir, self.sandbox_info, self.processes)
        if not result.grader_error:
            shutil.rmtree(workdir, ignore_errors=True)
        return result

    def close(self):
        pass


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

    def results(self, jobs):
        from distributed import as_completed as dask_completed
        futures = {}
        for job in jobs:
            key = ("grade", job.name, job.key[:16])              # one task group "grade": queued on the scheduler
            futures[self.client.submit(grade_on_dask_worker, job.to_json(), self.course, key=key, retries=1,
                                       pure=False)] = job
        for future in dask_completed(futures):
            job = futures.pop(future)
            yield job, task_result(job, future)

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
    scratch, processes, probe = _dask_worker_state()
    course_dir = course_files.write(scratch / "course")
    workdir = Path(tempfile.mkdtemp(dir=scratch, prefix="job-"))
    try:
        return run_in_child(job, course_dir, workdir, probe.kernel_settings(), processes).to_json()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@functools.cache
def _dask_worker_state():
    """(scratch folder, grading processes, sandbox probe) of this Dask worker process, made on first use."""
    from . import course
    course.use_venv_tools()                                          # this process's entry point is Dask's
    scratch = Path(tempfile.mkdtemp(prefix="rnncourse-grader-"))
    return scratch, worker_processes(), sandbox.probe(scratch / "probe")


def describe_worker():
    """What a Dask worker offers for grading (run on every worker by `check_workers`)."""
    _, _, probe = _dask_worker_state()
    return {"missing": list(probe.missing), "daemon": multiprocessing.current_process().daemon}


async def warm_up_worker():
    """Start this worker's server of grading processes now (it imports the grader once, for seconds),
    while the grading process is still collecting the submissions. Async, so that `client.run` need
    not wait for it; the work itself runs in a thread beside the worker's event loop."""
    await asyncio.get_running_loop().run_in_executor(None, _start_grading_server)


def _start_grading_server():
    _, processes, _ = _dask_worker_state()
    child = processes.Process(target=int)
    child.start()
    child.join()


def check_workers(client):
    """{worker address: [what it lacks]} for every worker of the cluster; an empty list means ready.

    A daemonic worker process cannot start the child that grades a job (Dask's nanny starts workers
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
