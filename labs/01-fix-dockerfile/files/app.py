"""ledger-api: the payments team's balance service (a stand-in with two routes).

Listens on --port (default 5000). On SIGTERM it stops serving and exits at once,
which is what `docker stop` and Kubernetes send before they kill a container.
"""

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok\n"
        else:
            body = (json.dumps({"service": "ledger-api", "team": "payments", "balance": "0.00"})
                    + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("ledger-api:", fmt % args, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="ledger-api")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ledger-api listening on port {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
