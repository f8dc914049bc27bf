"""Shared fixtures. The learner's own Docker and kube config must be untouched by the suite."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from ckalab import cells, doctor, settings
from ckalab.errors import CourseError

ROOT = Path(__file__).resolve().parent.parent
# Podman, Buildah and skopeo read and write logins in $XDG_RUNTIME_DIR/containers/auth.json
# (containers-auth.json(5)) and read ~/.config/containers/auth.json; the course sets
# REGISTRY_AUTH_FILE, so neither may change.
LEARNER_FILES = [Path.home() / ".docker" / "config.json", Path.home() / ".kube" / "config",
                 Path.home() / ".config" / "containers" / "auth.json",
                 *([Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"]
                   if os.environ.get("XDG_RUNTIME_DIR") else [])]


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


TEST_STATE = ROOT / "build" / "test-state"


def pytest_configure(config):
    """The suite's own state directory: it never reads or writes the learner's .ckalab/
    (`make test` sets the same folder for its nbval pass). Set before anything loads settings."""
    os.environ.setdefault("CKALAB_STATE_DIR", str(TEST_STATE))
    # The registries' credentials are the user's, shared with the registry containers. Fixed
    # here, so that a test that moves $HOME (to keep ~/.docker out of reach) still finds them.
    os.environ.setdefault("CKALAB_SHARED_DIR", str(settings.load().shared_dir))


def pytest_sessionstart(session):
    session.config._learner_files = {p: _fingerprint(p) for p in LEARNER_FILES}
    state = Path(os.environ["CKALAB_STATE_DIR"])
    if state == TEST_STATE:
        shutil.rmtree(state, ignore_errors=True)      # each run starts from no progress at all
    from ckalab import cluster
    cluster.export_kubeconfig()                       # the test state's own, when the cluster exists


def pytest_sessionfinish(session, exitstatus):
    changed = [str(p) for p, fp in session.config._learner_files.items() if _fingerprint(p) != fp]
    if changed:
        print(f"\nFAILED: the suite changed the learner's own config: {', '.join(changed)}")
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    cfg = settings.load()
    if cfg.reports_dir.is_dir() and any(cfg.reports_dir.glob("*.jsonl")):
        terminalreporter.section("run report: live cells per notebook (executed/skipped)")
        for line in cells.report_lines(cfg.reports_dir):
            terminalreporter.write_line(line)
    notebook_seconds = getattr(terminalreporter.config, "notebook_seconds", None)   # set by `executions`
    if notebook_seconds:
        terminalreporter.section("papermill: seconds each (3 side by side, then those that run alone)")
        for name, seconds in notebook_seconds.items():
            terminalreporter.write_line(f"{name:45} {seconds:6.0f}")
    cycle_seconds = getattr(terminalreporter.config, "cycle_seconds", None)    # set by real_cycles
    if cycle_seconds:
        terminalreporter.section("cluster cycles: seconds each (the node and API-server labs alone, then 4 side by side)")
        for cycle_id, seconds in cycle_seconds.items():
            terminalreporter.write_line(f"{cycle_id:45} {seconds:6.0f}")


CYCLE_REPORTS = ROOT / "build" / "reports" / "cycles"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each lab's full cycle, passed or failed, with its seconds, for `make report`: a lab's
    notebook runs without its solution in make test, because the cycle runs it."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not item.get_closest_marker("cycle") or not hasattr(item, "callspec"):
        return
    params = item.callspec.params
    cycle_id = params.get("lab_id") or params.get("cycle_id") or f"exam:{params.get('key')}"
    seconds = getattr(item.config, "cycle_seconds", {}).get(cycle_id, report.duration)
    CYCLE_REPORTS.mkdir(parents=True, exist_ok=True)
    with (CYCLE_REPORTS / f"{os.getpid()}.jsonl").open("a") as fh:
        fh.write(json.dumps({"cycle": cycle_id, "outcome": report.outcome, "seconds": round(seconds)}) + "\n")


@pytest.fixture(scope="session")
def course_settings():
    return settings.load()


@pytest.fixture(scope="session")
def docker_env():
    """A reachable Docker Engine; a skip says so, and CKALAB_REQUIRE=docker turns it into a failure."""
    env = doctor.diagnose()
    if not env.docker:
        reason = env.check("docker engine").detail
        if cells.required_level() in ("docker", "cluster"):
            pytest.fail(f"CKALAB_REQUIRE needs Docker but: {reason}")
        pytest.skip(f"needs Docker: {reason}")
    return env


@pytest.fixture(scope="session")
def registries(docker_env, course_settings):
    from ckalab import registry
    registry.up(course_settings)
    return course_settings


@pytest.fixture
def isolated_state(tmp_path, monkeypatch):
    """A throwaway course root, so a test can break the state without touching the real one."""
    for sub in ("notebooks",):
        (tmp_path / sub).mkdir()
    monkeypatch.setenv("CKALAB_HOME", str(tmp_path))
    monkeypatch.setenv("CKALAB_STATE_DIR", str(tmp_path / ".ckalab"))
    monkeypatch.setenv("CKALAB_SHARED_DIR", str(tmp_path / "shared"))
    return settings.load()


def message_of(excinfo) -> str:
    assert isinstance(excinfo.value, CourseError)
    return excinfo.value.message


@pytest.fixture(autouse=True)
def fresh_notebook_run(monkeypatch):
    """Each test starts with no notebook run: a level diagnosed (and cached) by one test,
    e.g. with Docker made unreachable on purpose, must not leak into the next."""
    monkeypatch.setattr(cells._run, "environment", None)
    monkeypatch.setattr(cells._run, "require", "none")
    monkeypatch.setattr(cells._run, "notebook", None)


@pytest.fixture
def lab_env(registries, tmp_path, monkeypatch):
    """Real Docker and registries; progress and $HOME (~/.docker) in a temp dir."""
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return registries


@pytest.fixture
def podman_lab_env(registries, tmp_path, monkeypatch):
    """Real Docker, registries and Podman; progress and $HOME in a temp dir."""
    from ckalab import shell
    if not shell.which("podman"):
        if cells.required_level() in ("docker", "cluster"):
            pytest.fail("CKALAB_REQUIRE needs Docker, and lab15 needs Podman too, which is not installed")
        pytest.skip("needs Podman")
    monkeypatch.setenv("CKALAB_PROGRESS", str(tmp_path / "progress.json"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return registries


@pytest.fixture(scope="module")
def real_cluster():
    """The course's kind cluster; a skip says so, and CKALAB_REQUIRE=cluster turns it into a failure."""
    env = doctor.diagnose()
    if env.level != "cluster":
        missing = "; ".join(f"{c.name}: {c.detail}" for c in env.missing()) or env.summary()
        if cells.required_level() == "cluster":
            pytest.fail(f"CKALAB_REQUIRE=cluster but there is no usable cluster: {missing}")
        pytest.skip(f"needs a kind cluster (make cluster): {missing}")
    return env


@pytest.fixture(scope="module")
def real_cycles(real_cluster, request):
    """Every cluster cycle the session selected (`-k lab07` runs one), in tests/cycles.py's pool of
    workers: {cycle id: (seconds, None or what broke)}. Their seconds go to the terminal summary."""
    import cycles
    selected = {item.callspec.params.get("lab_id") or item.callspec.params.get("cycle_id")
                for item in request.session.items
                if getattr(item, "originalname", None) in cycles.CYCLE_TESTS and hasattr(item, "callspec")}
    ran = cycles.run_cycles(selected)
    request.config.cycle_seconds = {cycle_id: seconds for cycle_id, (seconds, _) in ran.items()}
    return ran
