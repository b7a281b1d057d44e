"""The grading workers: what a process that decodes a submission can reach.

A worker is started the way a grading run starts one (a server, a supervisor, the worker) and runs
the `probe` job: it tries to write the course files, the gradebook, the grader's package, the
virtual environment, another job's folder, the server's temporary folder, and reports which folders
on its sys.path it could write (a module planted there would be imported later). Everything but its
own job folder and its own temporary folder must refuse. The grader runs from a temporary copy of
the repository, so a protection that failed would change the copy, not this working tree.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import course
from grading_helpers import require_sandbox

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent('''
    import json, os, sys
    from pathlib import Path
    from autograder.judge import sandbox
    from autograder.pipeline import workers
    from autograder.records import write_atomic
    mode, scratch, targets = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    probe = sandbox.probe(scratch / "probe", mode=mode)
    identity = workers.worker_identity() if mode == "root" else None
    server = workers.Server(scratch / "jobs", mode, identity, [scratch / "course"], probe.cgroups)
    try:
        other = server.new_workdir("other")
        mine = server.new_workdir("probe")
        paths = [*targets, str(other), str(scratch / "jobs"), "/tmp", "/dev/shm", "/", str(mine), workers.JOB_TMP]
        write_atomic(mine / "input.json", json.dumps({"paths": paths}))
        done = server.run("probe", mine, timeout=120)
        print(json.dumps({"done": done, "probe": json.loads((mine / "probe.json").read_text()),
                          "other": str(other), "mine": str(mine)}))
    finally:
        server.close()
''')


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A copy of the grader, the reference and the course, as a grading machine would have them."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    copy = tmp_path_factory.mktemp("repository")
    for name in ("autograder", "rnncore", "solutions", "assignments"):
        shutil.copytree(course.REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "samples"))
    return copy


def probe_worker(repository, tmp_path, mode):
    scratch = tmp_path / "out" / "work"
    (scratch / "course").mkdir(parents=True)
    (scratch / "course" / "solutions.ipynb").write_text("{}")         # what the run's course files are
    (tmp_path / "out" / "gradebook.db").write_text("grades")
    targets = [str(scratch / "course"), str(scratch / "course" / "solutions.ipynb"), str(tmp_path / "out" / "gradebook.db"),
               str(repository / "autograder"), str(repository / "autograder" / "pipeline" / "workers.py"), str(repository / "rnncore"),
               str(repository / "solutions"), sys.prefix, str(Path(sys.prefix) / "lib")]
    run = subprocess.run([sys.executable, "-c", PROBE, mode, str(scratch), json.dumps(targets)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(repository)}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["done"]["status"] == 0, report
    return targets, report


@pytest.mark.parametrize("mode", ["root", "userns"])
def test_a_worker_can_write_only_its_job_folder_and_its_temporary_folder(repository, tmp_path, mode):
    """Does every write outside the job's own folders fail, whatever the mode the grader runs workers in?"""
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("root mode needs root")
    targets, report = probe_worker(repository, tmp_path, mode)
    writes = report["probe"]["writes"]
    for path in [*targets, report["other"], str(Path(report["other"]).parent), "/tmp", "/dev/shm", "/"]:
        assert writes[path].startswith("refused"), (path, writes[path])
    assert writes[report["mine"]] == "written" and writes["/job-tmp"] == "written"
    assert (repository / "autograder" / "pipeline" / "workers.py").read_text().startswith('"""Where grading jobs run')
    assert (tmp_path / "out" / "gradebook.db").read_text() == "grades"


@pytest.mark.parametrize("mode", ["root", "userns"])
def test_no_folder_on_a_workers_sys_path_is_writable(repository, tmp_path, mode):
    """Could a worker plant a module that a later import would load? (No folder on its sys.path is writable.)"""
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("root mode needs root")
    _, report = probe_worker(repository, tmp_path, mode)
    assert report["probe"]["writable_sys_path"] == []


def test_as_root_a_worker_runs_as_the_dedicated_user_without_capabilities(repository, tmp_path):
    """Is the worker neither root nor nobody, and without any capability?"""
    if os.geteuid() != 0:
        pytest.skip("as root only")
    import pwd
    _, report = probe_worker(repository, tmp_path, "root")
    uid = pwd.getpwnam("rnncourse-grader").pw_uid
    assert report["probe"]["uid"] == report["probe"]["euid"] == uid not in (0, 65534)
    assert int(report["probe"]["capabilities"], 16) == 0


def test_a_worker_user_that_cannot_be_used_is_refused_clearly():
    """Is root, or nobody, as the worker user refused with a message that says what to do?"""
    from autograder.pipeline import workers
    for name in ("root", "nobody"):
        with pytest.raises(workers.WorkerUnavailable, match="need an account of their own"):
            workers.worker_identity(name)
    with pytest.raises(workers.WorkerUnavailable, match="does not exist: create it"):
        workers.worker_identity("rnncourse-no-such-user", create=False)
