"""A tiny web server for the rollout lesson: it answers with the version baked into its image.

Standard library only, so the image builds in seconds and needs no package index.
"""

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "dev")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "ok\n" if self.path == "/healthz" else f"rollout-demo {VERSION} on {socket.gethostname()}\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # keep the container log quiet
        pass


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: without this line `docker stop`
    # and every Pod deletion wait out the whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
