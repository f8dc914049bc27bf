"""A tiny web app to package as an image: it says hello and which version it is."""

import os
import socket

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    version = os.environ.get("APP_VERSION", "dev")
    return f"Hello from {socket.gethostname()}, version {version}\n"


@app.get("/healthz")
def healthz():
    return "ok\n"
