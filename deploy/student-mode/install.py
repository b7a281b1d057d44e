"""Install the course's student mode of JupyterLab into an environment (or a configuration prefix).

    python deploy/student-mode/install.py --prefix .venv
    python deploy/student-mode/install.py --prefix HUB/student-mode --config-only --exchange

What it writes (see README.md beside this file for why), all under PREFIX/etc/jupyter/:
  jupyter_server_config.d/rnncourse-student-mode.json
      nbgrader's Formgrader and Course List server extensions off (Assignment List too unless
      --exchange); nbgrader's Validate replaced by rnncourse_student_mode's
  jupyter_server_config.json (merged key by key)
      files stored without write permission stay read-only (rnncourse_student_mode's
      ReadOnlyContentsManager); --hide names left out of the file browser
  labconfig/page_config.d/rnncourse-student-mode.json
      the matching JupyterLab plugins disabled
  labconfig/default_setting_overrides.d/rnncourse-student-mode.json
      no news prompt or update check; Markdown files open rendered
  jupyter_lab_config.json
      the landing page `jupyter lab` opens first (the key LabApp.default_url, merged into the file)
and, unless --config-only, copies the server extension module rnncourse_student_mode.py into the
site-packages of --python (default PREFIX/bin/python) and writes the kernelspec `python3` of that
interpreter into PREFIX/share/jupyter/kernels/ with NOTEBOOK_ENV, the Makefile's pins for the
lectures (one BLAS thread, the same OpenBLAS and numpy code paths): a student's lecture gives the
stored numbers.

A virtual environment's prefix is read by every `jupyter lab` it runs. A prefix that is not an
environment (JupyterHub, where instructors and students share one) is read by the servers
started with JUPYTER_CONFIG_PATH=PREFIX/etc/jupyter.
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE = HERE / "rnncourse_student_mode.py"
NAME = "rnncourse-student-mode.json"

# Instructor-side plugins of nbgrader 0.9.6 that a student never needs.
INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"]
# The Assignment List (and the Nbgrader menu that opens it) only work with an exchange.
EXCHANGE_PLUGINS = ["@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu"]
# The Makefile's NOTEBOOK_ENV (tests/browser/test_student_mode_install.py keeps the two equal): lecture
# outputs are compared digit by digit, and one BLAS thread and the AVX2 code paths of OpenBLAS and numpy
# make them identical on every x86-64 machine with AVX2.
NOTEBOOK_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell",
                "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
# jupyter_server's own hide_globs, to which --hide adds.
DEFAULT_HIDDEN = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~"]


def server_config(exchange):
    """The jupyter_server configuration of the student mode (a dict for JSON)."""
    extensions = {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.assignment_list": exchange,
        "nbgrader.server_extensions.validate_assignment": False,
        "rnncourse_student_mode": True,
    }
    return {"ServerApp": {"jpserver_extensions": extensions}}


def server_settings(hide=()):
    """Settings of the server itself, for jupyter_server_config.json (jupyter_server reads only the
    extensions' switches from jupyter_server_config.d): the read-only aware contents manager, hidden names."""
    settings = {"ServerApp": {"contents_manager_class": "rnncourse_student_mode.ReadOnlyContentsManager"}}
    if hide:
        settings["ContentsManager"] = {"hide_globs": DEFAULT_HIDDEN + list(hide)}
    return settings


def page_config(exchange):
    """JupyterLab's page configuration: the plugins to disable."""
    disabled = INSTRUCTOR_PLUGINS + ([] if exchange else EXCHANGE_PLUGINS)
    return {"disabledExtensions": {plugin: True for plugin in disabled}}


def settings_overrides():
    """Default settings: no news prompt or update check, Markdown files open rendered."""
    return {
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Markdown Preview"}},
    }


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def merge_json(path, overrides):
    """Merge `overrides` into the JSON file at `path` (section by section), creating it if needed."""
    current = {}
    if path.exists():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise SystemExit(f"{path} is not valid JSON ({error}); fix or remove it, then run this again")
    for section, values in overrides.items():
        current.setdefault(section, {}).update(values)
    write_json(path, current)


def install_module(python):
    """Copy the server extension module into the site-packages of the interpreter `python`."""
    if not Path(python).exists():
        raise SystemExit(f"no Python interpreter at {python}; give the environment's one with --python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    shutil.copy2(MODULE, Path(purelib) / MODULE.name)
    return Path(purelib) / MODULE.name


def write_kernelspec(prefix, python):
    """PREFIX/share/jupyter/kernels/python3: `python`'s IPython kernel, started with NOTEBOOK_ENV.

    The name and display name are ipykernel's own, so that opening a notebook does not rewrite its metadata."""
    spec = {"argv": [str(Path(python).absolute()), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)", "language": "python",
            "metadata": {"debugger": True}, "env": NOTEBOOK_ENV}
    path = Path(prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    write_json(path, spec)
    return path


def install(prefix, python, exchange=False, landing="README.md", hide=()):
    """Write the student mode's configuration into `prefix` and its module and pinned kernelspec into
    `python`'s environment.

    python None: configuration only (the module must be importable otherwise, e.g. on PYTHONPATH,
    and the kernel's environment set otherwise, e.g. by the JupyterHub spawner).
    hide: file names (glob patterns) the file browser leaves out.
    """
    prefix = Path(prefix).resolve()
    etc = prefix / "etc" / "jupyter"
    write_json(etc / "jupyter_server_config.d" / NAME, server_config(exchange))
    merge_json(etc / "jupyter_server_config.json", server_settings(hide))
    write_json(etc / "labconfig" / "page_config.d" / NAME, page_config(exchange))
    write_json(etc / "labconfig" / "default_setting_overrides.d" / NAME, settings_overrides())
    if landing:
        # `jupyter lab` reads LabApp's settings from jupyter_lab_config.json only (no .d folder).
        merge_json(etc / "jupyter_lab_config.json", {"LabApp": {"default_url": "/lab/tree/" + landing}})
    if not python:
        return None
    write_kernelspec(prefix, python)
    return install_module(python)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True,
                        help="the environment's prefix (e.g. .venv), or a configuration prefix for JupyterHub")
    parser.add_argument("--python", help="the environment's interpreter (default: PREFIX/bin/python)")
    parser.add_argument("--config-only", action="store_true",
                        help="write the configuration only, not the server extension module")
    parser.add_argument("--exchange", action="store_true",
                        help="keep nbgrader's Assignment List (only where an exchange is configured)")
    parser.add_argument("--landing", default="README.md",
                        help="page opened first, relative to the folder JupyterLab serves ('' for none)")
    parser.add_argument("--hide", action="append", default=[],
                        help="a file name (glob pattern) to leave out of the file browser; repeat for more")
    args = parser.parse_args(argv)
    if not Path(args.prefix).is_dir():
        parser.error(f"--prefix {args.prefix} is not a folder (create the environment first, e.g. `make setup`)")
    python = None if args.config_only else args.python or str(Path(args.prefix) / "bin" / "python")
    module = install(args.prefix, python, exchange=args.exchange, landing=args.landing.strip("/"), hide=args.hide)
    print(f"student mode installed in {Path(args.prefix).resolve()}"
          + (f" (server extension: {module})" if module else " (configuration only)"))


if __name__ == "__main__":
    sys.exit(main())
