"""A second stack: FastAPI under uvicorn, with a PYTHONPATH of its own that the policy must wrap, a
port passed as $(PORT) in the command, and gzip-compressed export asked for in the settings' env."""
import json

import pytest

from harness import scenario as sc

DURATION_METRICS = {"http.server.duration", "http.server.request.duration"}


@pytest.fixture(scope="module")
def items():
    port = sc.free_port()
    pod = json.loads(json.dumps(sc.load_json("items-api-pod.json")).replace("__PORT__", str(port)))
    s = sc.start_scenario(
        "fastapi", pod,
        sc.tuned_settings(extra_env=[{"name": "OTEL_EXPORTER_OTLP_COMPRESSION", "value": "gzip"}]),
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FASTAPI_IMAGE: sc.fastapi_image()},
        {"items": port})
    yield s
    s.stop()


def test_user_pythonpath_is_kept_and_wrapped(items):
    pythonpath = items.running.containers["items"].env["PYTHONPATH"]
    assert pythonpath == ("/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation"
                          ":/app/lib:/otel-auto-instrumentation-python")
    assert items.get("/items/42").json() == {"item_id": "42", "name": "towel"}  # /app/lib still imports


def test_server_span_with_route_and_resource(items):
    items.get("/items/7")
    span = items.wait_server_span("/items/7", timeout=20)
    assert span.attributes.get("http.route") == "/items/{item_id}"
    assert span.resource["service.name"] == "items-api"
    assert span.resource["k8s.namespace.name"] == "shop"
    assert span.resource["k8s.pod.name"] == items.pod_name
    assert span.resource["k8s.container.name"] == "items"
    assert span.resource["service.instance.id"] == f"shop.{items.pod_name}.items"


def test_log_record_carries_the_trace_of_its_request(items):
    trace_id, parent = sc.new_ids()
    items.get("/items/99", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    span = items.wait_server_span("/items/99", timeout=20)
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent)
    records = items.receiver.wait_for(
        lambda: [r for r in items.receiver.logs() if r.body == "looked up item 99"], 20, "the app's log record")
    assert records[0].trace_id == trace_id
    assert records[0].span_id == span.span_id


def test_http_server_duration_metric_arrives(items):
    items.get("/items/1")
    assert items.receiver.wait_for(
        lambda: [m for m in items.receiver.metrics() if m.name in DURATION_METRICS], 20,
        "an HTTP server duration metric")


def test_export_was_gzip_compressed_as_the_settings_asked(items):
    items.receiver.wait_for(lambda: items.receiver.raw("/v1/traces"), 20, "a trace export")
    sent = [r for p in ("/v1/traces", "/v1/metrics", "/v1/logs") for r in items.receiver.raw(p)]
    assert sent and all(r.headers.get("content-encoding") == "gzip" for r in sent)

