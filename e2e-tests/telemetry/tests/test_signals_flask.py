"""Metrics and logs from the unchanged Flask app, with the settings' env asking for a short metric
interval, short batch delays and log export (OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED), and
with `preflight: disable`: the preflight finds nothing in the article's app, which then sends all
three signals as without it (test_article.py runs the same pod with the preflight off)."""
import pytest

from harness import scenario as sc

DURATION_METRICS = {"http.server.duration", "http.server.request.duration"}


@pytest.fixture(scope="module")
def flask_pod():
    port = sc.free_port()
    tuned = sc.tuned_settings()
    s = sc.start_scenario(
        "flask-signals", sc.load_json("article-pod.json"), lambda e: {**tuned(e), "preflight": "disable"},
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_app_log_record_carries_the_trace_of_its_request(flask_pod):
    flask_pod.get("/hello/ada")
    span = flask_pod.wait_server_span("/hello/ada", timeout=20)
    records = flask_pod.receiver.wait_for(
        lambda: [r for r in flask_pod.receiver.logs() if r.body == "said hello to ada"], 20, "the app's log record")
    assert len(records) == 1
    record = records[0]
    assert (record.trace_id, record.span_id) == (span.trace_id, span.span_id)
    assert record.severity_text == "INFO"
    assert record.resource["service.name"] == "hello-deploy"
    assert record.resource["k8s.pod.name"] == flask_pod.pod_name


def test_http_server_duration_metric_arrives(flask_pod):
    for i in range(3):
        flask_pod.get(f"/hello/m{i}")

    def histogram_counts():
        counts = [sum(p.count for p in m.data.data_points) for m in flask_pod.receiver.metrics()
                  if m.name in DURATION_METRICS and m.resource.get("k8s.pod.name") == flask_pod.pod_name]
        return [c for c in counts if c >= 3]

    assert flask_pod.receiver.wait_for(histogram_counts, 20, "an HTTP server duration histogram")


def test_settings_env_reached_the_app(flask_pod):
    env = flask_pod.running.containers["hello-api"].env
    for var in sc.FAST_ENV:
        assert env[var["name"]] == var["value"]


def test_the_preflight_found_nothing_and_the_app_sends_traces(flask_pod):
    run = next(r for r in flask_pod.running.init_runs
               if r.name == "opentelemetry-auto-instrumentation-python-preflight")
    assert run.termination_message == "otel-python preflight: no finding, the app starts instrumented"
    flask_pod.get("/hello/preflight")
    assert flask_pod.wait_server_span("/hello/preflight", timeout=20)
