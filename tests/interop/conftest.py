"""Fixtures that start real third-party peers for the interop tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .freediameter import FreeDiameter, FreeDiameterError, have_freediameter


@pytest.fixture
def freediameter(tmp_path: Path) -> Iterator[Callable[..., FreeDiameter]]:
    """Factory: ``freediameter(identity, realm, **options)`` starts a freeDiameterd.

    Every daemon started through it is stopped at teardown and its log is
    printed there, so pytest shows it with a failing test.
    """
    if not have_freediameter():
        pytest.fail("freeDiameterd / extensions / openssl missing: "
                    "apt-get install freediameterd freediameter-extensions openssl")
    started: list[FreeDiameter] = []

    def start(identity: str, realm: str, **options: object) -> FreeDiameter:
        fd = FreeDiameter(tmp_path / identity, identity, realm, **options)  # type: ignore[arg-type]
        started.append(fd)
        return fd.start()

    yield start
    for fd in reversed(started):
        try:
            fd.stop()
        except (OSError, FreeDiameterError) as exc:
            print(f"stopping {fd.identity}: {exc!r}")
    for fd in started:
        print(f"----- freeDiameterd {fd.identity} log ({fd.log_path}) -----")
        print(fd.log())
