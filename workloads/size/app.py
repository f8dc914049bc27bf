"""The web app whose image notebook 04 measures: one page and a health endpoint."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from the image-size lesson\n"


@app.get("/healthz")
def healthz():
    return "ok\n"


if __name__ == "__main__":
    # The brief's Dockerfile starts the app with `python app.py`: Flask's development server.
    app.run(host="0.0.0.0", port=5000)
