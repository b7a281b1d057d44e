"""The kernel sandbox on its own: what student code inside it can and cannot do.

Each test runs a few cells in a sandboxed kernel through JudgedExecute (nbgrader's Execute as the
grader runs it) and reads the outputs. Without bubblewrap these tests are skipped, except in
CI, which sets RNNCOURSE_REQUIRE_SANDBOX=1 so that a missing sandbox fails instead.
"""
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from autograder import course
from autograder.judge import sandbox
from autograder.judge.execute import KERNEL_DIED, NOT_RUN, JudgedExecute
from grading_helpers import require_sandbox
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    return require_sandbox(tmp_path_factory.mktemp("probe"))


def run_cells(tmp_path, probe, sources, limits=sandbox.Limits(), hide=(), timeout=20):
    """Execute code cells in a fresh sandboxed kernel (launched by this process, as the supervisor would); returns
    the executed notebook."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    base = tempfile.mkdtemp(prefix="rnncourse-test-")            # sockets: a short path
    params = {"work": str(work), "limits": asdict(limits), "hide": [str(h) for h in hide], "mode": probe.mode,
              "cgroups": asdict(probe.cgroups), "cgroup_name": f"{sandbox.CGROUP_PREFIX}{os.getpid()}-test", "base": base}
    launcher_ip = str(Path(base) / "kernels" / "kernel")
    config = sandbox.kernel_config(tmp_path / "kernels", launcher_ip, {"launcher": params}, tmp_path)
    config.JudgedExecute.kernel_dirs = [str(tmp_path / "kernels")]
    config.Execute.timeout = timeout
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    try:
        JudgedExecute(config=config).preprocess(nb, {"metadata": {"path": str(work)}})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return nb


def text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def errors(cell):
    return [o.ename for o in cell.outputs if o.output_type == "error"]


def test_runs_as_nobody_without_network(tmp_path, probe):
    """Is the kernel an unprivileged user with no network, in a writable working folder?"""
    nb = run_cells(tmp_path, probe, [
        "import os; print(os.getuid())",
        "import socket\ntry:\n    socket.create_connection(('pypi.org', 443), timeout=3)\n    print('online')\n"
        "except OSError as e:\n    print('offline')",
        "open('scratch.txt', 'w').write('ok'); print(open('scratch.txt').read())",
    ])
    assert text(nb.cells[0]).strip() == "65534"
    assert text(nb.cells[1]).strip() == "offline"
    assert text(nb.cells[2]).strip() == "ok"


def test_course_sources_are_hidden_and_the_repository_is_read_only(tmp_path, probe):
    """Does the kernel see none of solutions/, .git, the samples, home folders, and can it write nothing?"""
    target = course.REPO / "rnncore" / "__init__.py"
    before = target.read_bytes()
    secret = tmp_path / "elsewhere" / "gradebook.db"          # e.g. another course's grading folder
    secret.parent.mkdir()
    secret.write_text("grades")
    nb = run_cells(tmp_path, probe, [
        f"import os; print([os.path.exists(p) for p in {[str(COURSE.solutions), str(course.REPO / '.git'), str(secret)]!r}])",
        f"print(os.path.exists({str(course.SAMPLES / 'submissions')!r}))",
        f"try:\n    open({str(target)!r}, 'a').write('# owned')\nexcept OSError as e:\n    print('refused')",
        f"import shutil\ntry:\n    shutil.rmtree({str(course.REPO / 'lectures')!r})\nexcept OSError as e:\n    print('refused')",
    ])
    assert text(nb.cells[0]).strip() == "[False, False, False]"
    assert text(nb.cells[1]).strip() == "False"
    assert text(nb.cells[2]).strip() == "refused"
    assert text(nb.cells[3]).strip() == "refused"
    assert target.read_bytes() == before and (course.REPO / "lectures" / "README.md").exists()


def test_nothing_only_root_may_read_is_readable_and_the_reference_is_absent(tmp_path, probe):
    """Can the kernel read neither /etc/shadow (root-only) nor import rnncore, the reference?"""
    nb = run_cells(tmp_path, probe, [
        "import os\nprint(os.path.exists('/etc/shadow'), os.access('/etc/shadow', os.R_OK))",
        "try:\n    import rnncore\n    print('imported')\nexcept ImportError:\n    print('absent')",
        "import autograder.testing, autograder.kernel.server\nprint('helpers')",
    ])
    assert text(nb.cells[0]).split()[1] == "False"
    assert text(nb.cells[1]).strip() == "absent"
    assert text(nb.cells[2]).strip() == "helpers"


@pytest.mark.parametrize("folder", ["/tmp", "/var/tmp", "/dev/shm", "."])
def test_writable_folders_are_small(tmp_path, probe, folder):
    """Does writing 300 MB into each writable folder fail with 'no space' long before the host's memory?"""
    nb = run_cells(tmp_path, probe, [
        f"import os\nwritten = 0\ntry:\n    for k in range(300):\n"
        f"        with open(os.path.join({folder!r}, f'f{{k}}'), 'wb') as f:\n            f.write(b'x' * 2**20)\n"
        f"        written += 1\nexcept OSError as e:\n    print('full after', written, 'MB')",
    ])
    full = text(nb.cells[0]).split()
    assert full[:2] == ["full", "after"] and int(full[2]) <= sandbox.Limits().workdir_mb


def test_the_socket_folder_is_sealed_once_the_kernel_runs(tmp_path, probe):
    """Can the kernel create files in the host folder that holds its sockets? (It must not.)"""
    nb = run_cells(tmp_path, probe, [
        "import os, sys\nfolder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
        "try:\n    open(os.path.join(folder, 'junk'), 'wb').write(b'x')\n    print('written')\n"
        "except OSError:\n    print('refused')",
    ])
    assert text(nb.cells[0]).strip() == "refused"


def test_display_updates_count_towards_the_output_cap(tmp_path, probe):
    """Is a flood of update_display_data messages cut like any other output?"""
    nb = run_cells(tmp_path, probe, [
        "from IPython.display import display\nhandle = display('start', display_id=True)\n"
        "for k in range(60):\n    handle.update('y' * 100_000 + str(k))",
        "print('after the updates')",
    ])
    stored = sum(len(str(o)) for o in nb.cells[0].outputs)
    assert stored < 2_500_000 and "[output cut" in text(nb.cells[0])
    assert text(nb.cells[1]).strip() == "after the updates"


def test_only_the_python_installation_is_visible_in_home_folders(tmp_path, probe):
    """Does a home folder show nothing but the path to the Python installation, if that lives there?"""
    home = os.path.expanduser("~")
    nb = run_cells(tmp_path, probe, [f"import os\nprint(sorted(os.listdir({home!r})) if os.path.isdir({home!r}) else [])"])
    allowed = {os.path.relpath(p, home).split(os.sep)[0] for p in sandbox.visible_paths()
               if p.startswith(home + os.sep)}
    assert set(eval(text(nb.cells[0]))) <= allowed


def test_fork_bomb_is_contained(tmp_path, probe):
    """Does a fork loop stop at the process limit, and does the kernel go on to the next cell?"""
    nb = run_cells(tmp_path, probe, [
        "import os, time\nchildren = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(2)\n            os._exit(0)\n        children += 1\n"
        "except OSError:\n    print('refused after', children)\n"
        "for _ in range(children):\n    os.wait()",                  # the bomb's children end; the kernel goes on
        "print('still grading')",
    ], limits=sandbox.Limits(max_processes=40))
    refused = text(nb.cells[0]).split()
    assert refused[:2] == ["refused", "after"] and int(refused[2]) < 40
    assert text(nb.cells[1]).strip() == "still grading"


def test_memory_bomb_hits_the_limit_and_the_kernel_survives(tmp_path, probe):
    """Does allocating past the memory limit raise MemoryError instead of exhausting the machine?"""
    nb = run_cells(tmp_path, probe, [
        "blocks = []\ntry:\n    while True:\n        blocks.append(bytearray(100 * 2**20))\n"
        "except MemoryError:\n    print('stopped at', len(blocks) * 100, 'MB')\n    blocks = None",
        "print('alive')",
    ], limits=sandbox.Limits(memory_mb=1024))
    stopped = text(nb.cells[0]).split()
    assert stopped[:2] == ["stopped", "at"] and int(stopped[2]) < 1024
    assert text(nb.cells[1]).strip() == "alive"


def test_big_files_and_huge_output_are_cut(tmp_path, probe):
    """Are writes past the file-size limit refused and a flood of output truncated by the grader?"""
    nb = run_cells(tmp_path, probe, [
        "try:\n    with open('big.bin', 'wb') as f:\n        f.write(b'x' * (8 * 2**20))\n"
        "except OSError as e:\n    print('write refused')",
        "for _ in range(20000):\n    print('x' * 500)",
        "print('after the flood')",
    ], limits=sandbox.Limits(max_file_mb=4))
    assert text(nb.cells[0]).strip() == "write refused"
    flood = text(nb.cells[1])
    assert len(flood) < 3_000_000 and "[output cut" in flood
    assert text(nb.cells[2]).strip() == "after the flood"


def test_dead_kernel_keeps_earlier_cells_and_marks_later_ones(tmp_path, probe):
    """After os._exit, are earlier outputs kept, the crashing cell marked and later cells marked not run?"""
    nb = run_cells(tmp_path, probe, ["print('before')", "import os; os._exit(1)", "print('after')"])
    assert text(nb.cells[0]).strip() == "before"
    assert errors(nb.cells[1]) == [KERNEL_DIED]
    assert errors(nb.cells[2]) == [NOT_RUN]


def test_hang_that_ignores_interrupts_is_stopped(tmp_path, probe):
    """Is a kernel that ignores the timeout interrupt stopped, with the later cells marked not run?"""
    nb = run_cells(tmp_path, probe, [
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "def spin():\n    while True:\n        try:\n            time.sleep(0.1)\n        except KeyboardInterrupt:\n            pass",
        "spin()", "spin()", "print('never')",
    ], timeout=3)
    assert errors(nb.cells[1]) == ["CellTimeoutError"]
    assert errors(nb.cells[2]) == [NOT_RUN] and errors(nb.cells[3]) == [NOT_RUN]
