"""A webhook receiver for Valhalla go-live notifications in Python, standard library only.

Verifies Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature) with hmac and hashlib.
Tested by test/notifications/receivers.test.ts.

    WEBHOOK_SECRET=whsec_... PORT=8080 python3 receive.py

Prints one JSON line per new message ({"id", "type", "audit_id", "actor", "reason"}) and answers 204; answers 400 to
a request whose signature or timestamp does not verify. Messages arrive in audit order, at least once: a repeat
carries the same webhook-id, so it is acknowledged and skipped here.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 1024 * 1024


class VerificationError(Exception):
    pass


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64 after the whsec_ prefix."""
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must be the whsec_... value shown when the subscription was created")
    return base64.b64decode(secret[len("whsec_"):])


def verify(key: bytes, headers, body: bytes, now: float = None) -> dict:
    """Checks the signature over id.timestamp.body and the timestamp's age; returns the parsed message."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not message_id or not timestamp or not signatures:
        raise VerificationError("missing webhook headers")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise VerificationError("invalid webhook-timestamp")
    if abs((now if now is not None else time.time()) - sent_at) > TOLERANCE_SECONDS:
        raise VerificationError("timestamp outside the tolerance (a replay?)")
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # Space-separated "version,signature" pairs: several while a sender rotates its secret.
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return json.loads(body)
    raise VerificationError("no matching signature")


class Receiver(BaseHTTPRequestHandler):
    key = b""
    # Ids already handled. Keep them in your database, in the transaction that applies the message.
    seen = set()

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_response(413)
            self.end_headers()
            return
        body = self.rfile.read(length)
        try:
            message = verify(self.key, self.headers, body)
        except (VerificationError, ValueError) as error:
            print(f"refused: {error}", file=sys.stderr, flush=True)
            self.send_response(400)
            self.end_headers()
            return
        message_id = self.headers.get("webhook-id")
        if message_id not in self.seen:
            self.seen.add(message_id)
            data = message["data"]
            print(json.dumps({"id": message_id, "type": message["type"], "audit_id": data["audit_id"], "actor": data["actor"], "reason": data["reason"]}), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass


def main():
    secret = os.environ.get("WEBHOOK_SECRET", "")
    try:
        Receiver.key = signing_key(secret)
    except ValueError as error:
        print(error, file=sys.stderr)
        sys.exit(64)
    port = int(os.environ.get("PORT", "8080"))
    # One request at a time keeps messages in the order they arrive (a threading server would not).
    server = HTTPServer((os.environ.get("HOST", "127.0.0.1"), port), Receiver)
    print(f"listening on {port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
