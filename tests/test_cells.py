"""Live cells: what a command needs, visible skips, CKALAB_REQUIRE turning skips into failures."""

from __future__ import annotations

import pytest

from ckalab import cells, doctor
from ckalab.errors import CourseError


@pytest.mark.parametrize("command, level", [
    ("docker build -t web:1.0 .", "docker"),
    ("kubectl get pods", "cluster"),
    ("kind load docker-image web:1.0 --name cka-images", "cluster"),
    ("docker exec cka-images-control-plane crictl images", "cluster"),
    ("docker ps | grep web && kubectl get pods", "cluster"),
    ("curl -s http://127.0.0.1:8080/", "none"),
    ("echo docker", "none"),
    ("sudo docker info", "docker"),
    ("time docker stop -t 3 web", "docker"),
    ("for t in a b; do docker image inspect web:$t; done", "docker"),
    ("env A=1 nohup kubectl proxy", "cluster"),
])
def test_needs_of(command, level):
    assert cells.needs_of(command) == level


@pytest.fixture
def run_at(isolated_state, monkeypatch):
    """Pretend the machine is at a given level, in a throwaway notebook run."""
    def set_level(level: str, require: str = "none"):
        env = doctor.Environment(docker=level in ("docker", "cluster"), cluster=level == "cluster")
        monkeypatch.setattr(cells._run, "environment", env)
        monkeypatch.setattr(cells._run, "require", require)
        monkeypatch.setattr(cells._run, "notebook", "test-notebook")
        cells.report_path("test-notebook").unlink(missing_ok=True)
    return set_level


def test_skip_is_visible_and_counted(run_at, capsys):
    run_at("none")
    assert cells.sh("docker build -t web:1.0 .") is None
    assert cells.requires("cluster", "deploying") is False
    out = capsys.readouterr().out
    assert "Skipped" in out and "Docker" in out and "make cluster" in out
    report = cells.read_report("test-notebook")
    assert report["docker"]["skipped"] == 1 and report["cluster"]["skipped"] == 1


def test_docker_level_runs_docker_cells_and_skips_cluster_cells(run_at, capsys):
    run_at("docker")
    assert cells.requires("docker", "building") is True
    assert cells.requires("cluster", "deploying") is False
    report = cells.read_report("test-notebook")
    assert report["docker"] == {"executed": 1, "skipped": 0}
    assert report["cluster"] == {"executed": 0, "skipped": 1}


@pytest.mark.parametrize("level, require, needed", [
    ("none", "docker", "docker"),
    ("docker", "cluster", "cluster"),
    ("none", "cluster", "docker"),
])
def test_require_turns_a_skip_into_a_failure(run_at, level, require, needed):
    run_at(level, require)
    with pytest.raises(CourseError, match="CKALAB_REQUIRE"):
        cells.requires(needed, "this cell")


def test_require_does_not_fail_cells_above_the_required_level(run_at, capsys):
    run_at("docker", "docker")
    assert cells.requires("cluster", "deploying") is False
    assert "Skipped" in capsys.readouterr().out


def test_unknown_require_value_is_refused(monkeypatch):
    monkeypatch.setenv("CKALAB_REQUIRE", "everything")
    with pytest.raises(CourseError, match="none, docker, cluster"):
        cells.required_level()


def test_start_fails_fast_when_the_required_level_is_missing(isolated_state, monkeypatch):
    monkeypatch.setattr(cells.doctor, "diagnose", lambda cfg=None: doctor.Environment())
    with pytest.raises(CourseError, match="requires level 'docker'"):
        cells.start("test-notebook", require="docker", quiet=True)


def test_sh_runs_and_checks_the_exit_status(run_at, capsys):
    run_at("docker")
    result = cells.sh("echo hello", needs="docker")
    assert result.ok and result.output == "hello\n"
    assert "$ echo hello" in capsys.readouterr().out
    with pytest.raises(CourseError, match="exited with status 3"):
        cells.sh("exit 3", needs="docker")
    assert cells.sh("exit 3", needs="docker", expect="failure").returncode == 3
    with pytest.raises(CourseError, match="expected to fail"):
        cells.sh("true", needs="docker", expect="failure")


def test_a_cell_counts_once_even_with_several_commands(run_at):
    run_at("docker")
    cells.requires("docker", "first")
    cells.requires("docker", "second")  # same cell: no IPython, so the same cell id (None)
    assert cells.read_report("test-notebook")["docker"]["executed"] == 1


@pytest.mark.parametrize("command, programs", [
    ("KUBE_EDITOR=\"sed -i 's|a|b|'\" kubectl edit deploy/web", ["kubectl"]),
    ("A=1 B='x y' docker build .", ["docker"]),
    ("echo 'kubectl | docker' | grep x", ["echo", "grep"]),
    ("docker ps && (kubectl get pods; kind get clusters)", ["docker", "kubectl", "kind"]),
])
def test_programs_respect_quotes_and_assignments(command, programs):
    assert cells.programs_of(command) == programs


def test_quoted_pipe_and_env_prefix_do_not_hide_kubectl():
    assert cells.needs_of("KUBE_EDITOR=\"sed -i 's|1.0|2.0|'\" kubectl edit deployment/web") == "cluster"


def test_a_missing_tool_is_a_visible_skip(run_at, monkeypatch, tmp_path, capsys):
    run_at("docker")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cells.sh("kubectl create deployment web --image=web:1.0 --dry-run=client -o yaml", needs="none") is None
    assert "needs kubectl, which is not installed" in capsys.readouterr().out
    run_at("docker", "docker")
    with pytest.raises(CourseError, match="not installed"):
        cells.sh("kubectl version --client", needs="none")


def test_podman_cells_are_counted_in_their_own_column(run_at, monkeypatch, tmp_path, capsys):
    run_at("docker")
    monkeypatch.setenv("PATH", str(tmp_path))                 # no podman here
    assert cells.sh("podman images") is None
    assert "needs podman, which is not installed" in capsys.readouterr().out
    assert cells.read_report("test-notebook")["podman"] == {"executed": 0, "skipped": 1}
    fake = tmp_path / "skopeo"
    fake.write_text("#!/bin/sh\necho skopeo version 1.9.3\n")
    fake.chmod(0o755)
    run_at("docker")
    assert cells.sh("skopeo --version").ok
    assert cells.read_report("test-notebook")["podman"] == {"executed": 1, "skipped": 0}
    run_at("docker", "docker")
    with pytest.raises(CourseError, match="podman, which is not installed"):
        cells.sh("podman images")


def test_cells_are_told_apart_when_execution_count_stays_the_same(run_at, monkeypatch):
    """nbval runs cells with store_history=False: the pre_run_cell counter still separates them."""
    run_at("docker")
    counter = cells._CellCounter()
    monkeypatch.setattr(cells, "_cell_counter", counter)
    for _ in range(3):
        counter()                                   # what IPython calls before each cell
        cells.requires("docker", "a cell")
    counter(type("Info", (), {"cell_id": "c-with-id"})())
    cells.requires("docker", "a cell JupyterLab names")
    cells.requires("docker", "the same cell again")
    assert cells.read_report("test-notebook")["docker"]["executed"] == 4


def test_report_lists_lessons_then_labs_with_totals(tmp_path):
    import json
    for name, entries in {"lab09-wrong-tag": [(1, "executed", "cluster")],
                          "09-exam-practice": [(1, "executed", "docker"), (2, "skipped", "cluster"),
                                               (3, "executed", "podman"), (4, "skipped", "emulation")],
                          "00-setup": [(1, "executed", "docker"), (1, "executed", "docker")]}.items():
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"cell": c, "status": s, "level": lv, "what": "x", "time": 0}) + "\n" for c, s, lv in entries))
    lines = cells.report_lines(tmp_path)
    assert [line.split()[0] for line in lines[1:]] == ["00-setup", "09-exam-practice", "lab09-wrong-tag", "TOTAL"]
    assert lines[0].split()[1::2] == ["docker", "cluster", "podman", "emulation"]
    assert lines[1].split()[1:] == ["1/0", "0/0", "0/0", "0/0"]
    assert lines[2].split()[1:] == ["1/0", "0/1", "1/0", "0/1"]
    assert lines[-1].split()[1:] == ["2/0", "1/1", "1/0", "0/1"]


def test_a_skip_notice_is_plain_text_in_a_terminal_and_wrapped_html_in_a_notebook(run_at, capsys):
    run_at("none")
    long_command = "docker build --build-arg APP_VERSION=2.0 -t localhost:5001/rollout-demo:2.0 " + "x" * 80
    cells.sh(long_command)
    out = capsys.readouterr().out
    assert out.startswith("Skipped: `docker build") and long_command in out      # never cut
    notice = cells.Notice("`make cluster` runs it")
    page = notice._repr_html_()
    assert ">SKIPPED</span>" in page and "<code>make cluster</code>" in page and "`" not in page
    assert "white-space:normal" in page and "overflow-wrap:break-word" in page
    assert not any(ord(ch) > 0x2000 for ch in page)


def test_the_cycle_report_lists_each_cycle_labs_first_and_counts_the_passed(tmp_path):
    (tmp_path / "1.jsonl").write_text('{"cycle": "exam:rollout", "outcome": "passed", "seconds": 90}\n'
                                      '{"cycle": "lab09-wrong-tag", "outcome": "failed", "seconds": 61}\n')
    (tmp_path / "2.jsonl").write_text('{"cycle": "lab01-fix-dockerfile", "outcome": "passed", "seconds": 40}\n')
    lines = cells.cycle_report_lines(tmp_path)
    assert [line.split()[0] for line in lines[1:-1]] == ["lab01-fix-dockerfile", "lab09-wrong-tag", "exam:rollout"]
    assert lines[2].split()[1:] == ["failed", "61"]
    assert lines[-1].split() == ["TOTAL", "2/3", "passed"]
