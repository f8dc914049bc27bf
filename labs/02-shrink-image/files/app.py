"""invoice-api: the billing team's invoice service (a stand-in with two routes)."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def invoices():
    return jsonify(service="invoice-api", team="billing", open_invoices=0)


@app.get("/healthz")
def healthz():
    return "ok\n"
