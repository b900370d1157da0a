"""The management REST API over HTTPS: what `ServiceBusAdministrationClient` reads about queues.

Served: `GET /{queue}` (get_queue, get_queue_runtime_properties) and
`GET /$Resources/queues?$skip=&$top=` (list_queues, list_queues_runtime_properties).
Every request needs the `Authorization: SharedAccessSignature ...` header the
SDK's shared-key policy sends, checked like the AMQP put-token. Anything else
(creating, updating, deleting entities; topics) is answered 405 / an empty
feed: entities come from the config file.

Runs in its own threads next to the AMQP loop; it reads the broker only
under the loop's lock, so it always sees a state between two loop turns.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from localdev.servicebus.admin.atom import error, queue_entry, queue_feed
from localdev.servicebus.admin.certs import CertificatePaths, ensure_certificates
from localdev.servicebus.amqp.auth import TokenRejected, validate_sas_token
from localdev.servicebus.broker import Broker, EntityNotFound
from localdev.servicebus.broker.runtime import QueueRuntime

log = logging.getLogger("localdev.servicebus.admin")

XML = "application/atom+xml;type=entry;charset=utf-8"
HANDSHAKE_TIMEOUT = 10.0


class ManagementApi:
    """Routing and authorisation, without HTTP: (method, target, Authorization) -> (status, XML)."""

    def __init__(self, broker: Broker, lock: threading.Lock, base_url: str) -> None:
        self.broker = broker
        self.lock = lock
        self.base_url = base_url

    def answer(self, method: str, target: str, authorization: str | None) -> tuple[int, str]:
        """The status and body for one request."""
        try:
            validate_sas_token(authorization or "", time.time())
        except TokenRejected as exc:
            return 401, error(401, f"InvalidSignature: {exc}")
        if method != "GET":
            return 405, error(405, "The emulator's entities come from its config file.")
        url = urlsplit(target)
        path = unquote(url.path).strip("/")
        query = parse_qs(url.query)
        if path.lower() == "$resources/queues":
            return 200, queue_feed(self.base_url, self._page(query))
        if path.lower().startswith("$resources/") or not path or "/" in path:
            return 200, queue_feed(self.base_url, [])  # topics, subscriptions: none here
        try:
            with self.lock:
                runtime = self.broker.runtime(path)
        except EntityNotFound:
            return 200, queue_feed(self.base_url, [])  # what Service Bus answers
        return 200, queue_entry(self.base_url, runtime)

    def _page(self, query: dict[str, list[str]]) -> list[QueueRuntime]:
        skip = _int(query.get("$skip"), 0)
        top = _int(query.get("$top"), 100)
        with self.lock:
            runtimes = [self.broker.runtime(name) for name in self.broker.queue_names()]
        return runtimes[skip : skip + top]


def _int(values: list[str] | None, default: int) -> int:
    try:
        return max(0, int(values[0])) if values else default
    except ValueError:
        return default


class _Handler(BaseHTTPRequestHandler):
    server: _HttpsServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # TLS here, in the request's own thread: a client that never finishes its
        # handshake holds up its thread only, never the accept loop.
        self.request.settimeout(HANDSHAKE_TIMEOUT)
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def _respond(self) -> None:
        status, body = self.server.api.answer(
            self.command, self.path, self.headers.get("Authorization")
        )
        raw = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", XML)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    do_GET = do_PUT = do_DELETE = do_POST = do_HEAD = _respond

    def log_message(self, format: str, *args: object) -> None:
        log.debug("admin %s " + format, self.client_address[0], *args)


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    api: ManagementApi
    tls: ssl.SSLContext

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that drops the connection or fails the handshake: one debug line.
        log.debug("admin: request from %s failed", client_address, exc_info=True)


class AdminServer:
    """The HTTPS management endpoint of one emulator, serving from a background thread."""

    def __init__(
        self, broker: Broker, lock: threading.Lock, host: str, port: int, cert_dir: Path
    ) -> None:
        self.certificates: CertificatePaths = ensure_certificates(cert_dir)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(self.certificates.certificate, self.certificates.key)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        _HttpsServer.address_family = family
        self.httpd = _HttpsServer((host, port), _Handler)
        self.port = int(self.httpd.server_address[1])
        self.httpd.tls = tls
        self.httpd.api = ManagementApi(broker, lock, f"https://localhost:{self.port}")
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a daemon thread until `close()`."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="servicebus-admin", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
