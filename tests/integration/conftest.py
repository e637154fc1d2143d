"""Helpers shared by the integration tests that run shoal in a subprocess."""
from __future__ import annotations

import select
import subprocess
import time
from typing import Callable

import pytest


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """The first line of ``proc``'s stdout containing ``text``; kills ``proc`` and fails
    with its stderr when it exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if text in line:
                return line
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"no {text!r} line; stderr: {proc.communicate()[1]}")


@pytest.fixture(scope="session")
def wait_for_line() -> Callable[..., str]:
    """``wait_for_line(proc, text, timeout=60)`` -> the line (text-mode pipes)."""
    return _wait_for_line
