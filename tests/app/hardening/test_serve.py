"""``backprop-lens serve``: its HTTP protocol (TCP_NODELAY on accepted sockets, 414/431/400 in the one error
body) and its uvicorn options, against real sockets. Timing is in bench/load.py, not here."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import uvicorn

from app import cli, serve
from app.serve import LensH11Protocol, max_request_head, uvicorn_options
from app.settings import Settings
from bench.load import free_port

PROTOCOLS = [LensH11Protocol] + ([serve.LensHttpToolsProtocol] if serve.FAST else [])


@pytest.mark.parametrize("protocol_class", PROTOCOLS, ids=lambda c: c.__name__)
def test_accepted_sockets_get_tcp_nodelay(monkeypatch, protocol_class):
    """uvicorn --workers binds with proto=0, so asyncio leaves Nagle on: the protocol turns it off."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's bind_socket
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

    class Transport:
        def get_extra_info(self, name, default=None):
            return accepted if name == "socket" else default

    protocol = protocol_class.__new__(protocol_class)  # only connection_made runs: no config needed
    called = []
    monkeypatch.setattr(protocol_class.__mro__[1], "connection_made", lambda self, transport: called.append(transport))
    protocol.connection_made(Transport())
    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1 and called
    for s in (client, accepted, listener):
        s.close()


def test_serve_uses_the_protocol_no_banner_and_workers(monkeypatch):
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    cli.main(["serve", "--port", "8123", "--workers", "2"])
    (_, kwargs), = calls
    assert kwargs["http"] == ("app.serve:LensHttpToolsProtocol" if serve.FAST else "app.serve:LensH11Protocol")
    assert kwargs["server_header"] is False and kwargs["loop"] == ("uvloop" if serve.FAST else "asyncio")
    assert kwargs["workers"] == 2 and kwargs["h11_max_incomplete_event_size"] == max_request_head(Settings())
    assert uvicorn_options(Settings())["h11_max_incomplete_event_size"] > Settings().max_url_bytes
    with pytest.raises(SystemExit):
        cli.main(["serve", "--reload", "--workers", "2"])


@pytest.fixture(scope="module", params=["serve", *(c.__name__ for c in PROTOCOLS)])
def server(request):
    """``backprop-lens serve``, and uvicorn run with each protocol class as the module's docstring says."""
    port = free_port()
    if request.param == "serve":
        cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port), "--http",
               f"app.serve:{request.param}", "--no-server-header", "--h11-max-incomplete-event-size",
               str(max_request_head(Settings()))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # a loaded machine (CI beside other jobs) can take tens of seconds to start
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{' '.join(cmd[1:4])} did not answer /healthz on port {port} (exit {proc.poll()})")
            time.sleep(0.05)
    yield port, request.param
    proc.terminate()
    proc.wait(10)


def raw(port: int, request: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before all of it was sent
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_no_server_banner(server):
    status, headers, _ = raw(server[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and "server" not in headers


@pytest.mark.parametrize("length,status,where", [(40_000, 414, "app"), (1_000_000, 414, "server")])
def test_a_url_too_long_is_414_in_the_one_shape(server, length, status, where):
    request = f"GET /conv?v=1&x={'1,' * (length // 2)} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"
    code, headers, body = raw(server[0], request.encode())
    assert code == status and headers["connection"] == "close", (where, code)
    item = json.loads(body)["detail"][0]
    assert item["loc"] == ["url"] and item["type"] == "url_too_long"
    assert ("the limit is 32,768" if where == "app" else "longer than this server reads") in item["msg"]


def test_garbage_is_a_400_and_huge_headers_a_431_in_the_one_shape(server):
    code, headers, body = raw(server[0], b"NOT HTTP AT ALL\r\n\r\n")
    assert code == 400 and json.loads(body)["detail"][0]["type"] == "bad_request"
    if server[1] == "LensH11Protocol":
        return  # h11 applies its limit only to a request still incomplete: whole ones in one read pass
    big = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(80))
    code, headers, body = raw(server[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert code == 431 and json.loads(body)["detail"][0]["type"] == "headers_too_large"
