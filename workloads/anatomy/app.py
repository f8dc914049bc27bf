"""The image notebook 02 takes apart: a tiny web server using only Python's standard library.

It answers every GET with what the image configured for it: the greeting (ENV),
the user it runs as (USER) and the arguments it got (ENTRYPOINT + CMD).
"""

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "greeting": os.environ.get("APP_GREETING", "hello"),
            "uid": os.getuid(),
            "args": ARGS,
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep `docker logs` quiet
        pass


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: without this line `docker stop`
    # and every Pod deletion wait out the whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--greeting")
    options = parser.parse_args()
    ARGS = vars(options)
    if options.greeting:
        os.environ["APP_GREETING"] = options.greeting
    HTTPServer(("0.0.0.0", options.port), Handler).serve_forever()
