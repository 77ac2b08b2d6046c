"""A small OpenAI-compatible HTTP server on the standard library.

It is the product's offline, deterministic stand-in for the OpenAI API when no API key is set, and the
local fake that tests start on loopback to script faults (rate limits, timeouts, broken payloads).
Only `POST /v1/embeddings` and `POST /v1/chat/completions` exist; everything else is a 404.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pipeline.openai_standin import chat, embedder
from pipeline.openai_standin.faults import FAULT_KINDS, ApiError, Fault, RateWindow, fault_error

EMBEDDINGS = "/v1/embeddings"
CHAT_COMPLETIONS = "/v1/chat/completions"
DEFAULT_FAULT_SECONDS = {"timeout": 30.0, "latency": 1.0}
MALFORMED_BODY = b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1,'
BAD_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


@dataclass
class RecordedRequest:
    path: str
    body: Any  # the parsed JSON body (the raw text if it was not JSON); headers are never kept
    time: float
    status: int | None = None  # None while the request is still being answered


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: StandinServer) -> None:
        super().__init__(address, _Handler)
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections so their handler threads exit now rather than at their timeout."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 30  # idle keep-alive connections are closed instead of holding a thread forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no per-request stderr lines

    def do_POST(self) -> None:
        self.server.standin._handle(self)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST


class StandinServer:
    """OpenAI-compatible server with deterministic answers, fault injection and optional rate limits."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = 0.0
        self.dense_vectors = False  # see embedder.embed_batch
        self._window = RateWindow(rpm_limit, tpm_limit)
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._poison: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._request_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> StandinServer:
        if self._httpd is not None:
            raise RuntimeError("StandinServer is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="openai-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency or timeout faults
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("StandinServer is not running; call start() first")
        return f"http://{self.host}:{self.port}/v1"

    # scripting

    def inject(self, kind: str, times: int = 1, **params: Any) -> None:
        """Queue `times` faults of `kind`; each following request consumes one, in FIFO order."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._faults.extend(Fault(kind, dict(params)) for _ in range(times))

    def poison(self, marker: str) -> None:
        """Embedding requests with an input containing `marker` get a 400 naming the input's index."""
        with self._lock:
            self._poison.append(marker)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._poison.clear()
            self._requests.clear()
            self.latency = 0.0
            self.dense_vectors = False
        self._window.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path_suffix: str = "/embeddings", status: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self._requests
                if r.path.endswith(path_suffix) and (status is None or r.status == status)
            )

    # request handling

    def _handle(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path
        length = handler.headers.get("Content-Length", "0")
        raw = handler.rfile.read(int(length) if length.isdigit() else 0)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        record = RecordedRequest(path, body, time.time())
        with self._lock:
            self._requests.append(record)
            request_id = f"req_standin_{next(self._request_ids):08d}"

        try:
            status, headers, payload = 200, {}, self._answer(handler.command, path, body)
        except ApiError as error:
            status, headers, payload = error.status, error.headers, json.dumps(error.body).encode()
            if status == 401:
                presented = handler.headers.get("Authorization", "").removeprefix("Bearer ")
                payload = payload.replace(b"{key}", presented.encode())
        except Exception as exc:  # a stand-in bug should reach the client as a 500, not a dropped connection
            error = ApiError(500, f"Stand-in server error: {exc!r}", "server_error")
            status, headers, payload = error.status, error.headers, json.dumps(error.body).encode()
        with self._lock:
            record.status = status

        try:
            handler.send_response(status)
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(payload)),
                "x-request-id": request_id,
                **self._window.headers(time.time()),
                **headers,
            }
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout fired)
            handler.close_connection = True

    def _answer(self, method: str, path: str, body: Any) -> bytes:
        """The 200 response body; errors are raised as ApiError."""
        if self.latency > 0:
            self._stopping.wait(self.latency)
        if method != "POST" or path not in (EMBEDDINGS, CHAT_COMPLETIONS):
            raise ApiError(404, f"Invalid URL ({method} {path})")
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            poison = list(self._poison)
        if fault is not None:
            error = fault_error(fault)
            if error is not None:
                raise error
            if fault.kind in DEFAULT_FAULT_SECONDS:
                self._stopping.wait(float(fault.params.get("seconds", DEFAULT_FAULT_SECONDS[fault.kind])))
            if fault.kind == "malformed_json":
                return MALFORMED_BODY
        if not isinstance(body, dict):
            raise ApiError(400, BAD_JSON_MESSAGE)

        if path == EMBEDDINGS:
            request = embedder.parse_request(body, poison)
            self._window.admit(request.prompt_tokens, time.time(), request.model)
            wrong_count = fault is not None and fault.kind == "wrong_count"
            return embedder.response(request, drop_last=wrong_count, dense=self.dense_vectors)
        chat_request = chat.parse_request(body)
        self._window.admit(chat_request.prompt_tokens, time.time(), chat_request.model)
        return json.dumps(
            chat.response(chat_request, fault=fault.kind if fault is not None else None)
        ).encode()
