"""Ctrl-C stops ``make run``: the launcher exits and leaves no process behind. It stops the
platform the other tests of this folder share, after them (conftest.py)."""

from __future__ import annotations

import signal
import time

from tests.support.platform import Platform, processes_mentioning


def test_ctrl_c_stops_the_launcher_and_every_process_it_started(platform: Platform):
    started = processes_mentioning(str(platform.var))
    assert len(started) >= 7, "NATS, S3 and five services were expected"
    pressed = time.monotonic()
    platform.proc.send_signal(signal.SIGINT)
    deadline = pressed + 30
    while time.monotonic() < deadline:
        if platform.proc.poll() is not None and not processes_mentioning(str(platform.var)):
            break
        time.sleep(0.05)
    took = time.monotonic() - pressed
    print(f"make run stopped {took:.1f} s after Ctrl-C")
    assert platform.proc.poll() == 0, platform.tail()
    assert processes_mentioning(str(platform.var)) == [], "processes left behind"
    assert platform.output_ended()
    assert "stopped" in platform.output[-1], platform.tail()
