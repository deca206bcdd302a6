"""A real OTLP/HTTP receiver for tests.

Speaks OTLP/HTTP with binary protobuf on /v1/traces, /v1/metrics and /v1/logs, decodes the bodies
with the official protocol definitions (the ``opentelemetry-proto`` package), handles
``Content-Encoding: gzip``/``deflate``, answers with the matching Export*ServiceResponse, and keeps
everything it received, flattened into plain Python values for assertions.
"""
from __future__ import annotations

import dataclasses
import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

_SIGNALS = {
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
}


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def attrs(kvs) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


@dataclasses.dataclass
class Span:
    resource: dict[str, Any]
    scope: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    attributes: dict[str, Any]


@dataclasses.dataclass
class LogRecord:
    resource: dict[str, Any]
    scope: str
    body: Any
    severity_text: str
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclasses.dataclass
class Metric:
    resource: dict[str, Any]
    scope: str
    name: str
    unit: str
    data: Any  # the metric's data message (Gauge, Sum, Histogram, ...)


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    message: Any


class OtlpReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.requests: list[Received] = []
        self.errors: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, payload = receiver._handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- server --------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        path = path.split("?", 1)[0]
        if path not in _SIGNALS:
            return self._error(404, f"unknown path {path}")
        ctype = headers.get("content-type", "").split(";")[0].strip()
        if ctype != "application/x-protobuf":
            return self._error(415, f"{path}: unsupported content type {ctype!r}")
        encoding = headers.get("content-encoding", "").strip().lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding not in ("", "identity"):
                return self._error(415, f"{path}: unsupported encoding {encoding!r}")
            request_type, response_type = _SIGNALS[path]
            message = request_type.FromString(body)
        except Exception as exc:  # a malformed payload is a finding, not a crash
            return self._error(400, f"{path}: cannot decode: {exc!r}")
        with self._cond:
            self.requests.append(Received(path, headers, message))
            self._cond.notify_all()
        return 200, response_type().SerializeToString()

    def _error(self, status: int, text: str) -> tuple[int, bytes]:
        with self._cond:
            self.errors.append(text)
        return status, b""

    # -- views ---------------------------------------------------------------------------------------

    def _of(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def spans(self) -> list[Span]:
        out = []
        for req in self._of("/v1/traces"):
            for rs in req.message.resource_spans:
                res = attrs(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append(Span(res, ss.scope.name, s.trace_id.hex(), s.span_id.hex(),
                                        s.parent_span_id.hex(), s.name,
                                        SpanProto.SpanKind.Name(s.kind), attrs(s.attributes)))
        return out

    def logs(self) -> list[LogRecord]:
        out = []
        for req in self._of("/v1/logs"):
            for rl in req.message.resource_logs:
                res = attrs(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        out.append(LogRecord(res, sl.scope.name, any_value(r.body), r.severity_text,
                                             r.trace_id.hex(), r.span_id.hex(), attrs(r.attributes)))
        return out

    def metrics(self) -> list[Metric]:
        out = []
        for req in self._of("/v1/metrics"):
            for rm in req.message.resource_metrics:
                res = attrs(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        out.append(Metric(res, sm.scope.name, m.name, m.unit, getattr(m, m.WhichOneof("data"))))
        return out

    def raw(self, path: str) -> list[Received]:
        return self._of(path)

    def wait_for(self, what: Callable[[], Any], timeout: float, describe: str = "telemetry") -> Any:
        """Wait (bounded) until ``what()`` returns something truthy, and return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = what()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {describe}; "
                                     f"received {self.summary()}; errors {self.errors}")
            with self._cond:
                self._cond.wait(min(remaining, 0.5))

    def summary(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for r in self.requests:
                counts[r.path] = counts.get(r.path, 0) + 1
        return counts
