"""Logins under attack (issue 14, items 1, 2 and 11), each reproduced on loopback against
the real `etablera web` and shown to fail safely:

- the parallel login burst: 50 concurrent wrong passwords over two worker processes were
  all checked (and the right password last was accepted); now a handful are checked and
  the right password is refused while the burst's delay holds;
- the lock-out: five wrong passwords locked anyone out, admin included; now a stranger's
  failures from their addresses do not stop the real user from another;
- a login burst beside a logged-in client: its GETs took 19 s; now they stay fast
  (password checks have a bounded pool of their own);
- Secure cookies: over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto)
  without a flag; never on an untrusted client's say-so.

The rules themselves and the per-name serialisation are tested on the database directly.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, _pg_available, drop_pg_schema, fresh_pg_url, start_web, PG_SERVER
from etablera.access import accounts, login_guard
from etablera.access.login_guard import CEILING, FIRST_DELAY, FREE, SLOT, WINDOW, admit, settle
from etablera.interfaces.http.app import create_app
from etablera.models.database import make_engine, upgrade
from etablera.models.timestamps import utcnow

PASSWORD = "rätt-lösenord-123"
TRUSTED_PROXY = "127.0.0.2"


def _user(engine, user_id: str, role: str = "officer", municipality: str | None = "0581") -> None:
    accounts.add_user(engine, user_id, name=f"Test {user_id}", role=role, organisation="kommun",
                      municipality=municipality, password=PASSWORD)


# ----------------------------------------------------------------------------- the rules

def test_the_delay_grows_per_name_and_address_and_a_success_clears_it(any_engine):
    start = utcnow()
    for i in range(FREE):                                       # the free failures
        verdict = admit(any_engine, "Kim", "10.0.0.1", now=start + timedelta(seconds=i))
        assert verdict.allowed
        settle(any_engine, verdict.attempt, ok=False)
    last = start + timedelta(seconds=FREE - 1)
    refused = admit(any_engine, "kim ", "10.0.0.1", now=last + timedelta(seconds=1))   # names fold
    assert not refused.allowed and refused.retry_at == last + FIRST_DELAY and refused.why == "delay"
    # Hammering while refused does not extend the wait; the next failure doubles it.
    for _ in range(10):
        assert admit(any_engine, "kim", "10.0.0.1", now=last + timedelta(seconds=2)).retry_at == last + FIRST_DELAY
    later = last + FIRST_DELAY
    verdict = admit(any_engine, "kim", "10.0.0.1", now=later)
    assert verdict.allowed
    settle(any_engine, verdict.attempt, ok=False)
    assert admit(any_engine, "kim", "10.0.0.1", now=later + timedelta(seconds=1)).retry_at == later + 2 * FIRST_DELAY
    # Another address is not held up by this one's failures; a success clears an address.
    other = admit(any_engine, "kim", "10.0.0.2", now=later + timedelta(seconds=1))
    assert other.allowed
    settle(any_engine, other.attempt, ok=True)
    after = later + 2 * FIRST_DELAY
    verdict = admit(any_engine, "kim", "10.0.0.1", now=after)
    settle(any_engine, verdict.attempt, ok=True)
    assert admit(any_engine, "kim", "10.0.0.1", now=after + timedelta(seconds=1)).allowed
    # Old failures age out of the window.
    assert admit(any_engine, "kim", "10.0.0.1", now=start + WINDOW + timedelta(hours=1)).allowed


def test_the_ceiling_per_name_holds_failed_clients_and_lets_a_clean_one_through_slowly(any_engine):
    start = utcnow()
    at = start
    for client in range(CEILING // FREE):                      # CEILING failures from several addresses
        for _ in range(FREE):
            at += timedelta(seconds=1)
            verdict = admit(any_engine, "admin", f"10.1.0.{client}", now=at)
            assert verdict.allowed
            settle(any_engine, verdict.attempt, ok=False)
    # A stranger's address that failed: held until failures age out of the window.
    held = admit(any_engine, "admin", "10.1.0.0", now=at + FIRST_DELAY * 100)
    assert not held.allowed and held.why == "ceiling" and held.retry_at == start + timedelta(seconds=1) + WINDOW
    # The real user from a clean address: at most SLOT after the last check, then let through.
    soon = admit(any_engine, "admin", "10.9.9.9", now=at + timedelta(seconds=1))
    assert not soon.allowed and soon.why == "slot" and soon.retry_at == at + SLOT
    verdict = admit(any_engine, "admin", "10.9.9.9", now=at + SLOT)
    assert verdict.allowed
    settle(any_engine, verdict.attempt, ok=True)


def test_fifty_parallel_attempts_are_decided_one_after_another(any_engine):
    """The check-then-count race of the old throttle, on the database directly: each
    attempt sees the others, so exactly FREE of 50 are let through (PostgreSQL: an
    advisory lock on the name; SQLite: the writers' lock)."""
    barrier = threading.Barrier(50)

    def attempt(_):
        barrier.wait()
        return admit(any_engine, "parallel", "10.2.0.1").allowed

    with ThreadPoolExecutor(50) as pool:
        allowed = list(pool.map(attempt, range(50)))
    assert allowed.count(True) == FREE
    assert login_guard.counts(any_engine, "parallel") == {"pending": FREE, "failed": 0, "ok": 0, "refused": 50 - FREE}


# ----------------------------------------------------------------------------- in process: cookies

def _set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def test_cookies_are_secure_over_https_or_when_forced_and_not_over_plain_http(engine):
    _user(engine, "h0581")
    plain = TestClient(create_app(engine))
    assert not any("secure" in c.lower() for c in _set_cookies(plain.get("/login")))
    https = TestClient(create_app(engine), base_url="https://testserver")
    assert all("secure" in c.lower() for c in _set_cookies(https.get("/login")))
    token = re.search(r'name="login_csrf" value="([^"]+)"', https.get("/login").text).group(1)
    logged_in = https.post("/login", data={"user": "h0581", "password": PASSWORD, "login_csrf": token},
                           follow_redirects=False)
    session = [c for c in _set_cookies(logged_in) if c.startswith("etablera_session=")]
    assert logged_in.status_code == 303 and session and "secure" in session[0].lower()
    forced = TestClient(create_app(engine, secure_cookies=True))        # --secure-cookies: always
    assert all("secure" in c.lower() for c in _set_cookies(forced.get("/login")))


# ----------------------------------------------------------------------------- the real server

@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path_factory):
    """`etablera web --workers 2` on a database of its own, trusting 127.0.0.2 as a proxy:
    (its base URL, the engine, the process). Stopped (all its processes) at the end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('login') / 'etablera.sqlite3'}"
    else:
        problem = _pg_available()
        if problem:
            pytest.skip(f"PostgreSQL is not reachable at {PG_SERVER} ({problem})")
        url = fresh_pg_url(PG_SERVER)
    engine = make_engine(url)
    upgrade(engine)
    for user_id in ("burst", "h0581"):
        _user(engine, user_id)
    _user(engine, "admin", role="admin", municipality=None)
    mp = pytest.MonkeyPatch()
    mp.setenv("ETABLERA_TRUSTED_PROXIES", TRUSTED_PROXY)
    try:
        process, port = start_web(url, "--workers", "2")
    finally:
        mp.undo()
    try:
        yield f"http://127.0.0.1:{port}", engine, process
    finally:
        _stop(process)
        engine.dispose()
        if request.param == "postgres":
            drop_pg_schema(PG_SERVER, url)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()                 # gunicorn's master stops its workers
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _client(base: str, address: str = "127.0.0.1", **kwargs) -> httpx.Client:
    """A client on loopback from `address` (any of 127.0.0.0/8 is this machine)."""
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=address), timeout=120,
                        follow_redirects=False, **kwargs)


def _form(client: httpx.Client) -> tuple[str, str]:
    """The login form's token and its cookie (the double submit)."""
    page = client.get("/login")
    return re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1), page.cookies["etablera_login_csrf"]


def _post_login(base: str, address: str, user: str, password: str, form: tuple[str, str],
                lang: str = "sv") -> httpx.Response:
    token, cookie = form
    with _client(base, address) as client:
        return client.post("/login", data={"user": user, "password": password, "login_csrf": token},
                           headers={"Cookie": f"etablera_login_csrf={cookie}; etablera_lang={lang}"})


@pytest.mark.slow
def test_a_parallel_burst_of_wrong_passwords_gets_a_handful_of_checks_and_then_the_right_one_waits(served):
    base, engine, _ = served
    with _client(base) as client:
        form = _form(client)
    barrier = threading.Barrier(50)

    def guess(i: int) -> httpx.Response:
        barrier.wait()
        return _post_login(base, "127.0.0.1", "burst", f"gissning-{i}", form)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(guess, range(50)))
    statuses = [a.status_code for a in answers]
    checked = login_guard.counts(engine, "burst")
    print(f"\n50 parallel wrong passwords over 2 workers: {sorted(set(statuses))}, {checked}")
    assert set(statuses) <= {401, 429, 503}
    assert 1 <= checked["failed"] <= FREE and checked["pending"] == 0
    assert statuses.count(401) == checked["failed"]           # only the checked ones were told "wrong"
    assert statuses.count(429) >= 50 - FREE - statuses.count(503) and statuses.count(429) > 0
    waiting = next(a for a in answers if a.status_code == 429)
    assert re.search(r"Försök igen kl\. \d\d:\d\d:\d\d", waiting.text)
    assert int(waiting.headers["retry-after"]) >= 1

    # The right password last, as in the attack: not accepted while the burst's delay holds.
    if checked["failed"] == FREE:
        right = _post_login(base, "127.0.0.1", "burst", PASSWORD, form)
        assert right.status_code == 429 and "etablera_session" not in right.cookies
        assert "Försök igen kl." in right.text
        english = _post_login(base, "127.0.0.1", "burst", PASSWORD, form, lang="en")
        assert english.status_code == 429 and re.search(r"Try again at \d\d:\d\d:\d\d", english.text)
        assert login_guard.counts(engine, "burst")["ok"] == 0


@pytest.mark.slow
def test_a_strangers_failures_do_not_lock_the_real_user_out(served):
    base, engine, _ = served
    strangers = [f"127.0.0.{i}" for i in range(10, 10 + CEILING // FREE)]
    forms = {}
    for address in strangers + ["127.0.0.1"]:
        with _client(base, address) as client:
            forms[address] = _form(client)

    def fail_from(address: str) -> list[int]:
        return [_post_login(base, address, "admin", f"fel-{i}", forms[address]).status_code for i in range(FREE)]

    with ThreadPoolExecutor(len(strangers)) as pool:
        assert all(s == 401 for codes in pool.map(fail_from, strangers) for s in codes)
    assert login_guard.counts(engine, "admin")["failed"] >= CEILING
    # The stranger is held, from every address that failed ...
    for address in strangers:
        assert _post_login(base, address, "admin", "fel-igen", forms[address]).status_code == 429
    # ... and the real administrator, from an address that has not failed, gets in at
    # once, or after at most SLOT while the ceiling holds (told when).
    answer = _post_login(base, "127.0.0.1", "admin", PASSWORD, forms["127.0.0.1"])
    if answer.status_code == 429:
        assert int(answer.headers["retry-after"]) <= SLOT.total_seconds()
        time.sleep(int(answer.headers["retry-after"]))
        answer = _post_login(base, "127.0.0.1", "admin", PASSWORD, forms["127.0.0.1"])
    assert answer.status_code == 303 and "etablera_session" in answer.cookies


@pytest.mark.slow
def test_secure_cookies_through_a_trusted_proxy_and_not_on_an_untrusted_clients_say_so(served):
    base, _, _ = served
    https = {"X-Forwarded-Proto": "https"}
    with _client(base, TRUSTED_PROXY) as proxy:
        through_proxy = proxy.get("/login", headers=https).headers.get_list("set-cookie")
        plain_proxy = proxy.get("/login").headers.get_list("set-cookie")
    with _client(base, "127.0.0.1") as stranger:
        spoofed = stranger.get("/login", headers=https).headers.get_list("set-cookie")
    assert through_proxy and all("secure" in c.lower() for c in through_proxy)
    assert plain_proxy and not any("secure" in c.lower() for c in plain_proxy)
    assert spoofed and not any("secure" in c.lower() for c in spoofed)


# ----------------------------------------------------------------------------- a burst beside a user

BURST = r"""
import re, sys, threading, httpx
base, n = sys.argv[1], int(sys.argv[2])
page = httpx.get(base + "/login")
token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
cookie = page.cookies["etablera_login_csrf"]
barrier, codes = threading.Barrier(n), []
def one(i):
    barrier.wait()
    with httpx.Client(timeout=120) as c:
        codes.append(c.post(base + "/login", data={"user": f"vem-{i}", "password": "x" * 12, "login_csrf": token},
                            headers={"Cookie": "etablera_login_csrf=" + cookie}).status_code)
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(map(str, codes)))
"""


@pytest.mark.slow
def test_a_burst_of_logins_does_not_slow_a_logged_in_users_pages(db_url):
    engine = make_engine(db_url)
    _user(engine, "h0581")
    process, port = start_web(db_url)
    base = f"http://127.0.0.1:{port}"
    try:
        with _client(base) as user:
            token, cookie = _form(user)
            user.cookies.set("etablera_login_csrf", cookie, path="/login")
            assert user.post("/login", data={"user": "h0581", "password": PASSWORD, "login_csrf": token}).status_code == 303

            def timed() -> float:
                began = time.perf_counter()
                assert user.get("/worklist").status_code == 200
                return time.perf_counter() - began

            for _ in range(5):
                timed()                                 # warm
            baseline = [timed() for _ in range(30)]
            burst = subprocess.Popen([sys.executable, "-c", BURST, base, "100"], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
            during = []
            while burst.poll() is None or len(during) < 30:
                during.append(timed())
            codes = burst.communicate(timeout=120)[0].split()
    finally:
        _stop(process)
        engine.dispose()
    median = statistics.median(baseline)
    p95 = statistics.quantiles(during, n=20)[-1]
    print(f"\nlogged-in GET /worklist: baseline median {median * 1000:.1f} ms; during 100 logins "
          f"p95 {p95 * 1000:.1f} ms, max {max(during) * 1000:.1f} ms over {len(during)} requests; "
          f"logins answered {sorted((c, codes.count(c)) for c in set(codes))}")
    assert len(codes) == 100 and set(codes) <= {"401", "503"} and "401" in codes
    # the bound (100 ms) or ten times a quiet baseline, whichever is larger: a loaded
    # machine's few-millisecond baseline alone is too noisy to be a bound
    assert p95 < max(10 * median, 0.1) and p95 < 1.0
