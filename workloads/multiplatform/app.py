"""The app lesson 13 builds for several platforms: it says which CPU it runs on, which platform its
image was built for and on which one it was built, then serves that line on :8080.
`python3 /app/app.py --once` prints the line and exits."""

import os
import platform
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

BUILD_INFO = "/app/build-info.txt"   # written by Dockerfile.cross's build stage, when there is one


def describe() -> str:
    line = (f"running on {platform.machine()}; image built for {os.environ.get('BUILT_FOR') or '?'} "
            f"on {os.environ.get('BUILT_ON') or '?'}")
    if os.path.exists(BUILD_INFO):
        with open(BUILD_INFO) as f:
            line += f"; {f.read().strip()}"
    return line


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (describe() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    print(describe(), flush=True)
    if "--once" in sys.argv:
        sys.exit(0)
    # As PID 1, Python ignores SIGTERM unless it sets a handler.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
