"""The application's keys: where the composition root leaves the container and the metrics
registry for the handlers (a home of their own, so that routes need not import the app)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from api.container import Container

CONTAINER: web.AppKey[Container] = web.AppKey("container", Container)
METRICS: web.AppKey[CollectorRegistry] = web.AppKey("metrics", CollectorRegistry)
