"""The learner's own state: the suite runs elsewhere, and a fingerprint proves it left it alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ckalab import __main__ as cli
from ckalab import learner_state, registry, settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_suite_runs_in_a_state_directory_of_its_own():
    cfg = settings.load()
    assert cfg.state_dir != ROOT / ".ckalab"
    assert os.environ["CKALAB_STATE_DIR"] == str(cfg.state_dir)
    # Everything a run writes hangs off it: progress, reports, lab work, kubeconfig, Docker config.
    for path in (cfg.kubeconfig, cfg.docker_config_dir, cfg.reports_dir):
        assert cfg.state_dir in path.parents or path.is_relative_to(ROOT / "build"), path


def test_registry_credentials_belong_to_the_user_not_to_a_clone(monkeypatch, tmp_path):
    monkeypatch.delenv("CKALAB_SHARED_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for clone in ("clone-a", "clone-b"):
        monkeypatch.setenv("CKALAB_HOME", str(tmp_path / clone))
        assert settings.load().auth_dir == tmp_path / "xdg" / "ckalab" / "auth"


def test_a_checkouts_old_credentials_are_kept(isolated_state):
    isolated_state.legacy_auth_dir.mkdir(parents=True)
    (isolated_state.legacy_auth_dir / "credentials.json").write_text(
        json.dumps({"username": "student", "password": "from-before"}))
    assert registry.credentials(isolated_state).password == "from-before"
    assert (isolated_state.auth_dir / "credentials.json").exists()


def test_differences_name_what_was_created_changed_and_removed(isolated_state):
    own = isolated_state.root / ".ckalab"
    (own / "work").mkdir(parents=True)
    (own / "progress.json").write_text('{"quizzes": {}}')
    (own / "work" / "notes.txt").write_text("mine")
    before = learner_state.snapshot(cfg=isolated_state)
    assert learner_state.differences(before, learner_state.snapshot(cfg=isolated_state)) == []
    (own / "progress.json").write_text('{"quizzes": {"01": 3}}')
    (own / "work" / "notes.txt").unlink()
    (own / "reports").mkdir()
    (own / "reports" / "00-setup.jsonl").write_text("{}")
    changed = learner_state.differences(before, learner_state.snapshot(cfg=isolated_state))
    assert changed == [f"file {own / 'progress.json'}: changed", f"file {own / 'reports' / '00-setup.jsonl'}: created",
                       f"file {own / 'work' / 'notes.txt'}: removed"]


def test_an_image_outside_the_course_registries_is_refused(isolated_state):
    with pytest.raises(learner_state.CourseError, match="course's registries"):
        learner_state.image_digest("docker.io/library/python:3.13", isolated_state)


def test_compare_without_a_saved_state_names_the_fix(tmp_path, capsys):
    assert cli.main(["learner-state", "compare", str(tmp_path / "none.json")]) == 2
    assert "learner-state save" in capsys.readouterr().err


@pytest.mark.docker
def test_registry_storage_is_a_named_volume_that_outlives_the_container(registries):
    client = registry._docker_client()[0]
    for name in (registries.open_registry_name, registries.private_registry_name):
        mounts = {m["Destination"]: m for m in client.containers.get(name).attrs["Mounts"]}
        assert mounts["/var/lib/registry"].get("Name") == f"ckalab-{name}-data", mounts


def test_an_emulator_left_registered_is_a_difference(tmp_path):
    """Lesson 13 registers QEMU in binfmt_misc only with permission, and removes it again: a
    handler still there (or a learner's one gone) after the run is reported."""
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "register").write_text("")
    assert learner_state.emulators(tmp_path) == {}
    before = {"emulators": learner_state.emulators(tmp_path)}
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: OCF\n")
    after = {"emulators": learner_state.emulators(tmp_path)}
    assert after["emulators"] == {"qemu-aarch64": "enabled"}
    assert learner_state.differences(before, after) == ["emulator qemu-aarch64: created"]
    assert learner_state.emulators(tmp_path / "not-mounted") == {}
