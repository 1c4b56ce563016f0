"""Limits on a request before authentication (issue 14, finding 5 and item 4), each
reproduced on loopback against the real `etablera web` (one worker, and gunicorn's two):

- a 200 MB body (streamed from a generator, chunked) grew a worker from 196 to 630 MB and
  it stayed there; now it is cut off at the limit with 413 and the worker's memory does not
  grow by more than 50 MB, and a declared Content-Length over the limit is answered 413
  before any of the body is sent;
- a document under its own, larger limit is still taken from a logged-in user (token or
  session), while an anonymous one is refused at once, and a forged credential is refused
  by the handler's authentication before the body is read;
- oversized request headers, whole or never ending, are refused (431) and the
  connection closed;
- slow clients stayed open for 60 s; now ten that send their headers a line at a time, two
  that send nothing and one that trickles its body are all dropped within a few times the
  (test's 2 s) timeout, and the server serves on.
"""

from __future__ import annotations

import os
import re
import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from conftest import start_web
from web_kit import build_world, login
from etablera.interfaces.http.limits import read_limits
from etablera.models.database import make_engine, upgrade
from etablera.statemachine.errors import BadInput

pytestmark = pytest.mark.slow

TIMEOUT = 2.0                   # ETABLERA_HEADER_TIMEOUT and ETABLERA_BODY_TIMEOUT for these servers
DEADLINE = 4 * TIMEOUT          # dropped by then: a few times the timeout, not an exact time
MB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# ----------------------------------------------------------------------------- the servers

def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
        except OSError:
            continue
        if fields and int(fields[1]) == parent and fields[0] not in "ZX":
            found.append(int(entry.name))
    return found


def _rss(pid: int) -> int:
    """The process's resident memory in bytes (/proc/PID/status VmRSS)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024


@pytest.fixture(scope="module", params=[1, 2], ids=["one-worker", "two-workers"])
def site(request, tmp_path_factory):
    """`etablera web` (one worker, or gunicorn's two) on a database with users, tokens and
    cases (tests/web_kit.py), its limits' timeouts short; the pids that serve requests."""
    workers = request.param
    base = tmp_path_factory.mktemp(f"limits{workers}")
    url = f"sqlite:///{base / 'etablera.sqlite3'}"
    upgrade(make_engine(url))
    world = build_world(url)
    world.engine.dispose()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ETABLERA_HEADER_TIMEOUT", str(TIMEOUT))
        env.setenv("ETABLERA_BODY_TIMEOUT", str(TIMEOUT))
        env.setenv("ETABLERA_DOCUMENTS_DIR", str(base / "documents"))
        env.delenv("ETABLERA_MAX_BODY_BYTES", raising=False)
        env.delenv("ETABLERA_MAX_HEADER_BYTES", raising=False)
        process, port = start_web(url, "--workers", str(workers), wait=60)
    try:
        deadline = time.monotonic() + 60
        while workers > 1 and len(_children(process.pid)) != workers:
            assert process.poll() is None and time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        serving = _children(process.pid) if workers > 1 else [process.pid]
        for _ in range(4 * workers):            # each worker has served (and imported what serving takes)
            assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=30).status_code == 200
        yield world, port, serving
    finally:
        for pid in ([] if process.poll() is not None else _children(process.pid)):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        process.kill()
        process.wait()


def test_the_limits_come_from_the_environment_and_a_bad_one_is_refused_naming_it():
    assert read_limits({}) == read_limits({"ETABLERA_MAX_BODY_BYTES": " "})
    assert read_limits({}).body_bytes == MB and read_limits({}).header_bytes == 16 * 1024
    assert read_limits({"ETABLERA_BODY_MIN_RATE": "1024.5"}).body_min_rate == 1024.5
    for variable, value in (("ETABLERA_MAX_BODY_BYTES", "1.5"), ("ETABLERA_MAX_HEADER_BYTES", "-1"),
                            ("ETABLERA_HEADER_TIMEOUT", "0"), ("ETABLERA_BODY_TIMEOUT", "nan"),
                            ("ETABLERA_BODY_MIN_RATE", "inf"), ("ETABLERA_HEADER_TIMEOUT", "soon")):
        with pytest.raises(BadInput) as refused:
            read_limits({variable: value})
        assert refused.value.field == variable and refused.value.code == "limit_not_valid"


# ------------------------------------------------------------------------ raw HTTP/1.1

def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _response(conn: socket.socket) -> tuple[int, dict, bytes]:
    """The response's status, headers and body (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection without an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed(conn: socket.socket, wait: float = 10) -> bool:
    """The server has closed the connection (EOF or reset) within `wait` seconds."""
    conn.settimeout(wait)
    try:
        while conn.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _stream(conn: socket.socket, chunks) -> int:
    """Send `chunks` until the server answers (or refuses more); the bytes sent."""
    sent = 0
    for chunk in chunks:
        if select.select([conn], [], [], 0)[0]:
            break
        try:
            conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
    return sent


def _chunked(total: int, size: int = 64 * 1024):
    """A chunked body of `total` bytes, made as it is sent (never held whole)."""
    piece = b"a" * size
    for _ in range(total // size):
        yield b"%x\r\n%s\r\n" % (size, piece)
    yield b"0\r\n\r\n"


# ------------------------------------------------------------------------- body size

def test_a_200_mb_body_is_cut_off_with_413_and_the_worker_does_not_grow(site):
    world, port, serving = site
    before = {pid: _rss(pid) for pid in serving}
    sent = []
    for _ in range(len(serving) * 2):           # new connections: each worker gets its share
        with _connect(port) as conn:
            conn.sendall(b"POST /api/v1/cases HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            sent.append(_stream(conn, _chunked(200 * MB)))
            status, headers, body = _response(conn)
            assert status == 413 and headers["connection"] == "close"
            assert b'"code": "request_too_large"' in body
            assert _closed(conn)
    assert max(sent) < 100 * MB, f"the server took in {max(sent)} bytes before answering"
    after = {pid: _rss(pid) for pid in serving}
    grown = {pid: (after[pid] - before[pid]) / MB for pid in serving}
    assert max(grown.values()) <= 50, f"a worker grew by {grown} MB"
    assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=30).status_code == 200


def test_a_declared_content_length_over_the_limit_is_refused_before_the_body_is_sent(site):
    world, port, _ = site
    for path, kind in (("/api/v1/cases", "application/json"), ("/login", "application/x-www-form-urlencoded")):
        with _connect(port) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {kind}\r\n"
                         f"Content-Length: {200 * MB}\r\n\r\n".encode())
            status, headers, body = _response(conn)        # nothing of the body was sent
            assert status == 413 and headers["connection"] == "close"
            assert _closed(conn)
        if path == "/login":
            assert "för stor" in body.decode()
    # Under the limit, the same routes answer as before (here: refusals of their own).
    assert httpx.post(f"http://127.0.0.1:{port}/api/v1/cases", json={"x": "y" * 1000}, timeout=30).status_code == 401


def _multipart(content: bytes, **fields: str) -> tuple[bytes, str]:
    boundary = "gräns-limits-test".encode().hex()
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="intyg.pdf"\r\n'
                 f'Content-Type: application/pdf\r\n\r\n'.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_document_has_its_own_limit_for_a_logged_in_user_only(site):
    world, port, _ = site
    case = world.cases["nkpg"]
    big = PDF + b"x" * (3 * MB)                 # over the body limit (1 MB), under documents.max_bytes (20 MB)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as client:
        uploaded = client.post(f"/api/v1/cases/{case}/documents", headers=world.bearer("h0581"),
                               files={"file": ("intyg.pdf", big, "application/pdf")})
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["size"] == len(big)
        csrf = login(client, "h0581")           # the page's form, with the session cookie
        saved = client.post(f"/cases/{case}/documents", data={"csrf": csrf},
                            files={"file": ("intyg2.pdf", big, "application/pdf")}, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        listed = client.get(f"/api/v1/cases/{case}/documents", headers=world.bearer("h0581")).json()
        assert sorted(d["size"] for d in listed) == [len(big), len(big)]

    body, kind = _multipart(big)
    for path, credential, refused in (
            (f"/api/v1/cases/{case}/documents", "", 413),                              # anonymous: the body limit
            (f"/cases/{case}/documents", "", 413),
            (f"/api/v1/cases/{case}/documents", "Authorization: Bearer forged\r\n", 401),   # authenticated first
            (f"/cases/{case}/documents", "Cookie: etablera_session=forged\r\n", 303)):
        with _connect(port) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\n{credential}Content-Type: {kind}\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode())
            status, headers, _ = _response(conn)          # before any of the body is sent
            assert status == refused, (path, credential, status)
            assert headers["connection"] == "close"       # the unread body is not taken in
            assert _closed(conn)
    with _connect(port) as conn:                # anonymous and chunked: refused before its body is read
        conn.sendall(f"POST /api/v1/cases/{case}/documents HTTP/1.1\r\nHost: t\r\nContent-Type: {kind}\r\n"
                     f"Transfer-Encoding: chunked\r\n\r\n".encode())
        assert _stream(conn, _chunked(50 * MB)) < 40 * MB
        status, headers, _ = _response(conn)
        assert status in (401, 413) and headers["connection"] == "close"
        assert _closed(conn)


# ------------------------------------------------------------------------------ headers

def test_oversized_headers_are_refused_and_the_connection_closed(site):
    world, port, _ = site
    with _connect(port) as conn:                # whole, in one piece
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        assert _response(conn)[0] == 431
        assert _closed(conn)
    with _connect(port) as conn:                # never ending, a header line at a time
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: t\r\n")
        sent = _stream(conn, (b"X-More-%d: %s\r\n" % (i, b"b" * 1000) for i in range(10_000)))
        # cut off long before the 10 MB stream ends (how much the kernel's buffers took
        # before the close reached the client varies with the machine's load)
        assert sent < 4 * MB
        assert _response(conn)[0] == 431
        assert _closed(conn)
    with _connect(port) as conn:                # a long URL counts too
        conn.sendall(b"GET /login?q=" + b"c" * 40_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _response(conn)[0] == 431
    ordinary = httpx.get(f"http://127.0.0.1:{port}/login", headers={"X-Fine": "d" * 4000}, timeout=30)
    assert ordinary.status_code == 200


# ------------------------------------------------------------------------- slow clients

def test_slow_clients_are_dropped_within_a_few_timeouts_and_the_server_serves_on(site):
    world, port, _ = site
    started = time.monotonic()
    slow_heads = [_connect(port) for _ in range(10)]
    idle = [_connect(port) for _ in range(2)]
    slow_body = _connect(port)
    for conn in slow_heads:
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: t\r\n")
    slow_body.sendall(b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 100000\r\n\r\nuser=")
    open_ = {id(c): c for c in [*slow_heads, *idle, slow_body]}
    answers: dict[int, bytes] = {}
    line = 0
    while open_ and time.monotonic() < started + DEADLINE:
        line += 1
        for key, conn in list(open_.items()):
            try:
                if select.select([conn], [], [], 0)[0]:
                    data = conn.recv(65536)
                    answers[key] = answers.get(key, b"") + data
                    if not data:
                        del open_[key]
                        continue
                if conn in slow_heads:
                    conn.sendall(b"X-Slow-%d: y\r\n" % line)           # a header line every 0.2 s
                elif conn is slow_body:
                    conn.sendall(b"a")                                 # a byte of the body every 0.2 s
            except (BrokenPipeError, ConnectionResetError):
                del open_[key]
        time.sleep(0.2)
    assert not open_, f"{len(open_)} slow connections still open {DEADLINE:.0f} s after they began"
    assert time.monotonic() - started > TIMEOUT / 2, "dropped at once: not by the timeout"
    heard = [answers.get(id(c), b"") for c in [*slow_heads, slow_body]]
    assert sum(a.startswith(b"HTTP/1.1 408 ") for a in heard) >= 6, heard     # those that read it were told
    assert not any(answers.get(id(c)) for c in idle)                           # nothing to answer: just closed
    for conn in [*slow_heads, *idle, slow_body]:
        conn.close()
    # Not held up meanwhile, and serving on after.
    assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=30).status_code == 200


def test_a_slow_but_steady_upload_and_a_keep_alive_connection_are_not_cut(site):
    world, port, _ = site
    step = 8 * 1024                             # 8 kB every 0.5 s: pauses shorter than the timeout, and
    body = (b"user=a&password=b&login_csrf=c&next=%2F&pad=").ljust(7 * step, b"p")     # twice the least rate
    with _connect(port) as conn:
        conn.sendall(b"POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        for i in range(0, len(body), step):
            time.sleep(0.5)
            conn.sendall(body[i:i + step])
        assert time.monotonic() - started > TIMEOUT
        assert _response(conn)[0] in (303, 400, 401, 403)   # the login form's own answer, not 408
    with _connect(port) as conn:                # the same connection, idle shorter than keep-alive, again
        for _ in range(2):
            conn.sendall(b"GET /login HTTP/1.1\r\nHost: t\r\n\r\n")
            assert _response(conn)[0] == 200
            time.sleep(1)
