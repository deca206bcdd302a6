"""The article's scenario: its settings (endpoint pointed at the receiver, nothing else changed) and
its pod, mutated by the built module through policy-run, started as the kubelet would.

The article's Instrumentation sets no env, so the SDK's defaults apply (5 s span batches, no log
export, 60 s metric interval): here only traces and propagation are asserted; the other signals are
proven by the scenarios whose settings' env asks for them."""
import json
import os
from pathlib import Path

import pytest

from harness import scenario as sc

@pytest.fixture(scope="module")
def article():
    port = sc.free_port()
    s = sc.start_scenario(
        "article", sc.load_json("article-pod.json"), sc.article_settings,
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def app_env(pod: dict, container: str = "hello-api") -> list[dict]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == container).get("env", [])


def test_every_env_reference_points_to_an_earlier_variable(article):
    """The kubelet expands $(VAR) only from variables defined earlier in the list."""
    seen, problems = set(), []
    for var in app_env(article.mutated_pod):
        value = var.get("value") or ""
        start = 0
        while (i := value.find("$(", start)) != -1 and (j := value.find(")", i)) != -1:
            if value[i + 2 : j] not in seen:
                problems.append(f"{var['name']} references {value[i + 2 : j]} before it is defined")
            start = j + 1
        seen.add(var["name"])
    assert not problems
    resolved = article.running.containers["hello-api"].env
    assert "$(" not in resolved["OTEL_RESOURCE_ATTRIBUTES"], resolved["OTEL_RESOURCE_ATTRIBUTES"]


def test_each_request_yields_a_server_span_with_its_route(article):
    """Sampler parentbased_traceidratio "1": every root request's span arrives."""
    names = [f"visitor{i}" for i in range(5)]
    for name in names:
        article.get(f"/hello/{name}")
    spans = [article.wait_server_span(f"/hello/{name}", timeout=30) for name in names]
    assert len({s.trace_id for s in spans}) == len(names)
    for span in spans:
        assert span.attributes.get("http.route") == "/hello/<name>"
        assert span.name == "GET /hello/<name>"
        assert span.parent_span_id == ""  # root requests


def test_resource_attributes_are_the_policys_with_references_expanded(article):
    article.get("/hello/resource")
    span = article.wait_server_span("/hello/resource", timeout=30)
    r = span.resource
    pod = article.pod_name
    assert pod.startswith("hello-deploy-7d9c8b6f5d-") and len(pod) == len("hello-deploy-7d9c8b6f5d-") + 5
    assert r["service.name"] == "hello-deploy"  # the Deployment behind the ReplicaSet
    assert r["k8s.namespace.name"] == "default"
    assert r["k8s.pod.name"] == pod  # $(OTEL_RESOURCE_ATTRIBUTES_POD_NAME) expanded from metadata.name
    assert r["k8s.container.name"] == "hello-api"
    assert r["service.instance.id"] == f"default.{pod}.hello-api"
    assert r["k8s.node.name"] == article.running.identity.node_name  # spec.nodeName, via $(...)
    unexpanded = {k: v for k, v in r.items() if isinstance(v, str) and "$(" in v}
    assert not unexpanded
    assert r["telemetry.sdk.language"] == "python"
    _record_excerpt(span)


def test_traceparent_continues_the_callers_trace(article):
    trace_id, parent_id = sc.new_ids()
    article.get("/hello/propagated", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    span = article.wait_server_span("/hello/propagated", timeout=30)
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent_id)


def test_init_container_copied_the_tree_as_its_security_context_user(article):
    """The policy's init container securityContext is honoured by the runner (uid via setpriv,
    read-only root): the copy still lands in the emptyDir, owned by that uid."""
    init = article.mutated_pod["spec"]["initContainers"][0]
    pod_sc = article.mutated_pod["spec"].get("securityContext") or {}
    uid = (init.get("securityContext") or {}).get("runAsUser", pod_sc.get("runAsUser", 0))
    volume = article.running.volumes["opentelemetry-auto-instrumentation-python"]
    copied = volume / "opentelemetry" / "instrumentation" / "auto_instrumentation" / "sitecustomize.py"
    assert copied.stat().st_uid == uid


def test_exporter_speaks_protobuf_over_http_to_the_settings_endpoint(article):
    article.wait_server_span("/healthz", timeout=30)
    traces = article.receiver.raw("/v1/traces")
    assert traces and all(r.headers["content-type"] == "application/x-protobuf" for r in traces)
    assert not article.receiver.errors


def _record_excerpt(span) -> None:
    """Keep one real span with its resource, for the README."""
    excerpt = {
        "resource": dict(sorted(span.resource.items())),
        "span": {"name": span.name, "kind": span.kind, "traceId": span.trace_id, "spanId": span.span_id,
                 "scope": span.scope, "attributes": dict(sorted(span.attributes.items()))},
    }
    out = Path(os.environ.get("TELEMETRY_ARTIFACTS", "/tmp/otel-python-policy-telemetry"))
    (out / "article-span-excerpt.json").write_text(json.dumps(excerpt, indent=2) + "\n")
    print("\nreceiver excerpt (article scenario):\n" + json.dumps(excerpt, indent=2))
