"""``festival serve --workers N``: N uvicorn workers, each listening on its own socket.

uvicorn's own workers share one listening socket, and the worker that wakes
first accepts every connection waiting. 32 door scanners connecting at once
were seen split 30 to 2: one worker a core's worth of work behind, the other
idle, and the door's median latency half as long again. Here each worker
listens on a socket of its own bound with ``SO_REUSEPORT``, and the kernel
spreads new connections over them by a hash of the client's address (as
nginx's ``reuseport`` does).

The parent holds no socket. It checks that the port is free (a second server
on the port would otherwise join the first one's workers silently), starts
the workers, starts a worker again if one dies, and on SIGINT or SIGTERM asks
each to finish its requests and stop.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

APP = "api.main:app"
log = logging.getLogger("uvicorn.error")


class PortInUse(Exception):
    """Another process listens on the port."""


def serve_workers(options: dict[str, Any], workers: int) -> int:
    """Run ``workers`` workers of ``uvicorn.Config(APP, **options)`` until told to stop.

    Returns the exit code: 0, or ``STARTUP_FAILURE`` when a worker could not start.
    """
    config = uvicorn.Config(APP, **options)  # checks the options, sets up logging
    ensure_free(config.host, config.port)
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    processes = [_start(context, options) for _ in range(workers)]
    try:
        while not stopping.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("A worker could not start; stopping")
                    return STARTUP_FAILURE
                log.warning(
                    "Worker %s stopped (exit %s); starting another", process.pid, process.exitcode
                )
                processes[index] = _start(context, options)
        return 0
    finally:
        _stop(processes, grace=(config.timeout_graceful_shutdown or 10) + 5)


def ensure_free(host: str, port: int) -> None:
    """``PortInUse`` if something listens on ``host:port``."""
    with socket.socket(_family(host)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"{host}:{port} is in use by another process") from None
            raise


def _start(context: Any, options: dict[str, Any]) -> BaseProcess:
    process: BaseProcess = context.Process(target=_work, args=(options,), name="festival-worker")
    process.start()
    return process


def _stop(processes: list[BaseProcess], grace: float) -> None:
    """SIGTERM (uvicorn's graceful shutdown) to each worker, SIGKILL to any left after ``grace``."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _work(options: dict[str, Any]) -> None:
    """One worker: its own listening socket, then uvicorn on it."""
    config = uvicorn.Config(APP, **options)
    try:
        listener = _listen(config.host, config.port)
    except OSError as exc:
        log.error("Cannot listen on %s:%s: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    if not server.started:  # the app's start-up failed (logged): do not start it again
        sys.exit(STARTUP_FAILURE)


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(_family(host))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    return listener


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
