"""The learner's path in a real browser: `make lab` as CI runs it, JupyterLab driven by Debian's
Chromium through Playwright (labs 09 and 20 fixed in a terminal). `make browser-test` runs it
(after `make test` in CI); every step leaves a screenshot in build/screenshots/.

The servers run with a state folder of their own (build/browser-state), so the learner's
progress, logins and lab work are not touched. Needs the course cluster (the lab step) and
Docker; CKALAB_REQUIRE=cluster turns a missing one into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ckalab import cells, doctor, multiplatform, settings

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
STATE = ROOT / "build" / "browser-state"
TOKEN = "ckalab-browser-test"
CHROMIUM = os.environ.get("CKALAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMINGS: dict[str, float] = {}


def _need(level: str) -> None:
    env = doctor.diagnose()
    if not env.has(level):
        why = "; ".join(f"{c.name}: {c.detail}" for c in env.missing())
        if cells.required_level() in ("docker", "cluster")[("docker", "cluster").index(level):]:
            pytest.fail(f"CKALAB_REQUIRE={cells.required_level()} but there is no {level}: {why}")
        pytest.skip(f"needs {level}: {why}")


class LabServer:
    """`make lab` on a port of its own, stopped with its whole process group."""

    def __init__(self, port: int, extra_env: dict | None = None, name: str = "lab", drop: tuple = ()):
        self.port, self.name = port, name
        self.url = f"http://127.0.0.1:{port}"
        # Jupyter's config, runtime files, workspaces (open tabs) and user settings go to the
        # test's folder, never to ~/.jupyter; autosave is off, so the checkout's notebooks keep
        # no outputs.
        settings = STATE / f"settings-{name}" / "@jupyterlab"
        for plugin, value in (("docmanager-extension", '{"autosave": false}'),
                              # xterm draws on a canvas; its screen-reader rows let the test read
                              # what arrived in a terminal.
                              ("terminal-extension", '{"screenReaderMode": true}')):
            (settings / plugin).mkdir(parents=True, exist_ok=True)
            (settings / plugin / "plugin.jupyterlab-settings").write_text(value + "\n")
        env = {**{k: v for k, v in os.environ.items() if k not in (drop or ())},
               "CKALAB_STATE_DIR": str(STATE),
               "JUPYTERLAB_WORKSPACES_DIR": str(STATE / f"workspaces-{name}"),
               "JUPYTERLAB_SETTINGS_DIR": str(STATE / f"settings-{name}"),
               "JUPYTER_CONFIG_DIR": str(STATE / f"jupyter-config-{name}"),
               "JUPYTER_RUNTIME_DIR": str(STATE / f"jupyter-runtime-{name}"), **(extra_env or {})}
        self.log = (ROOT / "build" / f"browser-{name}.log").open("w")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS=--no-browser --port {port} --IdentityProvider.token={TOKEN}"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + 300
        while True:
            try:
                if requests.get(f"{self.url}/api/status?token={TOKEN}", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"`make lab` did not serve on port {port}: see build/browser-{name}.log")
            time.sleep(0.5)
        TIMINGS[f"make lab ({name}) until the server answers, s"] = round(time.monotonic() - started, 1)

    def open(self, page, path: str):
        page.goto(f"{self.url}/lab/tree/{path}?reset&token={TOKEN}")
        page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for(timeout=120_000)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: install Debian's `chromium` package "
                    "(or point CKALAB_CHROMIUM at a Chromium binary).")
    shutil.rmtree(STATE, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # As root, Chromium's sandbox cannot start; the course's own CI runs as root.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        instance = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield instance
        instance.close()
    (SHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1) + "\n")


@pytest.fixture(scope="module")
def lab_server(browser):
    _need("docker")
    # Without SHELL, as under CI's runner or a service: `make lab` must still give the terminal a
    # shell that has `source`, which the labs ask the learner to type.
    server = LabServer(8897, drop=("SHELL",))
    yield server
    server.stop()
    # Lab 20's build made the server's own builder; Docker would restart it for good.
    multiplatform.remove_builder(settings.Settings(root=ROOT, state_override=STATE))


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    if getattr(request.node, "failed_call", False):
        shot(page, f"FAILED-{request.node.name}")
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def panel(page):
    return page.locator(".jp-NotebookPanel:visible")


def press_check(page) -> str:
    """Press the lab panel's Check and return the result of that press, not of an earlier one."""
    status = panel(page).locator(".ckalab-check-status").first
    before = status.inner_text() if status.count() else ""
    page.wait_for_timeout(1100)          # the status shows the time in seconds: make it change
    panel(page).locator(".widget-button", has_text="Check").first.click()
    page.wait_for_function(
        "([el, before]) => el.textContent.startsWith('Checked at') && el.textContent !== before",
        arg=[status.element_handle(), before], timeout=180_000)
    return panel(page).locator(".ckalab-check-result").first.inner_text()


def terminal_text(page) -> str:
    """What the visible terminal shows, its wrapped rows joined again."""
    rows = page.locator(".jp-Terminal:visible .xterm-accessibility-tree").all_inner_texts()
    return "".join(rows).replace("\xa0", "").replace("\n", "")


def type_in_terminal(page, command: str, tries: int = 3) -> None:
    """Type `command` into the visible terminal and press Enter once the whole line arrived.

    xterm.js drops a key now and then when keys come as fast as Playwright types them (seen
    once in CI), so the line is read back before Enter and typed again if it is not complete."""
    for attempt in range(1, tries + 1):
        page.keyboard.type(command, delay=15)
        for _poll in range(20):                          # the rows follow the screen with a lag
            if terminal_text(page).rstrip().endswith(command):
                TIMINGS["terminal: tries until the typed line arrived whole"] = attempt
                page.keyboard.press("Enter")
                return
            page.wait_for_timeout(250)
        page.keyboard.press("Control+C")                # drop the broken line
        page.wait_for_timeout(300)
    pytest.fail(f"The terminal never showed the whole typed line in {tries} tries; it shows: "
                f"{terminal_text(page)[-600:]!r}")


def wait_for_deployment_image(page, namespace: str, name: str, image: str, timeout: float = 150) -> None:
    """Wait until the course cluster's Deployment asks for `image` and has rolled out."""
    kubeconfig = str(STATE / "kubeconfig")
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "get", "deployment", name, "-n", namespace,
             "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
            capture_output=True, text=True).stdout.strip()
        if seen == image:
            subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "rollout", "status", f"deployment/{name}",
                            "-n", namespace, f"--timeout={max(1, int(deadline - time.monotonic()))}s"],
                           capture_output=True, check=False)
            return
        time.sleep(2)
    pytest.fail(f"The command typed into the terminal did not reach the cluster: deployment/{name} "
                f"still asks for {seen or 'nothing'}, not {image}. The terminal shows: "
                f"{terminal_text(page)[-800:]!r}")


def open_terminal(page) -> None:
    """A new JupyterLab terminal from the command palette, ready for typing."""
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("New Terminal")
    page.locator(".lm-CommandPalette-item", has_text="New Terminal").first.click()
    wait_until_terminal_answers(page)


def check_until_passed(page, notebook: str, presses: int = 20) -> str:
    """Back on the lab's tab, press Check until all pass (the old Pod may take a while to go);
    return the last result."""
    page.get_by_role("tab", name=re.compile(re.escape(notebook))).click()
    for _press in range(presses):
        text = press_check(page)
        if "All checks passed" in text:
            break
        page.wait_for_timeout(3000)
    return text


def wait_until_terminal_answers(page, tries: int = 12) -> None:
    """Focus the visible terminal and wait until its shell runs what is typed.

    Keys typed before the terminal's websocket is connected are lost (seen once in CI), so a
    harmless `touch` goes first, again and again, until the file it names appears."""
    terminal = page.locator(".jp-Terminal:visible .xterm-helper-textarea")
    terminal.wait_for()
    marker = STATE / "terminal-answered"
    marker.unlink(missing_ok=True)
    for _try in range(tries):
        terminal.focus()
        page.keyboard.press("Control+C")                # drop whatever half line arrived
        page.keyboard.type(f"touch '{marker}'\n")
        for _poll in range(10):
            if marker.exists():
                page.keyboard.type("clear\n")
                page.wait_for_timeout(300)
                return
            page.wait_for_timeout(500)
    pytest.fail(f"The JupyterLab terminal ran nothing typed into it in {tries * 5} s "
                "(build/screenshots/FAILED-*.png shows the page).")


def wait_for_idle_kernel(page, timeout: float = 120_000) -> None:
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')",
        timeout=timeout)


def run_cell(page, text: str, timeout: float = 300_000):
    """Run the first visible code cell that contains `text`, and wait until it finished."""
    wait_for_idle_kernel(page)
    cell = panel(page).locator(".jp-CodeCell", has_text=text).first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    page.wait_for_function(
        "el => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=timeout)
    return cell


def run_all(page, timeout: float = 600_000) -> None:
    page.get_by_role("menuitem", name="Run").click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    page.wait_for_function(
        """() => { const p = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
                   return p.length && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""", timeout=timeout)


def test_00_setup_opens_first_and_runs(lab_server, page):
    started = time.monotonic()
    page.goto(f"{lab_server.url}/?token={TOKEN}")         # the URL make lab prints
    page.get_by_role("tab", name=re.compile("00-setup.ipynb")).wait_for(timeout=120_000)
    panel(page).locator(".jp-Cell").first.wait_for(timeout=120_000)
    TIMINGS["00-setup rendered after the server answered, s"] = round(time.monotonic() - started, 1)
    # The file browser's top is the whole checkout, labs included (it opens at the notebook's folder).
    page.locator(".jp-BreadCrumbs-home").first.click()
    listing = page.locator(".jp-DirListing-content")
    for folder in ("labs", "notebooks", "workloads"):
        listing.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{folder}$")).wait_for()
    shot(page, "00-file-browser")
    assert page.get_by_text("Would you like to receive official Jupyter news?").count() == 0
    run_all(page)
    out = panel(page).locator(".jp-OutputArea").all_inner_texts()
    assert any("Level:" in o for o in out), out
    assert not panel(page).locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']",
                                   has_text="Traceback").count()
    shot(page, "01-setup-run")


def test_a_lesson_link_opens_its_lab(lab_server, page):
    lab_server.open(page, "notebooks/03-dockerfile-instructions.ipynb")
    link = panel(page).locator("a", has_text="Lab 01").first
    link.scroll_into_view_if_needed()
    link.click()
    page.get_by_role("tab", name=re.compile("01-fix-dockerfile.ipynb")).wait_for()
    panel(page).locator(".jp-Cell", has_text="Lab 01").first.wait_for()
    shot(page, "02-lesson-to-lab")


def test_a_lab_fails_gives_a_hint_and_passes_after_a_terminal_fix(lab_server, page):
    _need("cluster")
    lab_server.open(page, "labs/09-wrong-tag/09-wrong-tag.ipynb")
    run_cell(page, "REQUIRE = None")
    run_cell(page, "ck.start(")
    run_cell(page, "lab.setup()")
    run_cell(page, "lab.panel()")
    text = press_check(page)
    assert "check(s) still failing" in text and "image tag exists in the registry" in text, text
    shot(page, "03-lab-check-fails")
    panel(page).locator(".widget-button", has_text="Hint 1").first.click()
    panel(page).locator(".widget-html", has_text="Hint 1").first.wait_for()
    shot(page, "04-lab-hint")
    # The fix, typed into a JupyterLab terminal as on the exam.
    open_terminal(page)
    type_in_terminal(page, 'source "$CKALAB_STATE_DIR/env.sh" && kubectl set image deployment/inventory-api '
                           "api=localhost:5001/inventory-api:1.0 -n lab09-inventory && kubectl rollout status "
                           "deployment/inventory-api -n lab09-inventory --timeout=120s")
    wait_for_deployment_image(page, "lab09-inventory", "inventory-api", "localhost:5001/inventory-api:1.0")
    shot(page, "05-terminal-fix")
    text = check_until_passed(page, "09-wrong-tag.ipynb")
    shot(page, "06-lab-check-passes")
    assert "All checks passed" in text, text
    run_cell(page, "lab.teardown()")


def test_lab20_quotes_the_exec_format_error_and_a_two_platform_build_fixes_it(lab_server, page):
    """Lab 20: the Check quotes the container's exec format error; one `docker buildx build` for
    two platforms and a `kubectl set image`, typed in a terminal, make it pass."""
    _need("cluster")
    # The server's state has a builder of its own, so the learner's `ckalab` is never touched.
    builder = settings.Settings(root=ROOT, state_override=STATE).builder_name
    lab_server.open(page, "labs/20-wrong-platform/20-wrong-platform.ipynb")
    run_cell(page, "REQUIRE = None")
    run_cell(page, "ck.start(")
    started = time.monotonic()
    run_cell(page, "lab.setup()")
    TIMINGS["lab 20 setup, s"] = round(time.monotonic() - started, 1)
    run_cell(page, "lab.panel()")
    text = press_check(page)
    assert "image serves the node's platform" in text and "exec format error" in text, text
    shot(page, "10-lab20-check-fails")
    open_terminal(page)
    image = "localhost:5001/metrics-agent:3.2.1"
    type_in_terminal(page, f'source "$CKALAB_STATE_DIR/env.sh" && docker buildx build --builder {builder} '
                           f'--platform linux/amd64,linux/arm64 -t {image} --push "$CKALAB_STATE_DIR/work/lab20" '
                           f"&& kubectl set image deployment/metrics-agent agent={image} -n lab20-metrics")
    wait_for_deployment_image(page, "lab20-metrics", "metrics-agent", image)
    shot(page, "11-lab20-terminal")
    text = check_until_passed(page, "20-wrong-platform.ipynb")
    shot(page, "12-lab20-check-passes")
    assert "All checks passed" in text, text
    run_cell(page, "lab.teardown()")


def wait_for_terminal_text(page, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in terminal_text(page):
        if time.monotonic() > deadline:
            pytest.fail(f"The terminal never showed {text!r}; it shows: {terminal_text(page)[-800:]!r}")
        page.wait_for_timeout(500)


def test_lab23_debugs_a_shell_less_container_from_an_interactive_debug_shell(lab_server, page):
    """Lab 23 as a learner does it: exec finds no shell, `kubectl debug -it --target` opens one
    beside the app, where the app's file is read through /proc/1/root; then a copy with a shell."""
    _need("cluster")
    lab_server.open(page, "labs/23-debug-shell-less/23-debug-shell-less.ipynb")
    run_cell(page, "REQUIRE = None")
    run_cell(page, "ck.start(")
    run_cell(page, "lab.setup()")
    run_cell(page, "lab.panel()")
    text = press_check(page)
    assert "debug container runs beside the app" in text and "no ephemeral container" in text, text
    shot(page, "13-lab23-check-fails")
    open_terminal(page)
    type_in_terminal(page, 'source "$CKALAB_STATE_DIR/env.sh" && kubectl exec rates-api -n lab23-rates -it -- sh')
    wait_for_terminal_text(page, 'exec: "sh": executable file not found')
    type_in_terminal(page, "kubectl debug rates-api -n lab23-rates -it --image=localhost:5001/debug-tools:1.0 "
                           "--target=api --profile=general -c debugger -- sh")
    wait_for_terminal_text(page, "If you don't see a command prompt")
    page.wait_for_timeout(1000)
    type_in_terminal(page, "cat /proc/1/cmdline; echo; cat /proc/1/root/srv/config/upstream.conf")
    wait_for_terminal_text(page, "upstream = https://rates-")
    shot(page, "14-lab23-debug-shell")
    type_in_terminal(page, "exit")
    wait_for_terminal_text(page, "Session ended")
    # The debug shell has exited, so the file is read again from a second, running debug container.
    type_in_terminal(page, "kubectl debug rates-api -n lab23-rates --image=localhost:5001/debug-tools:1.0 --target=api "
                           "--profile=general -c copier -- sleep 600 && sleep 5 && kubectl exec rates-api -n lab23-rates -c copier -- "
                           'cat /proc/1/root/srv/config/upstream.conf > "$CKALAB_STATE_DIR/work/lab23/upstream.conf" && '
                           "kubectl debug rates-api -n lab23-rates --copy-to=rates-api-debug "
                           "--set-image=api=localhost:5001/rates-api:1.4-debug && echo copied-and-'debugged'")
    wait_for_terminal_text(page, "copied-and-debugged", timeout=120)
    shot(page, "15-lab23-terminal")
    text = check_until_passed(page, "23-debug-shell-less.ipynb")
    shot(page, "16-lab23-check-passes")
    assert "All checks passed" in text, text
    run_cell(page, "lab.teardown()")


def test_quiz_feedback_is_saved_and_shows_in_the_dashboard(lab_server, page):
    lab_server.open(page, "notebooks/01-first-image.ipynb")
    run_cell(page, "REQUIRE = None")
    run_cell(page, "ck.start(")
    quiz = run_cell(page, 'ck.quiz.show("01-first-image")')
    questions = quiz.locator(".ckalab-question")
    # 1: right (option A), 2: a near miss (no -t), 3: wrong (option B).
    first = questions.nth(0)
    first.locator(".widget-radio-box label").nth(0).click()
    first.locator(".widget-button", has_text="Check").click()
    first.get_by_text("Correct").first.wait_for()
    second = questions.nth(1)
    second.locator("input[type=text]").fill("docker build workloads/hello")
    second.locator("input[type=text]").press("Enter")
    second.locator(".widget-button", has_text="Check").click()
    second.get_by_text("Close, but not quite.").wait_for()
    third = questions.nth(2)
    third.locator(".widget-radio-box label").nth(1).click()
    third.locator(".widget-button", has_text="Check").click()
    third.get_by_text("Not quite").first.wait_for()
    quiz.get_by_text(re.compile(r"Saved: 1 / 7 after 3 of 7 answers")).wait_for()
    shot(page, "07-quiz-feedback")
    # The dashboard reads the saved score in a kernel of its own (a notebook opened for the first
    # time gets a new kernel). Cell by cell, not "Restart Kernel and Run All": a restart raced the
    # websocket once in CI (jupyter_server: `struct.error: unpack requires a buffer`).
    lab_server.open(page, "notebooks/11-progress-dashboard.ipynb")
    run_cell(page, "REQUIRE = None")
    run_cell(page, "ck.start(")
    run_cell(page, "board = ck.dashboard.load()")
    panel(page).locator(".jp-OutputArea", has_text="01-first-image").first.wait_for(timeout=120_000)
    shot(page, "08-dashboard")
    board = panel(page).locator(".jp-OutputArea", has_text="01-first-image").first.inner_text()
    assert re.search(r"01-first-image\D+1\s*/\s*7", board), board


def test_without_docker_every_skip_says_what_to_do(browser, page):
    # Binder's case: no Docker, and nothing required (CI's CKALAB_REQUIRE=cluster would turn each
    # skip into a failure, which is what the rest of this suite wants, not this test).
    server = LabServer(8896, {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, name="no-docker",
                       drop=("CKALAB_REQUIRE",))
    try:
        server.open(page, "notebooks/01-first-image.ipynb")
        run_cell(page, "REQUIRE = None")
        run_cell(page, "ck.start(")
        cell = run_cell(page, "docker build")
        notice = cell.locator(".jp-OutputArea-output", has_text="SKIPPED").first
        notice.wait_for()
        text = notice.inner_text()
        assert "docker build -t hello:1.0 workloads/hello" in text and "make doctor" in text, text
        assert "`" not in text, text
        style = notice.locator("div").first.evaluate("e => getComputedStyle(e).whiteSpace")
        assert style == "normal", style
        shot(page, "09-skip-without-docker")
    finally:
        server.stop()


def test_the_course_notebooks_are_unchanged():
    """Driving the course saved nothing into the checkout's notebooks (they keep no outputs)."""
    changed = subprocess.run(["git", "status", "--porcelain", "--", "notebooks", "labs"], cwd=ROOT,
                             capture_output=True, text=True).stdout
    assert changed == "", changed
