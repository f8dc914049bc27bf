"""sun-cipher, the app of lab 15: stdlib only. GET /?text=... answers the text in ROT13.

It prints one line when it starts, naming the container it runs in (its hostname, which Podman
and Docker set to the start of the container ID), and one line per request, all to stdout,
where `podman logs` reads them."""

import codecs
import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

VERSION = os.environ.get("APP_VERSION", "unknown")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        text = parse_qs(urlparse(self.path).query).get("text", ["hello"])[0]
        body = json.dumps({"app": "sun-cipher", "version": VERSION, "text": text,
                           "rot13": codecs.encode(text, "rot13")}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(f"sun-cipher: GET {self.path} from {self.client_address[0]}", flush=True)


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: `podman stop` would wait 10 s.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    server = HTTPServer(("0.0.0.0", 8080), Handler)
    print(f"sun-cipher {VERSION} listening on :8080 in container {socket.gethostname()}", flush=True)
    server.serve_forever()
