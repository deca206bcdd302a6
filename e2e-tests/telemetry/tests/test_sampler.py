"""Sampler from the settings: parentbased_traceidratio with argument "0" drops every root request's
span while logs still arrive; a sampled parent still wins (parent-based). The "1" case is the
article's own sampler (test_article.py: every request's span arrives)."""
import pytest

from harness import scenario as sc


@pytest.fixture(scope="module")
def ratio_zero():
    port = sc.free_port()
    s = sc.start_scenario(
        "sampler-ratio-0", sc.load_json("article-pod.json"),
        sc.tuned_settings(sampler={"type": "parentbased_traceidratio", "argument": "0"}),
        {sc.ARTICLE_IMAGE: sc.autoinstrumentation_image(), sc.FLASK_IMAGE: sc.flask_image(port)},
        {"hello-api": port})
    yield s
    s.stop()


def test_root_requests_send_logs_but_no_spans(ratio_zero):
    names = [f"unsampled{i}" for i in range(4)]
    for name in names:
        ratio_zero.get(f"/hello/{name}")
    bodies = {f"said hello to {n}" for n in names}
    records = ratio_zero.receiver.wait_for(
        lambda: (lambda got: got if {r.body for r in got} >= bodies else None)(
            [r for r in ratio_zero.receiver.logs() if r.body in bodies]),
        20, "the log records of the root requests")
    assert all(r.trace_id != "0" * 32 for r in records)  # logged inside a (non-recorded) trace

    # Positive control through the same span pipeline: a sampled parent makes this one span export.
    # Spans are exported in order, so once it has arrived, any root span would have arrived too.
    trace_id, parent = sc.new_ids()
    ratio_zero.get("/hello/control", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    ratio_zero.wait_server_span("/hello/control", timeout=20)
    assert {s.trace_id for s in ratio_zero.receiver.spans()} == {trace_id}


def test_sampler_env_is_what_the_settings_said(ratio_zero):
    env = ratio_zero.running.containers["hello-api"].env
    assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0")
