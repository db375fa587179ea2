"""The DICOM node of one server process: a pynetdicom application entity on the
process's services (the same store, index and audit trail as the web face).

Where it runs (``openpacs serve``, see cli/serve.py):

* one process: the node binds ``OPENPACS_DICOM_PORT`` itself and accepts associations
  in a thread beside uvicorn;
* ``--workers N``: the parent process accepts on the DICOM port as it does on the HTTP
  port and hands every connection to the worker with the fewest open connections
  (``web/workers.py``); that worker's node serves it (:meth:`DicomNode.serve`). So
  associations use every core as HTTP requests do, the store service stays one per
  process (its group commit), a worker that dies loses only its own associations, and
  the parent stays a plain acceptor that never touches the database.

Each association runs in its own thread (pynetdicom's model); the handlers block on the
database and the blob store there. The node stops with the app (its lifespan): it stops
accepting, lets running associations end for a few seconds, then aborts them, before the
store service closes.
"""

from __future__ import annotations

import functools
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol

from pydicom.dataset import Dataset
from pynetdicom import AE, build_context, evt
from pynetdicom.association import Association
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from openpacs.dimse import contexts
from openpacs.dimse.commitment import handle_commitment_request, send_pending_report
from openpacs.dimse.find import handle_find
from openpacs.dimse.gate import GatedACSE, Refused, judge
from openpacs.dimse.retrieve import handle_get, handle_move, store_response_received
from openpacs.dimse.store import handle_store
from openpacs.dimse.tcp import no_delay
from openpacs.dimse.trail import AssociationRecord, Trail
from openpacs.dimse.worklist import handle_worklist
from openpacs.index.db import Database
from openpacs.services.audit import AuditTrail
from openpacs.services.peers import Peer, accounts_using, identify
from openpacs.services.store import StoreService
from openpacs.settings import Settings
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.dimse")

__all__ = ["DicomNode", "Services", "handed_node", "listening_node"]

# Associations served at once by one process (pynetdicom's default is 10).
MAXIMUM_ASSOCIATIONS = 200
# Largest P-DATA PDU we receive: big PDUs mean fewer, cheaper decodes per instance.
MAXIMUM_PDU_SIZE = 256 * 1024
# How long running associations may go on once the server stops.
STOP_SECONDS = 5.0


class Services(Protocol):
    """What the node needs of its process (``web.context.AppContext`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def store(self) -> StoreService: ...

    @property
    def audit(self) -> AuditTrail: ...


class _Handler(RequestHandler):
    """Accepts one connection: pynetdicom's acceptor, with our gate as its ACSE."""

    server: _Server

    def handle(self) -> None:
        no_delay(self.request)
        assoc = self._create_association()
        node = self.server.node
        assoc.acse = GatedACSE(assoc, node.verdict, node.admitted, node.refused)
        self.assoc = assoc
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        assoc.start()


class _Server(ThreadedAssociationServer):
    """pynetdicom's server on a socket bound beforehand (``listener``), or on none: then
    it only serves the connections :meth:`DicomNode.serve` is handed."""

    def __init__(
        self,
        node: DicomNode,
        ae: AE,
        listener: socket.socket | None,
        address: tuple[str, int],
        handlers: list[Any],
    ) -> None:
        self.node = node
        self._listener = listener
        super().__init__(
            ae,
            address,
            node.ae_title,
            # The contexts of each association are made from its proposal by the gate
            # (contexts.contexts_for); pynetdicom deep-copies these for every one.
            [build_context(contexts.VERIFICATION)],
            evt_handlers=handlers,
            request_handler=_Handler,
        )

    def server_bind(self) -> None:
        unbound, self.socket = self.socket, self._listener
        if unbound is not None:
            unbound.close()  # made by TCPServer; ours is bound already, or there is none
        if self._listener is not None:
            self.server_address = self._listener.getsockname()[:2]

    def server_activate(self) -> None:
        pass  # the listener listens already (cli/preflight.py): peers wait in its backlog

    def server_close(self) -> None:
        if self._listener is not None:
            super().server_close()


class DicomNode:
    """The application entity of this process. Use it as a context manager: entering
    starts listening (when it has a listener), leaving stops and ends associations."""

    def __init__(self, services: Services, listener: socket.socket | None = None) -> None:
        settings = services.settings
        self.services = services
        self.ae_title = settings.ae_title
        self.trail = Trail(services.audit)
        self.verdict = judge(
            settings.ae_title,
            lambda calling, address: identify(
                services.db, calling, address, check_host=settings.dicom_check_host
            ),
        )
        self._records: dict[Association, AssociationRecord] = {}
        self._records_lock = threading.Lock()
        self._ae = _make_ae(settings.ae_title)
        address = (settings.host, settings.dicom_port)
        self._server = _Server(self, self._ae, listener, address, self._handlers())
        self._listening = listener is not None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> DicomNode:
        if self._listening:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="openpacs-dicom-listener", daemon=True
            )
            self._thread.start()
            host, port = self._server.server_address[:2]
            log.info("DICOM node %s listening on %s:%s", self.ae_title, host, port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, wait: float = STOP_SECONDS) -> None:
        """Stop accepting; give running associations ``wait`` seconds, then abort them."""
        if self._thread is not None:
            socketserver.BaseServer.shutdown(self._server)
            self._thread.join()
            self._thread = None
        self._server.server_close()
        deadline = time.monotonic() + wait
        for assoc in self._server.active_associations:
            assoc.join(max(0.0, deadline - time.monotonic()))
            if assoc.is_alive():
                log.warning("aborting the association of %s at shutdown", assoc.requestor.ae_title)
                assoc.abort()
                assoc.join(1.0)

    def serve(self, connection: socket.socket, on_close: Callable[[], None]) -> None:
        """Serve a connection accepted by another process; ``on_close`` when it ends."""
        connection.setblocking(True)
        try:
            address = connection.getpeername()[:2]
        except OSError:
            connection.close()
            on_close()
            return
        thread = threading.Thread(
            target=self._serve_handed,
            args=(connection, address, on_close),
            name="openpacs-dicom-connection",
            daemon=True,
        )
        thread.start()

    def _serve_handed(
        self, connection: socket.socket, address: tuple[str, int], on_close: Callable[[], None]
    ) -> None:
        try:
            handler = _Handler(connection, address, self._server)
            handler.assoc.join()
        except Exception:
            log.exception("DICOM connection from %s failed", address[0])
            connection.close()
        finally:
            on_close()

    # -- association bookkeeping ------------------------------------------------------

    def admitted(self, assoc: Association, peer: Peer) -> None:
        address = assoc.requestor.address if assoc.requestor.address_info else ""
        with self._records_lock:
            self._records[assoc] = AssociationRecord(peer, address)

    def refused(self, _assoc: Association, calling: str, address: str, refusal: Refused) -> None:
        try:
            accounts = accounts_using(self.services.db, calling)
        except Exception:
            log.exception("cannot look up the accounts of %r", calling)
            accounts = []
        self.trail.refused(calling, address, refusal.reason, accounts)

    def record(self, assoc: Association) -> AssociationRecord:
        """The record of an admitted association (every handler runs after admission)."""
        with self._records_lock:
            return self._records[assoc]

    def find_record(self, assoc: Association) -> AssociationRecord | None:
        with self._records_lock:
            return self._records.get(assoc)

    def _forget(self, event: evt.Event, how: str) -> None:
        with self._records_lock:
            record = self._records.pop(event.assoc, None)
        if record is not None:
            self.trail.ended(record, how)

    def _established(self, event: evt.Event) -> None:
        self.trail.accepted(self.record(event.assoc))

    # -- handlers ---------------------------------------------------------------------

    def _find(self, event: evt.Event) -> Iterator[tuple[Any, Dataset | None]]:
        """C-FIND: the modality worklist, or a query/retrieve information model."""
        if str(event.request.AffectedSOPClassUID) == contexts.WORKLIST_FIND:
            return handle_worklist(self, event)
        return handle_find(self, event)

    def _handlers(self) -> list[Any]:
        return [
            (evt.EVT_ESTABLISHED, self._established),
            (evt.EVT_RELEASED, lambda event: self._forget(event, "released")),
            (evt.EVT_ABORTED, lambda event: self._forget(event, "aborted")),
            (evt.EVT_CONN_CLOSE, lambda event: self._forget(event, "closed")),
            (evt.EVT_C_ECHO, _echo),
            (evt.EVT_C_STORE, functools.partial(handle_store, self)),
            (evt.EVT_C_FIND, self._find),
            (evt.EVT_C_MOVE, functools.partial(handle_move, self)),
            (evt.EVT_C_GET, functools.partial(handle_get, self)),
            (evt.EVT_DIMSE_RECV, functools.partial(store_response_received, self)),
            (evt.EVT_N_ACTION, functools.partial(handle_commitment_request, self)),
            (evt.EVT_DIMSE_SENT, functools.partial(send_pending_report, self)),
        ]

    def associate(self, host: str, port: int, **kwargs: Any) -> Association:
        """An association this node requests (storage commitment reports)."""
        return self._ae.associate(host, port, **kwargs)


def _echo(_event: evt.Event) -> int:
    return 0x0000


def _make_ae(ae_title: str) -> AE:
    # pynetdicom says a few lines per association at info level: ours are enough.
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    ae = AE(ae_title=ae_title)
    ae.maximum_associations = MAXIMUM_ASSOCIATIONS
    ae.maximum_pdu_size = MAXIMUM_PDU_SIZE
    ae.require_called_aet = False  # the gate checks it, with a reason in the log
    return ae


def listening_node(listener: socket.socket) -> Callable[[Services], DicomNode]:
    """For one process: a node that accepts on ``listener`` (bound already)."""
    return lambda services: DicomNode(services, listener)


def handed_node(services: Services) -> DicomNode:
    """For a worker process: a node that serves the connections it is handed."""
    return DicomNode(services)
