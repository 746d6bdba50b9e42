"""A worker's own ``/metrics``: the tasks its pool ran (every prefork child's counters, read
from ``PROMETHEUS_MULTIPROC_DIR``), served from a thread of the worker's main process.

It answers only a scraper that sends ``Authorization: Bearer $GLASSBOX_METRICS_TOKEN``; with
no token configured it does not start at all (and says so), since a worker has no sessions
to let an operator in another way.
"""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from . import metrics

logger = logging.getLogger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # scrapes are not worth a line each
        pass


def app(token: str):
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not metrics.token_matches(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"a bearer token is required\n"]
        body = metrics.exposition(with_state=False)
        start_response("200 OK", [("Content-Type", metrics.CONTENT_TYPE)])
        return [body]

    return wsgi


def serve(port: int, token: str, host: str = "0.0.0.0") -> _Server | None:  # noqa: S104
    """Serve in a daemon thread; ``None`` (with an error line) when it cannot."""
    if not token:
        logger.error(
            "GLASSBOX_WORKER_METRICS_PORT=%s is set but GLASSBOX_METRICS_TOKEN is empty: "
            "the worker's /metrics stays off",
            port,
        )
        return None
    try:
        server = make_server(host, port, app(token), _Server, handler_class=_QuietHandler)
    except OSError as exc:
        logger.error("worker metrics: cannot listen on port %s: %s", port, exc)
        return None
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    logger.info("worker metrics on port %s", port)
    return server
