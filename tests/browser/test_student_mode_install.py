"""deploy/student-mode/install.py without a browser: the files it writes, merging, bad input."""
import importlib.util
import json
import subprocess
import sys

import nbformat

import labdriver as lab

INSTALL = lab.STUDENT_MODE / "install.py"
NAME = "rnncourse-student-mode.json"


def run_install(*args):
    return subprocess.run([sys.executable, str(INSTALL), *args], capture_output=True, text=True, timeout=60)


def test_config_only_writes_the_student_mode_and_keeps_other_settings(tmp_path):
    etc = tmp_path / "etc" / "jupyter"
    etc.mkdir(parents=True)
    (etc / "jupyter_lab_config.json").write_text(json.dumps({"LabApp": {"collaborative": False},
                                                             "ServerApp": {"port": 9999}}))
    result = run_install("--prefix", str(tmp_path), "--config-only")
    assert result.returncode == 0, result.stderr

    server = json.loads((etc / "jupyter_server_config.d" / NAME).read_text())["ServerApp"]["jpserver_extensions"]
    assert server["nbgrader.server_extensions.formgrader"] is False
    assert server["nbgrader.server_extensions.course_list"] is False
    assert server["nbgrader.server_extensions.assignment_list"] is False
    assert server["nbgrader.server_extensions.validate_assignment"] is False
    assert server["rnncourse_student_mode"] is True
    disabled = json.loads((etc / "labconfig" / "page_config.d" / NAME).read_text())["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
            "@jupyter/nbgrader:assignment-list"} <= {k for k, v in disabled.items() if v}
    settings = json.loads((etc / "labconfig" / "default_setting_overrides.d" / NAME).read_text())
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    lab_config = json.loads((etc / "jupyter_lab_config.json").read_text())
    assert lab_config == {"LabApp": {"collaborative": False, "default_url": "/lab/tree/README.md"},
                          "ServerApp": {"port": 9999}}


def test_exchange_keeps_the_assignment_list(tmp_path):
    assert run_install("--prefix", str(tmp_path), "--config-only", "--exchange", "--landing", "").returncode == 0
    etc = tmp_path / "etc" / "jupyter"
    server = json.loads((etc / "jupyter_server_config.d" / NAME).read_text())["ServerApp"]["jpserver_extensions"]
    assert server["nbgrader.server_extensions.assignment_list"] is True
    disabled = json.loads((etc / "labconfig" / "page_config.d" / NAME).read_text())["disabledExtensions"]
    assert "@jupyter/nbgrader:assignment-list" not in disabled and "@jupyter/nbgrader:formgrader" in disabled
    assert not (etc / "jupyter_lab_config.json").exists()


def test_bad_prefix_and_broken_config_are_explained(tmp_path):
    missing = run_install("--prefix", str(tmp_path / "nowhere"), "--config-only")
    assert missing.returncode != 0 and "is not a folder" in missing.stderr
    etc = tmp_path / "etc" / "jupyter"
    etc.mkdir(parents=True)
    (etc / "jupyter_lab_config.json").write_text("{not json")
    broken = run_install("--prefix", str(tmp_path), "--config-only")
    assert broken.returncode != 0 and "jupyter_lab_config.json is not valid JSON" in broken.stderr
    no_python = run_install("--prefix", str(tmp_path), "--python", str(tmp_path / "bin" / "python"), "--landing", "")
    assert no_python.returncode != 0 and "no Python interpreter" in no_python.stderr


def test_lectures_have_no_test_cells_and_assignments_do():
    spec = importlib.util.spec_from_file_location("student_mode", lab.STUDENT_MODE / "rnncourse_student_mode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    has_test_cells = module.has_test_cells
    lectures = sorted((lab.REPO / "lectures").glob("*.ipynb"))
    assignments = sorted((lab.REPO / "assignments").glob("*/*.ipynb"))
    assert lectures and assignments
    assert not any(has_test_cells(nbformat.read(path, as_version=4)) for path in lectures)
    assert all(has_test_cells(nbformat.read(path, as_version=4)) for path in assignments)


def test_kernel_pins_are_the_makefiles():
    """Does the student mode's kernelspec set exactly the Makefile's NOTEBOOK_ENV (one source of the lectures' numbers)?"""
    import re
    spec = importlib.util.spec_from_file_location("student_mode_install", INSTALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (lab.REPO / "Makefile").read_text().replace("\\\n", " ")
    line = re.search(r"^NOTEBOOK_ENV\s*:=\s*(.*)$", text, re.M).group(1)
    assert module.NOTEBOOK_ENV == {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def test_full_install_writes_the_pinned_kernelspec_and_hides_names(tmp_path):
    """Without --config-only: the module in site-packages, the kernelspec python3 with the pins, hidden names."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    result = run_install("--prefix", str(venv), "--hide", "autograder", "--hide", "*.egg-info")
    assert result.returncode == 0, result.stderr
    kernel = json.loads((venv / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert kernel["argv"][0] == str(venv / "bin" / "python") and kernel["display_name"] == "Python 3 (ipykernel)"
    assert kernel["env"]["OPENBLAS_NUM_THREADS"] == "1" and kernel["env"]["OPENBLAS_CORETYPE"] == "Haswell"
    server = json.loads((venv / "etc" / "jupyter" / "jupyter_server_config.json").read_text())
    assert server["ContentsManager"]["hide_globs"][-2:] == ["autograder", "*.egg-info"]
    assert "__pycache__" in server["ContentsManager"]["hide_globs"]
    assert server["ServerApp"]["contents_manager_class"] == "rnncourse_student_mode.ReadOnlyContentsManager"
    assert list((venv / "lib").glob("python*/site-packages/rnncourse_student_mode.py"))


def test_hub_landing_page_links_every_lecture_and_assignment():
    """The page a student lands on at the course's hub: a link to each lecture (files that exist) and to each
    assignment where Fetch puts it."""
    import re
    text = (lab.REPO / "deploy" / "jupyterhub" / "student-landing.md").read_text()
    links = set(re.findall(r"\]\(([^)]+)\)", text))
    lectures = {f"lectures/{p.name}" for p in (lab.REPO / "lectures").glob("*.ipynb")}
    assignments = {f"{p.name}/{p.name}.ipynb" for p in (lab.REPO / "assignments").iterdir() if p.is_dir()}
    assert lectures and assignments and lectures | assignments | {"lectures/README.md"} == links
