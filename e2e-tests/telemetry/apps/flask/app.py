"""hello-api: a small Flask service, written as if nobody had heard of OpenTelemetry.

It is started unchanged inside the pod; any telemetry it sends comes from what the policy injected.
"""
import logging
import os

from flask import Flask, jsonify

app = Flask(__name__)
log = logging.getLogger("hello_api")
log.setLevel(logging.INFO)


@app.get("/healthz")
def healthz():
    return "ok"


@app.get("/hello/<name>")
def hello(name):
    log.info("said hello to %s", name)
    return jsonify(message=f"hello, {name}")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), threaded=True)
