"""Several server processes on one port, each new connection handed to the least busy.

With ``--workers N`` the parent process owns the listening socket and does nothing but
accept: every connection goes to the worker with the fewest open connections, passed
over a Unix socket (SCM_RIGHTS), the way Node's cluster module schedules. When workers
share the listening socket instead (uvicorn's own ``workers``), whichever process wakes
first accepts every pending connection, so the few keep-alive connections of a modality
or an upload script often all land on one process while the other cores idle.

A second listener (the DICOM port) is served the same way: the parent accepts on it
too and tags those connections, and each worker hands them to the ``extension`` it was
given (a factory run on the worker's services when its app starts: the DICOM node,
which serves them on its own threads).

The parent restarts a worker that dies and stops them all on SIGINT/SIGTERM; once
stopping, it starts no worker again (a SIGTERM to the whole process group ends the
workers too, and they must not be replaced). Each worker gets the parent's
:class:`~openpacs.settings.Settings`, builds the app from them and shuts down gracefully
when signalled or when the parent goes away; nothing is passed through the environment.

Workers are forked from the parent after it has imported the server's modules (and
holds no database connection or thread), so a worker, first or replacement, starts in a
fraction of a second instead of importing everything again (spawned workers took
seconds each, both at once on the machine's cores). A forked worker first closes what it
inherited and must not hold: the listening sockets and the parent's ends of the other
workers' channels (else a worker would never see its parent go away).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol

import uvicorn

from openpacs.settings import Settings

if TYPE_CHECKING:
    from openpacs.web.context import AppContext

log = logging.getLogger("openpacs.workers")

# How often the parent looks at its workers while no connection arrives.
_POLL_SECONDS = 0.5
_STOP_SECONDS = 30.0
# A worker that ends this soon after its start, this many times in a row, will not get
# better by being restarted (a broken configuration): the server stops instead.
QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_ALLOWED = 5

# What the parent sends with each connection: HTTP, or the second listener's.
HTTP = b"c"
OTHER = b"o"


class ConnectionSink(AbstractContextManager[Any], Protocol):
    """Serves the second listener's connections in a worker (the DICOM node)."""

    def serve(self, connection: socket.socket, on_close: Callable[[], None]) -> None: ...


#: Made once per worker from its services, when its app starts.
Extension = Callable[["AppContext"], ConnectionSink]


class WorkersFailing(RuntimeError):
    """The workers keep ending right after they start."""


class HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server without a listener: it serves the connections the parent sends."""

    def __init__(
        self,
        config: uvicorn.Config,
        channel: socket.socket,
        on_close: Callable[[], None],
        other: Callable[[socket.socket], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._channel = channel
        self._on_close = on_close
        self._other = other  # serves the connections tagged OTHER
        self._opening: set[asyncio.Task[None]] = set()  # referenced until done

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        loop = asyncio.get_running_loop()
        on_close = self._on_close

        class CountedProtocol(self.config.http_protocol_class):  # type: ignore[misc,name-defined]
            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                on_close()

        def create_protocol() -> asyncio.Protocol:
            protocol: asyncio.Protocol = CountedProtocol(
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )
            return protocol

        self._channel.setblocking(False)
        loop.add_reader(self._channel.fileno(), self._receive, loop, create_protocol)

    def _receive(
        self, loop: asyncio.AbstractEventLoop, create_protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        try:
            message, fds, _flags, _address = socket.recv_fds(self._channel, 64, 64)
        except BlockingIOError:
            return
        except OSError:
            message, fds = b"", []
        if not message and not fds:  # the parent is gone: finish what is running, then exit
            loop.remove_reader(self._channel.fileno())
            self.should_exit = True
            return
        for tag, fd in zip(message.ljust(len(fds), HTTP), fds, strict=False):
            connection = socket.socket(fileno=fd)
            if tag == OTHER[0] and self._other is not None:
                self._other(connection)
                continue
            task = loop.create_task(self._serve_connection(loop, connection, create_protocol))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _serve_connection(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        create_protocol: Callable[[], asyncio.Protocol],
    ) -> None:
        try:
            await loop.connect_accepted_socket(create_protocol, sock)
        except OSError:  # reset before it could be served: it never opened here
            sock.close()
            self._on_close()


def _worker_main(
    index: int,
    channel: socket.socket,
    open_connections: Any,
    settings: Settings,
    inherited: tuple[int, ...] = (),
    extension: Extension | None = None,
) -> None:
    """Entry point of one worker process (forked from the parent: see the module)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)  # the parent's handlers are not ours
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    from openpacs.web.app import create_app, settle_memory
    from openpacs.web.http_protocol import server_config

    log_level = settings.log_level
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    sinks: list[ConnectionSink] = []
    # Connections of the second listener that came before its sink was made (it starts
    # beside the app, on a thread of its own: see web/attachment.py).
    waiting: list[socket.socket] = []
    lock = threading.Lock()

    def attach(ctx: AppContext) -> ConnectionSink:
        assert extension is not None
        sink = extension(ctx)
        with lock:
            sinks.append(sink)
            early = waiting[:]
            waiting.clear()
        for connection in early:
            sink.serve(connection, closed)
        return sink

    app = create_app(settings, attach=attach if extension is not None else None)
    settle_memory()

    def closed() -> None:
        with open_connections.get_lock():
            open_connections[index] -= 1

    def other(connection: socket.socket) -> None:
        if extension is None:  # nobody serves it
            connection.close()
            closed()
            return
        with lock:
            if not sinks:
                waiting.append(connection)
                return
        sinks[0].serve(connection, closed)

    config = server_config(app, settings.max_request_bytes, log_level, lifespan="on")
    HandedConnectionsServer(config, channel, closed, other).run()


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    channel: socket.socket  # the parent's end
    started: float = field(default_factory=time.monotonic)


class WorkerPool:
    """The parent side: starts, feeds, restarts and stops the workers."""

    def __init__(
        self,
        settings: Settings,
        target: Callable[..., None] = _worker_main,
        *,
        listeners: tuple[socket.socket, ...] = (),
        extension: Extension | None = None,
    ) -> None:
        self._context = multiprocessing.get_context("fork")
        self._settings = settings
        self._target = target
        self._listeners = listeners
        self._extension = extension
        self._quick_deaths = 0
        #: Set on SIGINT/SIGTERM: from then on no worker is started (see the module).
        self.stopping = False
        self.open_connections: Any = self._context.Array("i", settings.workers)
        self.workers: list[_Worker] = []
        for index in range(settings.workers):
            self.workers.append(self._start(index))
        self._next = 0

    def _inherited(self) -> tuple[int, ...]:
        """What a new worker must close: the listeners, the other workers' channels."""
        fds = [worker.channel.fileno() for worker in self.workers if worker.channel.fileno() >= 0]
        fds += [listener.fileno() for listener in self._listeners]
        return tuple(fds)

    def _start(self, index: int) -> _Worker:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        inherited = (*self._inherited(), parent_end.fileno())
        process = self._context.Process(
            target=self._target,
            args=(
                index,
                child_end,
                self.open_connections,
                self._settings,
                inherited,
                self._extension,
            ),
            name=f"openpacs-worker-{index}",
            daemon=False,
        )
        process.start()
        child_end.close()
        with self.open_connections.get_lock():
            self.open_connections[index] = 0
        return _Worker(index, process, parent_end)

    def _least_busy(self) -> _Worker:
        # Ties go round the workers, so idle workers share the first connections too.
        counts = list(self.open_connections)
        count = len(self.workers)
        order = [(self._next + i) % count for i in range(count)]
        best = min(order, key=lambda i: counts[i])
        self._next = (best + 1) % count
        return self.workers[best]

    def hand_over(self, connection: socket.socket, tag: bytes = HTTP) -> None:
        if self.stopping:
            return  # closed by the caller: the server is going away
        for _attempt in range(len(self.workers)):
            worker = self._least_busy()
            with self.open_connections.get_lock():
                self.open_connections[worker.index] += 1
            try:
                socket.send_fds(worker.channel, [tag], [connection.fileno()])
                return
            except OSError:
                with self.open_connections.get_lock():
                    self.open_connections[worker.index] -= 1
                self.replace(worker)
        log.error("no worker took the connection; it is closed")

    def replace_dead(self) -> None:
        for worker in list(self.workers):
            if not worker.process.is_alive():
                self.replace(worker)

    def replace(self, worker: _Worker) -> None:
        """Start another worker in its place; `WorkersFailing` when restarts are futile.
        Nothing is started once the pool is stopping."""
        if self.stopping:
            return
        worker.channel.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        code = worker.process.exitcode
        if time.monotonic() - worker.started < QUICK_DEATH_SECONDS:
            self._quick_deaths += 1
            if self._quick_deaths >= QUICK_DEATHS_ALLOWED:
                raise WorkersFailing(
                    f"server processes keep ending right after they start (exit code {code}); "
                    "see the log above"
                )
        else:
            self._quick_deaths = 0
        log.error(
            "server process %s ended (exit code %s); starting another", worker.process.pid, code
        )
        self.workers[worker.index] = self._start(worker.index)

    def stop(self) -> None:
        self.stopping = True
        for worker in self.workers:
            worker.channel.close()  # EOF: the worker finishes its requests and exits
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    worker.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + _STOP_SECONDS
        for worker in self.workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)


def serve_workers(
    settings: Settings,
    other_listener: socket.socket | None = None,
    extension: Extension | None = None,
) -> int:
    """Listen on the settings' host and port and run ``settings.workers`` worker
    processes until SIGINT/SIGTERM; the exit code (1 with a message on stderr when it
    cannot serve). Connections to ``other_listener`` (bound already) go to the workers'
    ``extension``."""
    settings = settings.resolved()  # the workers must not depend on our working directory
    host, port, count = settings.host, settings.port, settings.workers
    try:
        listener = socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        print(f"openpacs: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    selector = selectors.DefaultSelector()
    listeners = tuple(sock for sock in (listener, other_listener) if sock is not None)
    for sock, tag in ((listener, HTTP), (other_listener, OTHER)):
        if sock is not None:
            if sock is other_listener:
                sock.listen(128)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, tag)
    gc.freeze()  # what is loaded now is shared with the forked workers, untouched
    pool = WorkerPool(settings, listeners=listeners, extension=extension)

    def stop(_signum: int, _frame: object) -> None:
        pool.stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("listening on %s:%d with %d server processes", host, port, count)
    try:
        while not pool.stopping:
            ready = selector.select(_POLL_SECONDS)
            if not ready:
                pool.replace_dead()
                continue
            for key, _events in ready:
                try:
                    connection, _address = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                with connection:
                    connection.setblocking(True)
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    pool.hand_over(connection, key.data)
    except WorkersFailing as exc:
        print(f"openpacs: {exc}", file=sys.stderr)
        return 1
    finally:
        selector.close()
        listener.close()
        if other_listener is not None:
            other_listener.close()
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
