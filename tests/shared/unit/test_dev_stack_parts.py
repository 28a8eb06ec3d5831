"""Parts of `careloop dev` that need no broker: the restart back-off and limit of a supervised
process, the demo's once-per-database record, and the refusal of `--broker kafka` without a
Kafka home."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from shared.cli import main
from shared.demo import loaded_before, mark_loaded
from shared.devstack import Supervised


def test_back_off_doubles_from_one_second_and_stops_at_thirty() -> None:
    process = Supervised("x", ["true"], env={}, log_path=Path("/dev/null"))
    waits = []
    for restarts in range(7):
        process.restarts = restarts
        waits.append(process.backoff_s())
    assert waits == [1, 2, 4, 8, 16, 30, 30]


def test_a_process_that_keeps_exiting_is_restarted_up_to_the_limit_then_reported(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "crasher.log"
    process = Supervised("crasher", [sys.executable, "-c", "print('about to fail'); raise SystemExit(3)"],
                         env={}, log_path=log, max_restarts=2, backoff_initial_s=0.01).start()
    said: list[str] = []
    deadline = time.monotonic() + 30
    while process.state != "failed" and time.monotonic() < deadline:
        if line := process.poll():
            said.append(line)
        time.sleep(0.02)
    # three runs (the first and two restarts), each exiting with 3; then no more
    assert [line.split(";")[0].split(" after")[0] for line in said if "exited" in line] == [
        "crasher     exited with code 3"] * 3
    assert sum("restarting (restart" in line for line in said) == 2
    assert "after 2 restarts in a row: not restarted again" in said[-1]
    assert process.restarted_total == 2
    # its output went to its log file, once per run
    assert log.read_text().count("about to fail") == 3
    assert log.read_text().count("--- crasher started by careloop dev") == 3


def test_a_run_that_lasted_counts_as_healthy_so_the_count_starts_again(tmp_path: Path) -> None:
    process = Supervised("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], env={},
                         log_path=tmp_path / "sleeper.log", max_restarts=1, stable_s=0.5).start()
    process.restarts = 1  # one restart in a row already: at the limit
    try:
        time.sleep(0.8)  # longer than stable_s
        assert process.process is not None
        process.process.send_signal(signal.SIGKILL)
        process.process.wait()
        said = process.poll()
        assert said is not None and "restarting in 1 s" in said  # the count started again: 1 s, not failed
        assert process.state == "waiting" and process.restarts == 1
    finally:
        process.stop()


def test_the_demo_record_names_the_database_it_was_loaded_into(tmp_path: Path) -> None:
    assert loaded_before(tmp_path, "7301/careloop/16384") is None
    mark_loaded(tmp_path, "7301/careloop/16384", {"feedback": 8})
    record = loaded_before(tmp_path, "7301/careloop/16384")
    assert record is not None and record["posted"] == {"feedback": 8}
    # a new database (initdb again, or dropped and created again) gets the demo again
    assert loaded_before(tmp_path, "7302/careloop/16384") is None
    assert loaded_before(tmp_path, "7301/careloop/16999") is None


def test_broker_kafka_without_a_kafka_home_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CARELOOP_KAFKA_HOME", "CARELOOP_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(tmp_path / "data"))
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        assert main(["dev", "--broker", "kafka"]) == 2
        assert "--broker kafka needs CARELOOP_KAFKA_HOME" in capsys.readouterr().err
        monkeypatch.setenv("CARELOOP_KAFKA_HOME", str(tmp_path))  # not a Kafka installation
        assert main(["dev", "--broker", "kafka"]) == 2
        assert f"{tmp_path} is not one" in capsys.readouterr().err
        monkeypatch.setenv("CARELOOP_DEV_BROKER", "kafka")  # the setting, without the option
        assert main(["dev"]) == 2
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    assert not (tmp_path / "data" / "pgdata").exists()  # nothing was started
