"""Logs: a library's warning about a lost broker connection is one line, not a traceback."""

from __future__ import annotations

import logging

from adapters.logs import configure_logging


def _raise_and_log(logger: logging.Logger, level: int) -> None:
    try:
        raise ConnectionResetError("connection reset by peer")
    except ConnectionResetError as exc:
        logger.log(level, "Cancelling cause reader exited abnormally", exc_info=exc)


def test_aiormqs_warning_of_a_lost_connection_is_one_line_and_an_error_keeps_its_traceback(capsys):
    configure_logging("INFO")
    configure_logging("INFO")  # configured twice (serve, then its worker group): still one filter
    library = logging.getLogger("aiormq.connection")
    assert len(library.filters) == 1
    _raise_and_log(library, logging.WARNING)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1, warning
    assert "reader exited abnormally (ConnectionResetError: connection reset by peer)" in warning[0]
    _raise_and_log(library, logging.ERROR)
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error
    _raise_and_log(logging.getLogger("handoff.test"), logging.WARNING)  # our own loggers are untouched
    assert "Traceback (most recent call last)" in capsys.readouterr().err
