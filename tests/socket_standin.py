"""A stand-in for Slack's Socket Mode WebSocket server, on 127.0.0.1, standard library only.

Responsible for: the WebSocket side of Socket Mode. It accepts RFC 6455
connections (HTTP upgrade with ``Sec-WebSocket-Accept``; unmasked frames from
the server, masked frames required from the client; text, ping/pong, close,
continuation), greets each connection with Slack's ``hello``, lets a test push
envelopes (``slash_commands``, ``interactive``, ``events_api``) and wait for
the app's acknowledgement ``{"envelope_id", "payload"?}``, and records every
connection and every message the app sent.

Not responsible for: ``apps.connections.open`` (the Web API stand-in in
``incidentbot/playground/standin.py`` answers it with ``url``), building payloads (see
``tests/slack_requests.py``), or TLS (the URL is ``ws://``; slack_sdk's
built-in client uses a plain socket for any port other than 443).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

APP_ID = "A0INCIDENT"
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_FRAME = 16 * 1024 * 1024


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def encode_frame(opcode: int, data: bytes) -> bytes:
    """One final, unmasked frame (servers never mask)."""
    head = bytes([0x80 | opcode])
    if len(data) < 126:
        head += bytes([len(data)])
    elif len(data) < 65536:
        head += struct.pack("!BH", 126, len(data))
    else:
        head += struct.pack("!BQ", 127, len(data))
    return head + data


class ProtocolError(Exception):
    """The peer broke RFC 6455; the connection is closed with code 1002."""


@dataclass
class Connection:
    """One WebSocket connection from the app, as seen by the server."""

    id: int
    path: str
    headers: dict[str, str]
    sock: socket.socket = field(repr=False)
    opened_at: float = field(default_factory=time.time)
    received: list[dict[str, Any]] = field(default_factory=list)  # app → server JSON messages
    pings: int = 0
    close_code: int | None = None
    closed: bool = False
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, opcode: int, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(encode_frame(opcode, data))

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(OP_TEXT, json.dumps(message).encode())


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn = self._handshake()
        if conn is None:
            return
        standin = self.server.standin
        try:
            conn.send_json(standin.hello())
            standin._opened(conn)
            self._serve(conn)
        except ProtocolError:
            self._close(conn, 1002)
        except OSError:
            pass
        finally:
            standin._closed(conn)

    def _handshake(self) -> Connection | None:
        request_line = self.rfile.readline(8192).decode("latin-1").strip()
        headers: dict[str, str] = {}
        while True:
            line = self.rfile.readline(8192).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = request_line.split(" ")
        key = headers.get("sec-websocket-key", "")
        if (
            len(parts) != 3
            or parts[0] != "GET"
            or headers.get("upgrade", "").lower() != "websocket"
            or "upgrade" not in headers.get("connection", "").lower()
            or headers.get("sec-websocket-version") != "13"
            or not key
        ):
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return None
        if not self.server.standin._ticket_ok(parts[1]):
            self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            return None
        self.wfile.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode()
        )
        self.wfile.flush()
        return self.server.standin._new_connection(parts[1], headers, self.connection)

    def _read(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise OSError("connection closed mid-frame")
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        b1, b2 = self._read(2)
        if b1 & 0x70:
            raise ProtocolError("reserved bits set")
        if not b2 & 0x80:
            raise ProtocolError("client frames must be masked")
        length = b2 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        if length > MAX_FRAME:
            raise ProtocolError("frame too large")
        mask = self._read(4)
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(length)))
        return bool(b1 & 0x80), b1 & 0x0F, data

    def _serve(self, conn: Connection) -> None:
        message: bytearray | None = None
        while True:
            fin, opcode, data = self._frame()
            if opcode == OP_PING:
                conn.pings += 1
                conn.send(OP_PONG, data)
            elif opcode == OP_PONG:
                pass
            elif opcode == OP_CLOSE:
                conn.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self._close(conn, 1000)
                return
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if (opcode == OP_CONT) != (message is not None):
                    raise ProtocolError("unexpected continuation state")
                message = (message or bytearray()) + data
                if fin:
                    self.server.standin._received(conn, bytes(message))
                    message = None
            else:
                raise ProtocolError(f"unknown opcode {opcode}")

    @staticmethod
    def _close(conn: Connection, code: int) -> None:
        with contextlib.suppress(OSError):
            conn.send(OP_CLOSE, struct.pack("!H", code))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: SocketModeStandIn


class SocketModeStandIn:
    """A running Socket Mode server; hand ``url`` out from ``apps.connections.open``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids = iter(range(1, 1 << 30))
        self.connections: list[Connection] = []
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id -> the app's reply
        self.sent: list[dict[str, Any]] = []  # every envelope sent to the app
        self.bad_messages: list[str] = []  # text frames that were not JSON objects
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        self.port: int = self._server.server_address[1]
        self.ticket = secrets.token_hex(8)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket={self.ticket}&app_id={APP_ID}"

    def hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self.open_connections()) + 1,
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }

    # ------------------------------------------------------------ test API

    def open_connections(self) -> list[Connection]:
        with self._cond:
            return [c for c in self.connections if not c.closed]

    def wait_for_connection(self, timeout: float = 10.0) -> Connection:
        with self._cond:
            if not self._cond.wait_for(self.open_connections, timeout=timeout):
                raise AssertionError("the app did not open a Socket Mode connection")
            return self.open_connections()[-1]

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 10.0,
    ) -> str:
        """Send an envelope on the newest open connection; returns its ``envelope_id``."""
        conn = self.wait_for_connection(timeout)
        envelope: dict[str, Any] = {
            "envelope_id": secrets.token_hex(16),
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        with self._cond:
            self.sent.append(envelope)
        conn.send_json(envelope)
        return envelope["envelope_id"]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The app's reply to an envelope, e.g. ``{"envelope_id": …, "payload": {…}}``."""
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout=timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s")
            return self.acks[envelope_id]

    def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before recycling a connection."""
        conn = self.wait_for_connection(1)
        conn.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "x"}})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for conn in self.open_connections():
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    # ------------------------------------------------------------ called by connections

    def _ticket_ok(self, path: str) -> bool:
        return path.startswith("/link/") and f"ticket={self.ticket}" in path

    def _new_connection(
        self, path: str, headers: dict[str, str], sock: socket.socket
    ) -> Connection:
        return Connection(next(self._ids), path, headers, sock)

    def _opened(self, conn: Connection) -> None:
        with self._cond:
            self.connections.append(conn)
            self._cond.notify_all()

    def _closed(self, conn: Connection) -> None:
        with self._cond:
            conn.closed = True
            self._cond.notify_all()

    def _received(self, conn: Connection, data: bytes) -> None:
        try:
            message = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            message = None
        with self._cond:
            if not isinstance(message, dict):
                self.bad_messages.append(data.decode("utf-8", "replace"))
            else:
                conn.received.append(message)
                if "envelope_id" in message:
                    self.acks.setdefault(str(message["envelope_id"]), message)
            self._cond.notify_all()
