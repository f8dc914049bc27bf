"""The app lesson 12 builds without a daemon: stdlib only, says which tool built it, and logs
every request to stdout, where `podman logs` and `kubectl logs` read it."""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"app": "daemonless", "version": os.environ.get("APP_VERSION", "unknown"),
                           "built_with": os.environ.get("BUILT_WITH", "unknown")}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(f"GET {self.path} from {self.client_address[0]}", flush=True)


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: `podman stop` would wait 10 s.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print("daemonless app listening on :8080", flush=True)
    HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
