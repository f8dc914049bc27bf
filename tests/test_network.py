"""ckalab.network: reachability checks that never hang and skip visibly."""

from __future__ import annotations

import socket
import time

import pytest

from ckalab import network


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    return port


@pytest.fixture(autouse=True)
def not_forced_offline(monkeypatch):
    monkeypatch.delenv("CKALAB_OFFLINE", raising=False)


def test_online_when_something_listens(listening_port):
    assert network.online("127.0.0.1", listening_port, timeout=2) is True


def test_offline_when_port_is_closed(closed_port):
    assert network.online("127.0.0.1", closed_port, timeout=2) is False


def test_offline_when_name_does_not_resolve():
    started = time.monotonic()
    assert network.online("no-such-host.invalid", 443, timeout=1) is False
    assert time.monotonic() - started < 5


def test_ckalab_offline_forces_offline(monkeypatch, listening_port):
    monkeypatch.setenv("CKALAB_OFFLINE", "1")
    assert network.online("127.0.0.1", listening_port, timeout=2) is False


def test_requires_internet_true_prints_nothing(listening_port, capsys):
    assert network.requires_internet("127.0.0.1", "the cell", port=listening_port, timeout=2) is True
    assert capsys.readouterr().out == ""


def test_requires_internet_skips_with_one_visible_line(closed_port, capsys):
    assert network.requires_internet("127.0.0.1", "reading Docker Hub", port=closed_port, timeout=1) is False
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("Skipped: reading Docker Hub needs internet")
    assert f"127.0.0.1:{closed_port} is not reachable" in out[0]


def test_requires_internet_names_the_forced_offline_reason(monkeypatch, capsys):
    monkeypatch.setenv("CKALAB_OFFLINE", "yes")
    assert network.requires_internet("registry-1.docker.io", "x") is False
    assert "CKALAB_OFFLINE is set" in capsys.readouterr().out
