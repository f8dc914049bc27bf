"""metrics-agent, the app of lab 20: serves its version and the CPU it runs on at :8080."""

import os
import platform
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

LINE = f"{os.environ.get('APP_NAME', 'metrics-agent')} {os.environ.get('APP_VERSION', '?')} on {platform.machine()}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (LINE + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(LINE, "listening on :8080", flush=True)
    HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
