"""The pipeline benchmark counts the broker's CPU when the broker runs on this machine: the process
listening on the bootstrap port (here: this test process, listening on a port of its own)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import benchkit  # noqa: E402  (the benchmarks' own folder)


def test_the_process_listening_on_the_bootstrap_port_is_counted_as_the_broker() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        tree, said = benchkit.broker_tree(f"127.0.0.1:{port},127.0.0.1:1")
        assert tree == {"broker": os.getpid()}
        assert said.startswith(f"broker CPU counted: pid {os.getpid()}: ")
        meter = benchkit.CpuMeter(tree, own=None)
        assert "broker" in meter.used()  # a tree is always reported, even at 0 s
    # once nobody listens there, nothing is counted, and the line says why
    assert benchkit.broker_tree(f"127.0.0.1:{port}") == ({}, f"broker CPU not counted: no process of ours "
                                                              f"listens on port {port} here")


def test_a_broker_on_another_machine_is_not_counted() -> None:
    tree, said = benchkit.broker_tree("kafka-1.example.invalid:9093")
    assert tree == {}
    assert "not on this machine" in said


def test_a_broker_given_as_a_tree_is_not_also_matched_by_command_name() -> None:
    meter = benchkit.CpuMeter({"broker": os.getpid()}, own=None)
    assert "broker" not in meter.infrastructure  # else tansu processes elsewhere on the machine would add in
    assert "postgres" in meter.infrastructure
