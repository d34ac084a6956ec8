"""Tests of valhalla_golive against a real Valhalla api and worker.

Run through the test suite (``npx vitest run test/python/pythonClient.test.ts``, part of ``npm test``): it starts the
api and a worker on a database of their own and passes their address, tokens and a control server (to stop, start,
freeze and thaw the api) in the environment. Run alone, the tests fail naming the missing variable.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import wsgiref.simple_server
from typing import Any, Callable, Optional

from valhalla_golive import GoLiveASGIMiddleware, GoLiveClient, GoLiveState, GoLiveWSGIMiddleware, TokenRefused


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests with `npx vitest run test/python/pythonClient.test.ts`, which starts the api")
    return value


API = _env("VALHALLA_API_URL")
APP_TOKEN = _env("VALHALLA_TOKEN")
OPERATOR_TOKEN = _env("VALHALLA_OPERATOR_TOKEN")
ALERTS_TOKEN = _env("VALHALLA_ALERTS_TOKEN")
CONTROL = _env("VALHALLA_TEST_CONTROL_URL")


def _decode(headers: Any, text: bytes) -> Any:
    return json.loads(text) if text and "json" in (headers.get("Content-Type") or "") else (text or None)


def request(method: str, url: str, token: Optional[str] = None, body: Any = None, timeout: float = 10) -> tuple:
    """(status, headers, the body: parsed when JSON, else bytes or None)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method=method), timeout=timeout) as response:
            return response.status, response.headers, _decode(response.headers, response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, _decode(error.headers, error.read())


def control(path: str, body: Any = None) -> None:
    status, _, answer = request("POST", CONTROL + path, body=body if body is not None else {}, timeout=60)
    if status != 200:
        raise AssertionError(f"control {path} failed: {answer}")


def wait_for(probe: Callable[[], Any], timeout: float = 15, description: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:  # a probe may fail while the api restarts
            last = error
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {description}" + (f": {last}" if last else ""))


def operator_live() -> dict:
    status, _, body = request("GET", API + "/api/governance/live", OPERATOR_TOKEN)
    if status != 200:
        raise AssertionError(f"/live answered {status}")
    return body


def change(path: str, body: dict) -> None:
    """A change through the api as an operator (an engage may be answered 200 or 202: the state is what counts)."""
    status, _, answer = request("POST", API + path, OPERATOR_TOKEN, body)
    if status not in (200, 202):
        raise AssertionError(f"POST {path} answered {status}: {answer}")


def set_state(*, engaged: bool, backend: bool, enabled: bool) -> dict:
    """Brings the state to the one asked for, one change at a time, each seen by the api before the next."""
    current = operator_live()
    if current["backend_complete"] != backend:
        change("/api/governance/system-metadata", {"backend_complete": backend, "reason": f"test: backend complete {backend}"})
        wait_for(lambda: operator_live()["backend_complete"] == backend, 20, "backend_complete")
    if current["kill_switch_engaged"] != engaged:
        change("/api/governance/kill-switch", {"engaged": engaged, "reason": f"test: kill switch engaged {engaged}"})
        wait_for(lambda: operator_live()["kill_switch_engaged"] == engaged, 20, "the kill switch")
    if operator_live()["go_live_enabled"] != enabled:
        control("/state/go-live-enabled", {"enabled": enabled})
        wait_for(lambda: operator_live()["go_live_enabled"] == enabled, 20, "go_live_enabled")
    return operator_live()


def fields(state: GoLiveState) -> tuple:
    return (state.kill_switch_engaged, state.backend_complete, state.go_live_enabled, state.live)


class ClientCase(unittest.TestCase):
    def setUp(self) -> None:
        self.clients: list = []

    def tearDown(self) -> None:
        for client in self.clients:
            client.close()

    def client(self, url: str = API, token: str = APP_TOKEN, **options: Any) -> GoLiveClient:
        options.setdefault("reconnect_initial", 0.05)
        options.setdefault("reconnect_max", 0.5)
        created = GoLiveClient(url, token, **options)
        self.clients.append(created)
        return created


class TestClientAgainstTheApi(ClientCase):
    def test_is_ready_with_the_state_and_sees_every_change_in_order(self) -> None:
        set_state(engaged=True, backend=False, enabled=False)
        seen: list = []
        client = self.client(on_change=lambda state, previous: seen.append(state))
        self.assertFalse(client.is_live())
        self.assertTrue(client.wait_ready(10))
        self.assertEqual(client.state().version, operator_live()["version"])
        self.assertEqual(client.state().transport, "stream")

        change("/api/governance/kill-switch", {"engaged": False, "reason": "test: release"})
        wait_for(lambda: not operator_live()["kill_switch_engaged"], 20, "the release")
        change("/api/governance/system-metadata", {"backend_complete": True, "reason": "test: backend complete"})
        wait_for(lambda: operator_live()["backend_complete"], 20, "backend complete")
        control("/state/go-live-enabled", {"enabled": True})
        wait_for(lambda: operator_live()["live"], 20, "live")
        wait_for(client.is_live, 10, "the client to be live")
        change("/api/governance/kill-switch", {"engaged": True, "reason": "test: engage"})
        wait_for(lambda: not client.is_live(), 10, "the client to see the engage")
        change("/api/governance/kill-switch", {"engaged": False, "reason": "test: release again"})
        final = wait_for(lambda: operator_live() if operator_live()["live"] else None, 20, "live again")
        wait_for(lambda: client.state().version == final["version"] and client.is_live(), 10, "the client to see the last release")

        self.assertEqual([fields(state) for state in seen], [
            (True, False, False, False),
            (False, False, False, False),
            (False, True, False, False),
            (False, True, True, True),
            (True, True, True, False),
            (False, True, True, True),
        ])
        versions = [state.version for state in seen]
        self.assertEqual(versions, sorted(versions))
        # An app token is shown who changed the state and why as None, like /live.
        self.assertEqual({(state.changed_by, state.reason) for state in seen}, {(None, None)})
        self.assertLess(client.state().age, 20)
        self.assertFalse(client.state().stale)

    def test_keeps_the_last_state_across_an_api_restart_until_the_bound_then_fails_closed_and_misses_no_change(self) -> None:
        set_state(engaged=False, backend=True, enabled=True)
        bound = 2.0
        seen: list = []
        # The client may call on_change from its thread before the constructor returns: the callback waits for it.
        created = threading.Event()
        holder: list = []

        def on_change(state: Any, previous: Any) -> None:
            created.wait(10)
            seen.append((state, holder[0].is_live()))

        client = self.client(fail_closed_after=bound, on_change=on_change)
        holder.append(client)
        created.set()
        self.assertTrue(client.wait_ready(10))
        wait_for(client.is_live, 10, "live")

        samples: list = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                state = client.state()
                samples.append((state.age, client.is_live()))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Whatever happens below, the next test finds the api running.
        self.addCleanup(control, "/api/start")
        control("/api/stop")
        try:
            wait_for(lambda: not client.is_live(), bound + 10, "the client to fail closed")
        finally:
            sampling.set()
            sampler.join()
        # The last state was kept while it was younger than the bound, and only then given up.
        self.assertTrue(all(live for age, live in samples if age < bound * 0.9), samples)
        self.assertFalse(any(live for age, live in samples if age > bound * 1.1), samples)
        self.assertGreater(client.state().age, bound)
        self.assertTrue(client.state().live, "the last known state stays as it was; only is_live() fails closed")
        self.assertNotEqual(client.state().transport, "stream")
        # on_change reports the flip within a tick of the watcher (a quarter of the bound).
        wait_for(lambda: not seen[-1][1], bound, "on_change to report the fail-closed flip")

        # A change made while the api is down is seen after the restart: nothing is missed.
        control("/state/change", {"action": "kill_switch.engage", "reason": "test: engaged while the api was down"})
        control("/api/start")
        engaged = wait_for(lambda: operator_live() if operator_live()["kill_switch_engaged"] else None, 20, "the api back")
        wait_for(lambda: client.state().version == engaged["version"] and client.state().transport == "stream", 20, "the client to resume")
        self.assertFalse(client.is_live())
        change("/api/governance/kill-switch", {"engaged": False, "reason": "test: released after the restart"})
        wait_for(client.is_live, 20, "live after the restart")
        states = [state for state, _ in seen]
        self.assertEqual([state.version for state in states], sorted(state.version for state in states))
        self.assertEqual(sum(1 for state in states if state.version == engaged["version"]), 1, "the engage made during the outage, once")

    def test_fails_closed_within_its_bound_against_a_frozen_api_and_recovers(self) -> None:
        set_state(engaged=False, backend=True, enabled=True)
        bound = 1.5
        client = self.client(fail_closed_after=bound)
        self.assertTrue(client.wait_ready(10))
        wait_for(client.is_live, 10, "live")
        # Healthy, with heartbeats 15 s apart: quiet streams are confirmed, so the client never flaps.
        healthy_until = time.monotonic() + 2 * bound
        while time.monotonic() < healthy_until:
            self.assertTrue(client.is_live(), client.state())
            time.sleep(0.02)
        control("/api/freeze")
        frozen_at = time.monotonic()
        try:
            wait_for(lambda: not client.is_live(), 10, "the client to fail closed")
            self.assertLessEqual(time.monotonic() - frozen_at, bound + 1.0)
            self.assertGreater(client.state().age, bound)
        finally:
            control("/api/thaw")
        wait_for(client.is_live, 15, "live again once the api answers")

    def test_a_refused_token_is_a_clear_error_not_a_silent_loop(self) -> None:
        errors: list = []
        with self.assertLogs("valhalla_golive", "ERROR") as logs:
            client = self.client(token="not-a-configured-token-0000", reconnect_max=0.5, on_error=errors.append)
            started = time.monotonic()
            with self.assertRaises(TokenRefused) as raised:
                client.wait_ready(timeout=10)
            self.assertLess(time.monotonic() - started, 3)
            time.sleep(1.5)
        self.assertEqual(raised.exception.status, 401)
        self.assertIn("refused the token", str(raised.exception))
        self.assertIn("UNAUTHENTICATED", str(raised.exception))
        self.assertFalse(client.is_live())
        self.assertIsNone(client.state())
        self.assertIsInstance(client.last_error, TokenRefused)
        self.assertTrue(any("refused the token" in line for line in logs.output))
        # Logged once, retried at the longest backoff: a handful of attempts in two seconds, not a hot loop.
        self.assertEqual(len([line for line in logs.output if "refused the token" in line]), 1)
        self.assertLessEqual(len(errors), 12)
        self.assertTrue(all(isinstance(error, TokenRefused) for error in errors))

        for transport in ("auto", "poll"):
            alerts = self.client(token=ALERTS_TOKEN, transport=transport)
            with self.assertRaises(TokenRefused) as forbidden:
                alerts.wait_ready(timeout=10)
            self.assertEqual(forbidden.exception.status, 403)

    def test_refuses_bad_options_at_once(self) -> None:
        for args, options in [
            (("ftp://example.com", APP_TOKEN), {}),
            (("not a url", APP_TOKEN), {}),
            ((API, ""), {}),
            ((API, APP_TOKEN), {"transport": "carrier-pigeon"}),
            ((API, APP_TOKEN), {"fail_closed_after": 0}),
            ((API, APP_TOKEN), {"poll_interval": -1}),
        ]:
            with self.assertRaises(ValueError):
                GoLiveClient(*args, start=False, **options)


class RecordingProxy:
    """A proxy in front of the api that refuses event streams (as some corporate proxies do) and records the rest."""

    def __init__(self) -> None:
        target = urllib.parse.urlsplit(API)
        log = self.log = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/api/governance/stream"):
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                try:
                    upstream.request("GET", self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                    answer = upstream.getresponse()
                    body = answer.read()
                    log.append((self.path, self.headers.get("If-None-Match"), answer.status))
                    self.send_response(answer.status)
                    for name, value in answer.getheaders():
                        if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    upstream.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestPollingFallback(ClientCase):
    def test_falls_back_to_etag_polling_when_streams_are_refused(self) -> None:
        set_state(engaged=True, backend=True, enabled=True)
        proxy = RecordingProxy()
        try:
            client = self.client(url=proxy.url, poll_interval=0.2)
            self.assertTrue(client.wait_ready(10))
            wait_for(lambda: client.state().transport == "poll", 10, "polling")
            polls = lambda: [entry for entry in proxy.log if entry[0] == "/api/governance/live"]
            # An unchanged state is asked for with its tag and answered 304, without a body.
            wait_for(lambda: any(status == 304 for _, _, status in polls()), 10, "a 304")
            self.assertTrue(all(tag == f'"{client.state().etag}"' for _, tag, status in polls() if status == 304))
            change("/api/governance/kill-switch", {"engaged": False, "reason": "test: seen by polling"})
            wait_for(client.is_live, 20, "the release through polling")
            self.assertEqual(client.state().transport, "poll")
        finally:
            proxy.close()

    def test_polls_only_when_asked(self) -> None:
        set_state(engaged=False, backend=True, enabled=True)
        client = self.client(transport="poll", poll_interval=0.2)
        self.assertTrue(client.wait_ready(10))
        self.assertEqual(client.state().transport, "poll")
        wait_for(client.is_live, 10, "live")
        change("/api/governance/kill-switch", {"engaged": True, "reason": "test: engage seen by polling"})
        wait_for(lambda: not client.is_live(), 10, "the engage through polling")


async def asgi_call(app: Any, scope: dict) -> tuple:
    sent: list = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return tuple(sent)


async def hello(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


class TestMiddlewares(ClientCase):
    def test_asgi_middleware_answers_503_while_not_live(self) -> None:
        set_state(engaged=False, backend=True, enabled=True)
        client = self.client()
        self.assertTrue(client.wait_ready(10))
        wait_for(client.is_live, 10, "live")
        app = GoLiveASGIMiddleware(hello, client=client)
        http_scope = {"type": "http", "path": "/orders", "method": "GET"}
        self.assertEqual(asyncio.run(asgi_call(app, http_scope))[0]["status"], 200)

        change("/api/governance/kill-switch", {"engaged": True, "reason": "test: engage for the middleware"})
        wait_for(lambda: not client.is_live(), 10, "not live")
        start, body = asyncio.run(asgi_call(app, http_scope))
        self.assertEqual(start["status"], 503)
        headers = dict(start["headers"])
        self.assertEqual(headers[b"retry-after"], b"5")
        self.assertEqual(json.loads(body["body"])["error"]["code"], "NOT_LIVE")
        self.assertEqual(int(headers[b"content-length"]), len(body["body"]))
        self.assertEqual(asyncio.run(asgi_call(app, {"type": "http", "path": "/health", "method": "GET"}))[0]["status"], 200)
        self.assertEqual(asyncio.run(asgi_call(app, {"type": "websocket", "path": "/feed"})), ({"type": "websocket.close", "code": 1013},))
        self.assertEqual(asyncio.run(asgi_call(app, {"type": "lifespan"})), ({"type": "lifespan.startup.complete"},))

        change("/api/governance/kill-switch", {"engaged": False, "reason": "test: release for the middleware"})
        wait_for(client.is_live, 20, "live again")
        self.assertEqual(asyncio.run(asgi_call(app, http_scope))[0]["status"], 200)

    def test_wsgi_middleware_answers_503_while_not_live(self) -> None:
        set_state(engaged=False, backend=True, enabled=True)
        client = self.client()
        self.assertTrue(client.wait_ready(10))
        wait_for(client.is_live, 10, "live")

        def hello_wsgi(environ: dict, start_response: Callable) -> list:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]

        class Quiet(wsgiref.simple_server.WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        server = wsgiref.simple_server.make_server("127.0.0.1", 0, GoLiveWSGIMiddleware(hello_wsgi, client), handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            self.assertEqual(request("GET", base + "/orders")[0], 200)
            change("/api/governance/kill-switch", {"engaged": True, "reason": "test: engage for the wsgi middleware"})
            wait_for(lambda: not client.is_live(), 10, "not live")
            status, headers, body = request("GET", base + "/orders")
            self.assertEqual(status, 503)
            self.assertEqual(headers["Retry-After"], "5")
            self.assertEqual(body["error"]["code"], "NOT_LIVE")
            self.assertEqual(request("GET", base + "/health")[0], 200)
            change("/api/governance/kill-switch", {"engaged": False, "reason": "test: release for the wsgi middleware"})
            wait_for(client.is_live, 20, "live again")
            self.assertEqual(request("GET", base + "/orders")[0], 200)
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main()
