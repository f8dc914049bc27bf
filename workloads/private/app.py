"""The app in the private registry (notebook 07): it only says where it came from."""

import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(f"private-demo on {socket.gethostname()}: pulled with a Secret\n".encode())

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    # As PID 1, Python ignores SIGTERM unless it sets a handler: without this line `docker stop`
    # and every Pod deletion wait out the whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
