"""The uvicorn configuration every launch of the service uses (``faceaudit serve``, the tests'
harness, ``bench/load.py``): the h11 protocol with the read deadlines of
:mod:`faceaudit.service.slow_clients`, from the app's :class:`ServiceSettings`."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from faceaudit.service.slow_clients import guarded_protocol


def server_config(app: FastAPI, **options: Any) -> uvicorn.Config:
    """A ``uvicorn.Config`` for ``app`` (made by ``create_app``) with its settings' read
    deadlines; ``options`` are passed on to uvicorn (``log_level``, ``access_log``, …)."""
    settings = app.state.context.settings
    protocol = guarded_protocol(settings.header_timeout_s, settings.body_timeout_s)
    options.setdefault("timeout_keep_alive", settings.keep_alive_s)
    return uvicorn.Config(app, http=protocol, **options)
