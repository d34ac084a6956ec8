"""Bench helper: holds a valhalla_golive client and prints one line per is_live() change: `<live> <version> <ms>`.

`<ms>` is time.time() in milliseconds when the client applied the state (the system clock, as the bench's Date.now()).
Reads the api URL and token from VALHALLA_API_URL and VALHALLA_TOKEN; stops when stdin closes.
"""

import os
import sys
import time

from valhalla_golive import GoLiveClient


def report(state, previous):
    print(f"{client.is_live()} {state.version} {time.time() * 1000:.3f}", flush=True)


client = GoLiveClient(os.environ["VALHALLA_API_URL"], os.environ["VALHALLA_TOKEN"], on_change=report)
if not client.wait_ready(timeout=30):
    sys.exit(f"the api did not answer: {client.last_error}")
print("ready", flush=True)
sys.stdin.read()
client.close()
