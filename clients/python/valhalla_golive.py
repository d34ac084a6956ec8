"""Obey the Valhalla go-live state from a Python service, with the standard library only.

``GoLiveClient`` keeps the state in memory, so ``is_live()`` is a lock-protected read that costs nothing per
request. A background thread holds the api's Server-Sent Events stream (``GET /api/governance/stream``): it
reconnects with jittered exponential backoff, re-reads ``GET /api/governance/live`` after every reconnect and resumes
the stream with ``Last-Event-ID``, so no change is missed. While streaming fails (a proxy that refuses or buffers event
streams, an api that is restarting), it polls ``/live`` with ``If-None-Match`` (an unchanged state is a 304 without a
body). With ``fail_closed_after`` set, ``is_live()`` answers False once the api has not vouched for the state for that
many seconds (its age counts from the last byte received, heartbeats included), until it answers again.

Two middlewares answer 503 while the state is not live: ``GoLiveASGIMiddleware`` (FastAPI, Starlette, any ASGI app)
and ``GoLiveWSGIMiddleware`` (Flask, Django, any WSGI app).

    client = GoLiveClient(os.environ["VALHALLA_API_URL"], os.environ["VALHALLA_TOKEN"], fail_closed_after=30)
    client.wait_ready(timeout=10)          # raises TokenRefused at once if the api refuses the token
    if client.is_live(): ...
    client.close()

The module is one file with no dependencies: copy it into the service (or put ``clients/python`` of the Valhalla
repository on ``PYTHONPATH``). Python 3.9 or later.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

__all__ = [
    "GoLiveASGIMiddleware",
    "GoLiveClient",
    "GoLiveError",
    "GoLiveState",
    "GoLiveWSGIMiddleware",
    "TokenRefused",
]

STREAM_PATH = "/api/governance/stream"
LIVE_PATH = "/api/governance/live"
# A /live answer served while the api's own view was not current carries its age.
AGE_HEADER = "X-Live-State-Age-Ms"
# A stream line longer than this is not ours: the connection is dropped rather than buffered.
MAX_LINE_BYTES = 1024 * 1024
# A stream that answers 200 but sends nothing this long is behind a buffering proxy: treated as failed.
FIRST_BYTES_TIMEOUT = 10.0

logger = logging.getLogger("valhalla_golive")


class GoLiveError(Exception):
    """A request to the api failed (the client keeps trying; see ``GoLiveClient.last_error``)."""


class TokenRefused(GoLiveError):
    """The api refused the token: 401 (unknown token) or 403 (a role that may not read the live state).

    Not a transient failure: ``wait_ready()`` raises it at once instead of waiting out its timeout. The client keeps
    retrying at its longest backoff, so a token added to the api later is picked up.
    """

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        super().__init__(
            f"the Valhalla api refused the token ({status}{': ' + detail if detail else ''}); "
            "use an app, reader or operator token of this api (APP_TOKENS, READER_TOKENS, GOVERNANCE_TOKENS)"
        )


@dataclass(frozen=True)
class GoLiveState:
    """The live state as the client knows it, with how fresh it is.

    The fields of ``GET /api/governance/live`` (``changed_by`` and ``reason`` are None for an app token), plus
    ``etag`` (the stream's event id), ``age`` (seconds since the api last vouched for the state: the last byte on the
    stream, a heartbeat included, or the last answer to a poll), ``stale`` (``age > stale_after``) and ``transport``
    (``stream``, ``poll`` or ``disconnected``).
    """

    live: bool
    go_live_enabled: bool
    kill_switch_engaged: bool
    backend_complete: bool
    version: int
    changed_by: Optional[str]
    reason: Optional[str]
    updated_at: Optional[str]
    etag: str
    age: float
    stale: bool
    transport: str


ChangeCallback = Callable[[GoLiveState, Optional[GoLiveState]], None]
ErrorCallback = Callable[[Exception], None]

_BODY_FIELDS = ("live", "go_live_enabled", "kill_switch_engaged", "backend_complete", "version", "changed_by", "reason", "updated_at")


def _parse_body(data: Any) -> dict:
    """The /live body, checked: a state we cannot read is an error, never a guess."""
    if not isinstance(data, dict) or not isinstance(data.get("live"), bool) or not isinstance(data.get("version"), int):
        raise GoLiveError("the api sent a live state of an unexpected shape")
    return {field: data.get(field) for field in _BODY_FIELDS}


def _unquote_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


class GoLiveClient:
    """The go-live state of one Valhalla api, kept current in memory by background threads.

    ``url``: the api's base URL (``https://valhalla-api.example.com``). ``token``: an app token (what services should
    use: it may read the live state only), or a reader or operator token.

    ``fail_closed_after`` (seconds, default None): None keeps the last known state however old it gets, so an outage
    of the control plane does not take the service down or bring it up; a number makes ``is_live()`` answer False once
    the api has not vouched for the state for that long. A bound shorter than the api's heartbeat interval (15 s by
    default) is kept by a conditional GET /live whenever the stream has been quiet for half the bound.

    ``on_change(state, previous)``: called after every change of the state, in order, and when ``is_live()`` flips by
    the fail-closed bound; from a background thread, so keep it short. ``on_error(exception)``: every failed
    connection or request (the client keeps trying).

    ``transport``: ``auto`` (stream, polling while streaming fails) or ``poll``. ``poll_interval`` (2 s),
    ``heartbeat_timeout`` (45 s: a stream silent this long counts as down and is replaced), ``stale_after`` (30 s),
    ``request_timeout`` (5 s), ``reconnect_initial`` / ``reconnect_max`` (0.25 s / 10 s backoff),
    ``stream_failures_before_polling`` (2).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        fail_closed_after: Optional[float] = None,
        on_change: Optional[ChangeCallback] = None,
        on_error: Optional[ErrorCallback] = None,
        transport: str = "auto",
        poll_interval: float = 2.0,
        heartbeat_timeout: float = 45.0,
        stale_after: float = 30.0,
        request_timeout: float = 5.0,
        reconnect_initial: float = 0.25,
        reconnect_max: float = 10.0,
        stream_failures_before_polling: int = 2,
        start: bool = True,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"url must be an http:// or https:// URL of the Valhalla api, not {url!r}")
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a non-empty app, reader or operator token of the Valhalla api")
        if transport not in ("auto", "poll"):
            raise ValueError(f"transport must be 'auto' or 'poll', not {transport!r}")
        if fail_closed_after is not None and not fail_closed_after > 0:
            raise ValueError(f"fail_closed_after must be a positive number of seconds or None, not {fail_closed_after!r}")
        for name, value in (("poll_interval", poll_interval), ("heartbeat_timeout", heartbeat_timeout), ("request_timeout", request_timeout),
                            ("reconnect_initial", reconnect_initial), ("reconnect_max", reconnect_max)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._base_path = parsed.path.rstrip("/")
        self._token = token.strip()
        self._fail_closed_after = fail_closed_after
        self._on_change = on_change
        self._on_error = on_error
        self._transport = transport
        self._poll_interval = poll_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._stale_after = stale_after
        self._request_timeout = request_timeout
        self._reconnect_initial = reconnect_initial
        self._reconnect_max = reconnect_max
        self._failures_before_polling = stream_failures_before_polling

        # _lock guards the fields below (short holds: is_live() takes it on every request). _emit_lock is held
        # across applying a state and calling on_change, so callbacks see states in the order they were applied.
        self._lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self._known: Optional[dict] = None
        self._etag: Optional[str] = None
        self._heard_at = 0.0  # time.monotonic() of the last byte the api sent (or the vouched time of a poll)
        self._streaming = False
        self._stream_failures = 0
        self._last_error: Optional[Exception] = None
        self._last_reported: Optional[GoLiveState] = None
        self._last_reported_live = False
        self._last_logged = ""

        self._stop = threading.Event()
        self._ready = threading.Event()  # set once a state is known
        self._poll_now = threading.Event()
        self._confirm_wanted = False
        self._socket: Optional[socket.socket] = None
        self._threads: list = []
        if start:
            self.start()

    # ---- public ----

    def start(self) -> None:
        """Starts the background threads (done by the constructor unless ``start=False``). Idempotent."""
        with self._lock:
            if self._threads or self._stop.is_set():
                return
            targets = [self._poll_loop, self._watch_loop]
            if self._transport == "auto":
                targets.insert(0, self._stream_loop)
            self._threads = [threading.Thread(target=target, name=f"valhalla-golive-{target.__name__.strip('_')}", daemon=True) for target in targets]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stops the threads and closes the connection. Idempotent; is_live() answers False afterwards."""
        self._stop.set()
        self._poll_now.set()
        self._drop_socket()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Waits until the first state is known: True, or False after ``timeout`` seconds.

        Raises TokenRefused at once when the api refuses the token (no point waiting for that to change by itself).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready.is_set():
            with self._lock:
                error = self._last_error
            if isinstance(error, TokenRefused):
                raise error
            if self._stop.is_set():
                return False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._ready.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def is_live(self) -> bool:
        """From memory: the last known ``live``; False before the first state, after close() and when failed closed."""
        with self._lock:
            return self._is_live_locked()

    def state(self) -> Optional[GoLiveState]:
        """The last known state with its age; None before the first one."""
        with self._lock:
            return self._snapshot_locked()

    @property
    def last_error(self) -> Optional[Exception]:
        """The last failure (a TokenRefused, a connection error, an unexpected answer), or None."""
        with self._lock:
            return self._last_error

    def __enter__(self) -> "GoLiveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- state ----

    def _age_locked(self) -> float:
        return float("inf") if self._known is None else max(0.0, time.monotonic() - self._heard_at)

    def _is_live_locked(self) -> bool:
        if self._known is None or self._stop.is_set() or not self._known["live"]:
            return False
        return self._fail_closed_after is None or self._age_locked() <= self._fail_closed_after

    def _transport_locked(self) -> str:
        if self._streaming:
            return "stream"
        if self._transport == "poll" or self._stream_failures >= self._failures_before_polling:
            return "poll"
        return "disconnected"

    def _snapshot_locked(self) -> Optional[GoLiveState]:
        if self._known is None or self._etag is None:
            return None
        age = self._age_locked()
        return GoLiveState(**self._known, etag=self._etag, age=age, stale=age > self._stale_after, transport=self._transport_locked())

    def _heard(self, at: Optional[float] = None) -> None:
        """The api vouched for the state at ``at`` (now by default)."""
        with self._lock:
            self._heard_at = max(self._heard_at, time.monotonic() if at is None else at)

    def _apply(self, body: dict, etag: str, at: Optional[float] = None, *, only_forward: bool = False) -> None:
        """Takes a state the api sent. ``only_forward``: a poll while streaming must not take the state back."""
        with self._emit_lock:
            with self._lock:
                if only_forward and self._known is not None and body["version"] < self._known["version"]:
                    self._heard_at = max(self._heard_at, time.monotonic() if at is None else at)
                    return
                changed = self._known != body or self._etag != etag
                self._known, self._etag = body, etag
                self._heard_at = max(self._heard_at, time.monotonic() if at is None else at)
            self._ready.set()
            self._emit(force=changed)

    def _emit(self, force: bool) -> None:
        """Calls on_change when the state changed (``force``) or is_live() flipped. Caller holds _emit_lock."""
        with self._lock:
            live = self._is_live_locked()
            if not force and live == self._last_reported_live:
                return
            current = self._snapshot_locked()
            previous, self._last_reported, self._last_reported_live = self._last_reported, current, live
        if current is None or self._on_change is None:
            return
        try:
            self._on_change(current, previous)
        except Exception:  # a callback's failure must not stop the client
            logger.exception("valhalla_golive: the on_change callback failed")

    def _failed(self, error: Exception) -> None:
        with self._lock:
            self._last_error = error
            message = str(error)
            repeated, self._last_logged = message == self._last_logged, message
        if isinstance(error, TokenRefused):
            # Loud, but once per distinct message: a refused token is a configuration error, not noise.
            if not repeated:
                logger.error("valhalla_golive: %s; is_live() stays False until it is accepted (retrying every %g s)", error, self._reconnect_max)
        elif not repeated:
            logger.warning("valhalla_golive: %s (retrying)", error)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:
                logger.exception("valhalla_golive: the on_error callback failed")

    # ---- HTTP ----

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, accept: str) -> dict:
        return {"Authorization": f"Bearer {self._token}", "Accept": accept, "User-Agent": "valhalla-golive-python"}

    @staticmethod
    def _refusal(status: int, text: bytes) -> Optional[TokenRefused]:
        if status not in (401, 403):
            return None
        try:
            error = json.loads(text.decode("utf-8", "replace")).get("error", {})
            detail = f"{error.get('code', '')} {error.get('message', '')}".strip()
        except (ValueError, AttributeError):
            detail = ""
        return TokenRefused(status, detail)

    def _poll_once(self) -> None:
        """GET /live with If-None-Match; applies the answer. Raises GoLiveError (TokenRefused) on failure."""
        with self._lock:
            etag, streaming = self._etag, self._streaming
        headers = self._headers("application/json")
        if etag is not None:
            headers["If-None-Match"] = f'"{etag}"'
        connection = self._connection(self._request_timeout)
        try:
            connection.request("GET", self._base_path + LIVE_PATH, headers=headers)
            response = connection.getresponse()
            text = response.read()
            received = time.monotonic()
            try:
                server_age = max(0.0, float(response.getheader(AGE_HEADER) or 0) / 1000)
            except ValueError:
                server_age = 0.0
            if response.status == 304 and etag is not None:
                self._heard(received - server_age)
                return
            refused = self._refusal(response.status, text)
            if refused is not None:
                raise refused
            if response.status != 200:
                raise GoLiveError(f"GET {LIVE_PATH} answered {response.status}: {text[:300].decode('utf-8', 'replace')}")
            body = _parse_body(json.loads(text))
            new_etag = _unquote_etag(response.getheader("ETag") or str(body["version"]))
            self._apply(body, new_etag, received - server_age, only_forward=streaming)
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise GoLiveError(f"GET {LIVE_PATH} failed: {error}") from error
        finally:
            connection.close()

    def _backoff(self, failures: int) -> float:
        base = min(self._reconnect_max, self._reconnect_initial * 2 ** max(0, failures - 1))
        return base * (0.5 + random.random())

    def _drop_socket(self) -> None:
        sock = self._socket
        if sock is not None:
            try:
                # shutdown() wakes a thread blocked in recv(); close() alone does not.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---- threads ----

    def _stream_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                delivered = self._stream_once()
                failures = 0 if delivered else failures + 1
            except Exception as error:  # every failure is reported and retried; the thread never dies
                if self._stop.is_set():
                    break
                failures += 1
                self._failed(error if isinstance(error, GoLiveError) else GoLiveError(f"the stream failed: {error}"))
            finally:
                with self._lock:
                    self._streaming = False
                    self._stream_failures = failures
                    refused = isinstance(self._last_error, TokenRefused)
                self._poll_now.set()
            if self._stop.is_set():
                break
            self._stop.wait(self._reconnect_max if refused and failures > 0 else self._backoff(failures))

    def _stream_once(self) -> bool:
        """One stream connection: True when it carried the state (a reconnect starts the backoff over)."""
        with self._lock:
            reconnect = self._known is not None
        if reconnect:
            # After a reconnect, /live first: the stream is then resumed from the state it answered, so an event
            # the stream would replay can only be newer, never older.
            self._poll_once()
        with self._lock:
            etag = self._etag
        headers = self._headers("text/event-stream")
        headers["Cache-Control"] = "no-cache"
        if etag is not None:
            headers["Last-Event-ID"] = etag
        connection = self._connection(self._request_timeout)
        try:
            connection.request("GET", self._base_path + STREAM_PATH, headers=headers)
            self._socket = connection.sock
            response = connection.getresponse()
            if response.status != 200:
                text = response.read(4096)
                raise self._refusal(response.status, text) or GoLiveError(
                    f"GET {STREAM_PATH} answered {response.status}: {text[:300].decode('utf-8', 'replace')}"
                )
            if connection.sock is not None:
                connection.sock.settimeout(FIRST_BYTES_TIMEOUT)
            return self._read_events(response, connection)
        except (OSError, http.client.HTTPException) as error:
            if self._stop.is_set():
                return False
            if isinstance(error, (socket.timeout, TimeoutError)):
                raise GoLiveError(f"the stream was silent for longer than its heartbeat bound; reconnecting") from error
            raise GoLiveError(f"GET {STREAM_PATH} failed: {error}") from error
        finally:
            self._socket = None
            connection.close()

    def _read_events(self, response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> bool:
        """Reads the event stream until it ends. Every byte counts as the api vouching for the state."""
        delivered = False
        event, event_id, data = "", None, []
        while not self._stop.is_set():
            raw = response.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return delivered  # the api ended the stream (a restart, a shutdown): reconnect
            if len(raw) > MAX_LINE_BYTES:
                raise GoLiveError("the stream sent a line over 1 MiB; reconnecting")
            if not delivered:
                # The first bytes carry the state or, when the resumed id is current, only `retry:`: either way the
                # api is answering and the state is current. From now on silence is bounded by the heartbeat bound.
                delivered = True
                if connection.sock is not None:
                    connection.sock.settimeout(self._heartbeat_timeout)
                with self._lock:
                    self._streaming = True
                    self._stream_failures = 0
                    self._last_error = None
                    self._last_logged = ""
            self._heard()
            with self._emit_lock:
                self._emit(force=False)  # a byte after a silence may bring is_live() back
            text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
                if line == "":
                    if data and event == "state":
                        self._state_event("\n".join(data), event_id)
                    event, data = "", []
                    continue
                if line.startswith(":"):
                    continue  # a heartbeat comment
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
                elif field == "id" and "\0" not in value:
                    event_id = value
        return delivered

    def _state_event(self, data: str, event_id: Optional[str]) -> None:
        try:
            body = _parse_body(json.loads(data))
        except (ValueError, GoLiveError) as error:
            self._failed(GoLiveError(f"the stream sent a state event that could not be read: {error}"))
            return
        self._apply(body, event_id if event_id else str(body["version"]))

    def _poll_loop(self) -> None:
        """Polls while the stream is down (or always with transport='poll'), and confirms a quiet stream on demand."""
        while not self._stop.is_set():
            with self._lock:
                polling = self._transport == "poll" or (not self._streaming and self._stream_failures >= self._failures_before_polling)
                confirm, self._confirm_wanted = self._confirm_wanted and self._streaming, False
            if polling or confirm:
                try:
                    self._poll_once()
                except GoLiveError as error:
                    if self._stop.is_set():
                        break
                    self._failed(error)
            if polling:
                with self._lock:
                    refused = isinstance(self._last_error, TokenRefused)
                self._poll_now.wait(self._reconnect_max if refused else self._poll_interval)
            else:
                self._poll_now.wait(1.0)
            self._poll_now.clear()

    def _watch_loop(self) -> None:
        """Asks for confirmations of a quiet stream and reports is_live() flips caused by age alone."""
        bound = self._fail_closed_after
        tick = 1.0 if bound is None else max(0.05, min(1.0, bound / 4))
        while not self._stop.wait(tick):
            with self._lock:
                quiet = bound is not None and self._streaming and self._age_locked() > bound / 2
                if quiet:
                    self._confirm_wanted = True
            if quiet:
                self._poll_now.set()
            with self._emit_lock:
                self._emit(force=False)


class GoLiveASGIMiddleware:
    """ASGI middleware (FastAPI, Starlette, …): answers 503 to HTTP requests, and closes websockets, while not live.

    ``app.add_middleware(GoLiveASGIMiddleware, client=client)`` with Starlette or FastAPI, or wrap any ASGI app:
    ``GoLiveASGIMiddleware(app, client)``. ``exempt_paths``: paths always passed through (health checks: a service
    that is not live is still healthy). Lifespan events always pass.
    """

    def __init__(self, app: Any, client: GoLiveClient, *, exempt_paths: Iterable[str] = ("/health", "/healthz"), retry_after: int = 5) -> None:
        self.app = app
        self.client = client
        self.exempt_paths = frozenset(exempt_paths)
        self.body = json.dumps({"error": {"code": "NOT_LIVE", "message": "this service is not live (go-live state)"}}).encode()
        self.retry_after = str(retry_after).encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") in ("http", "websocket") and scope.get("path") not in self.exempt_paths and not self.client.is_live():
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})  # 1013: try again later
                return
            await send({
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"retry-after", self.retry_after),
                    (b"cache-control", b"no-store"),
                ],
            })
            await send({"type": "http.response.body", "body": self.body})
            return
        await self.app(scope, receive, send)


class GoLiveWSGIMiddleware:
    """WSGI middleware (Flask, Django, …): answers 503 while not live.

    Flask: ``app.wsgi_app = GoLiveWSGIMiddleware(app.wsgi_app, client)``; Django: wrap the WSGI application in
    ``wsgi.py``. ``exempt_paths``: paths always passed through (health checks).
    """

    def __init__(self, app: Callable, client: GoLiveClient, *, exempt_paths: Iterable[str] = ("/health", "/healthz"), retry_after: int = 5) -> None:
        self.app = app
        self.client = client
        self.exempt_paths = frozenset(exempt_paths)
        self.body = json.dumps({"error": {"code": "NOT_LIVE", "message": "this service is not live (go-live state)"}}).encode()
        self.retry_after = str(retry_after)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in self.exempt_paths and not self.client.is_live():
            start_response("503 Service Unavailable", [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(self.body))),
                ("Retry-After", self.retry_after),
                ("Cache-Control", "no-store"),
            ])
            return [self.body]
        return self.app(environ, start_response)
