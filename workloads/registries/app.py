"""The app notebook 05 tags, pushes, rebuilds and pulls: stdlib only, says which build it is."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "app": "nb05",
            "version": os.environ.get("APP_VERSION", "unknown"),
            "build": os.environ.get("APP_BUILD", "unknown"),
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: without this line `docker stop`
    # and every Pod deletion wait out the whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
