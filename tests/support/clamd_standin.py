"""A local stand-in for the clamd daemon: speaks its INSTREAM protocol over TCP and reports
the EICAR test signature, as clamd does."""

from __future__ import annotations

import socketserver
import struct
import threading

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class _Handler(socketserver.BaseRequestHandler):
    def _read_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client went away")
            data += chunk
        return data

    def handle(self) -> None:
        command = b""
        while not command.endswith((b"\0", b"\n")):
            byte = self.request.recv(1)
            if not byte:
                return
            command += byte
        name, end = command[:-1], command[-1:]
        if name in (b"zPING", b"nPING"):
            self.request.sendall(b"PONG" + end)
            return
        if name not in (b"zINSTREAM", b"nINSTREAM"):
            self.request.sendall(b"UNKNOWN COMMAND" + end)
            return
        window = b""
        found = False
        self.server.streams += 1  # type: ignore[attr-defined]
        while True:
            (length,) = struct.unpack("!L", self._read_exact(4))
            if length == 0:
                break
            chunk = self._read_exact(length)
            window = window[-len(EICAR) :] + chunk
            found = found or EICAR in window
        answer = b"stream: Eicar-Test-Signature FOUND" if found else b"stream: OK"
        self.request.sendall(answer + end)


class ClamdStandIn:
    def __init__(self) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.streams = 0  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.server.server_address[1]}"

    @property
    def streams(self) -> int:
        return int(self.server.streams)  # type: ignore[attr-defined]

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
