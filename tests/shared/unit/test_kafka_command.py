"""``careloop kafka start|stop|status``: the clear refusals (exit 2) and where the port is read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import cli, local_kafka
from shared.local_kafka import recorded_port


def _fake_home(tmp_path: Path) -> Path:
    home = tmp_path / "kafka"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "kafka-server-start.sh").write_text("#!/bin/sh\n")
    return home


def test_start_without_a_kafka_home_exits_2_and_says_how_to_name_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CARELOOP_KAFKA_HOME", raising=False)
    assert cli.main(["kafka", "start", "--data-dir", str(tmp_path / "d")]) == 2
    assert "CARELOOP_KAFKA_HOME" in capsys.readouterr().err


def test_start_on_a_folder_that_is_no_kafka_installation_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CARELOOP_KAFKA_HOME", str(tmp_path))  # no bin/kafka-server-start.sh there
    assert cli.main(["kafka", "start", "--data-dir", str(tmp_path / "d")]) == 2
    assert "bin/kafka-server-start.sh" in capsys.readouterr().err


def test_start_without_java_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(local_kafka, "java_available", lambda: False)
    assert cli.main(["kafka", "start", "--home", str(_fake_home(tmp_path)), "--data-dir", str(tmp_path / "d")]) == 2
    assert "Java" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # nothing was written


def test_status_of_a_data_dir_without_a_broker_is_exit_1_and_stop_is_a_no_op(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kafka", "status", "--data-dir", str(tmp_path)]) == 1
    assert "not running" in capsys.readouterr().out
    assert cli.main(["kafka", "stop", "--data-dir", str(tmp_path)]) == 0


def test_the_default_data_dir_is_under_careloop_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["kafka", "status"]) == 1
    assert str(tmp_path / "data" / "kafka") in capsys.readouterr().out


def test_the_port_is_read_back_from_the_broker_settings_it_was_started_with(tmp_path: Path) -> None:
    assert recorded_port(tmp_path) is None
    (tmp_path / "server.properties").write_text(local_kafka._properties(tmp_path, 29311, 29312))
    assert recorded_port(tmp_path) == 29311  # the client listener, not the controller's 29312
