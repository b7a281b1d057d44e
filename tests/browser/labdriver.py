"""Starting JupyterLab on 127.0.0.1 and driving it in Playwright: the steps a student takes.

Every wait is bounded; selectors are JupyterLab 4.6's and nbgrader 0.9.6's.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STUDENT_MODE = REPO / "deploy" / "student-mode"
VISIBLE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout, process=None, log=None):
    """Wait until `url` answers 200 (at most `timeout` seconds); fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {read_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {read_tail(log)}")


def read_tail(path, chars=3000):
    return Path(path).read_text(errors="replace")[-chars:] if path and Path(path).exists() else ""


def stop(process, timeout=15):
    """Terminate a process started here, then kill it if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def isolated_jupyter_env(home, config_path=None):
    """Environment of a Jupyter server that reads no configuration of the user running the tests."""
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                 "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        folder = Path(home) / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    # Render every cell (not only those in view), so that the tests can read all outputs.
    tracker = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if config_path:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    # The student mode's server extension, importable without copying it into the environment.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STUDENT_MODE), env.get("PYTHONPATH")]))
    env.pop("MPLBACKEND", None)
    return env


def start_lab(root, home, token, config_path):
    """`jupyter lab` serving `root` on 127.0.0.1 with `token`; returns (process, base URL, log path)."""
    port = free_port()
    log = Path(home) / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=root, env=isolated_jupyter_env(home, config_path),
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/api/status?token={token}", 90, process, log)
    except Exception:
        stop(process)
        raise
    return process, base, log


def api(base, token, path, method="GET"):
    """A call to the Jupyter server's REST API; returns the decoded JSON (or None)."""
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def delete_sessions(base, token):
    """Shut down every kernel session, so that nothing carries over between steps."""
    for session in api(base, token, "/api/sessions"):
        api(base, token, f"/api/sessions/{session['id']}", method="DELETE")


def without_markers(source):
    """A solution cell's text as a student would type it: without nbgrader's BEGIN/END SOLUTION lines."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


# --- in the page -----------------------------------------------------------------------------

def wait_lab_ready(page, timeout=60):
    page.wait_for_selector(".jp-DirListing-item", timeout=timeout * 1000)


def hub_login(page, base, user, password, timeout=150):
    """Log in to JupyterHub's login form and wait for the user's JupyterLab (the server may take a while)."""
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    deadline = time.monotonic() + timeout
    while True:
        try:
            wait_lab_ready(page, timeout=20)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        # The spawn page missed the end of the start-up: ask for the user's server again.
        page.goto(f"{base}/user/{user}/")


def shot(page, folder, name):
    """Screenshot of the whole window to folder/name.png."""
    page.screenshot(path=str(Path(folder) / f"{name}.png"))


def open_in_browser(page, *parts, timeout=90, from_root=True):
    """Open a file by double-clicking each part of its path in the file browser (from its root or where it is)."""
    if from_root:
        page.locator(".jp-BreadCrumbs-home").click()
    for part in parts:
        name = page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(part)}$"))
        item = page.locator(".jp-DirListing-content .jp-DirListing-item").filter(has=name)
        item.wait_for(timeout=timeout * 1000)
        item.dblclick()
    if parts[-1].endswith(".ipynb"):
        page.wait_for_selector(f"{VISIBLE_PANEL} .jp-Notebook-ExecutionIndicator", timeout=timeout * 1000)


def wait_kernel_idle(page, timeout=120, steady=1.5):
    """Wait until the visible notebook's kernel is idle and no cell is queued, for `steady` seconds."""
    panel = page.locator(VISIBLE_PANEL)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        idle = panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() > 0
        busy_prompts = panel.locator(".jp-InputArea-prompt", has_text="*").count()
        if idle and busy_prompts == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= steady:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(250)
    raise TimeoutError(f"the kernel was not idle within {timeout} s")


def menu_labels(page, top, timeout=10):
    """Labels of the visible entries of a main menu (the menu is closed again)."""
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=top).first.click()
    entries = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    entries.first.wait_for(timeout=timeout * 1000)
    labels = [label.strip() for label in entries.all_inner_texts() if label.strip()]
    page.keyboard.press("Escape")
    return labels


def menu(page, top, item, timeout=10):
    """Click a main-menu entry, e.g. menu(page, "Run", "Run All Cells")."""
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=top).first.click()
    entry = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel", has_text=item).first
    entry.wait_for(timeout=timeout * 1000)
    entry.click()


def current_tab(page):
    """The active tab of the main area."""
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current").first


def run_all(page, timeout=150):
    """Run → Run All Cells, then wait until every cell has run (retried once if the kernel was not ready)."""
    prompts = page.locator(f"{VISIBLE_PANEL} .jp-CodeCell .jp-InputArea-prompt")
    for attempt in range(2):
        menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(
                "sel => [...document.querySelectorAll(sel)].some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                arg=f"{VISIBLE_PANEL} .jp-CodeCell .jp-InputArea-prompt", timeout=20_000)
            break
        except Exception:
            if attempt:
                raise
    wait_kernel_idle(page, timeout)
    return prompts.all_inner_texts()


def cells(page):
    return page.locator(f"{VISIBLE_PANEL} .jp-Notebook .jp-Cell")


def error_outputs(page):
    """Texts of the visible notebook's error outputs (tracebacks and stderr)."""
    outputs = page.locator(f'{VISIBLE_PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    return [outputs.nth(i).inner_text() for i in range(outputs.count())]


def set_cell_source(page, index, source):
    """Replace the text of cell `index` through its editor, as a student typing it would."""
    cell = cells(page).nth(index)
    cell.scroll_into_view_if_needed()
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    # insert_text, not type(): the editor would re-indent every typed line.
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


def validate(page, timeout=120):
    """Press nbgrader's Validate and return (dialog text, failed-cell sources, success flag); closes the dialog."""
    page.locator(f"{VISIBLE_PANEL} jp-button.validate-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=timeout * 1000)
    message = dialog.locator("#validation-message")
    message.wait_for(timeout=timeout * 1000)
    text = message.inner_text()
    failed = [pre.inner_text() for pre in message.locator(":scope > .jp-RenderedText > pre").all()][0::2]
    success = message.evaluate("node => node.classList.contains('validation-success')")
    return dialog, text, failed, success


def close_dialog(page, timeout=10):
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=timeout * 1000)


def close_tab(page, discard=True, timeout=10):
    """Close the active tab; discard unsaved changes if JupyterLab asks."""
    menu(page, "File", "Close Tab")
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=2000)
    except Exception:
        return
    label = "Discard" if discard else "Save"
    dialog.locator(".jp-Dialog-button", has_text=label).click()
    dialog.wait_for(state="detached", timeout=timeout * 1000)


# --- JupyterLab's terminal ---------------------------------------------------------------------
# xterm.js draws on a canvas; with the setting screenReaderMode it also keeps the visible rows as text
# in .xterm-accessibility-tree, which is what these helpers read.

TERMINAL_SETTINGS = ("@jupyterlab", "terminal-extension", "plugin.jupyterlab-settings")
VISIBLE_TERMINAL = "#jp-main-dock-panel .jp-Terminal:not(.lm-mod-hidden)"


def terminal_settings_file(settings_dir):
    """Where JupyterLab reads a user's terminal settings (write {"screenReaderMode": true} there)."""
    return Path(settings_dir).joinpath(*TERMINAL_SETTINGS)


def open_terminal(page, timeout=60):
    """A new terminal from the launcher (the file browser's + button); waits for the shell's prompt."""
    page.locator('[data-command="launcher:create"]').first.click()
    page.locator(".jp-LauncherCard[title='Start a new terminal session']:visible").first.click()
    terminal = page.locator(VISIBLE_TERMINAL).first
    terminal.wait_for(timeout=timeout * 1000)
    page.wait_for_function("sel => /\\$\\s*$/.test(terminal_text(sel))".replace(
        "terminal_text(sel)", "[...document.querySelectorAll(sel + ' .xterm-accessibility-tree > div')]"
        ".map(d => d.textContent).join('\\n').trimEnd()"), arg=VISIBLE_TERMINAL, timeout=timeout * 1000)
    return terminal


def terminal_screen(page):
    """The text of the visible terminal's rows."""
    return page.evaluate("sel => [...document.querySelectorAll(sel + ' .xterm-accessibility-tree > div')]"
                         ".map(d => d.textContent.trimEnd()).join('\\n')", VISIBLE_TERMINAL)


def terminal_run(page, command, timeout=120, clear=True):
    """Type `command` (one or more lines) into the visible terminal and wait until it has finished;
    returns (exit status, the screen's text). The status comes from an `echo` typed after it.
    clear: clear the screen first (else the earlier commands stay in view, as long as they fit)."""
    page.locator(VISIBLE_TERMINAL).first.click()
    if clear:
        page.keyboard.type("clear\n")
        page.wait_for_function("sel => ![...document.querySelectorAll(sel + ' .xterm-accessibility-tree > div')]"
                               ".some(d => d.textContent.includes('@@'))", arg=VISIBLE_TERMINAL, timeout=10_000)
    before = len(re.findall(r"@@status=(\d+)@@", terminal_screen(page)))
    # type(), not insert_text(): xterm.js reads key events, and drops text inserted into its textarea.
    page.keyboard.type(command.rstrip("\n") + "\n")
    page.keyboard.type('echo "@@status=$?@@"\n')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = terminal_screen(page)
        found = re.findall(r"@@status=(\d+)@@", screen)
        if len(found) > before:
            return int(found[-1]), screen
        page.wait_for_timeout(300)
    raise TimeoutError(f"{command!r} did not finish within {timeout} s; the terminal shows:\n{terminal_screen(page)}")
