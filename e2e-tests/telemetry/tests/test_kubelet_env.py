"""The runner resolves env and commands the way the kubelet does; otherwise a policy bug in env
order could pass here and fail in a cluster (or the reverse)."""
import pytest

from harness.podrunner import PodIdentity, RunningPod, UnsupportedPodFeature, expand, resolve_env, Image

IDENT = PodIdentity(name="web-7d9c8b6f5d-x2k4q", namespace="shop", uid="0b6b3c6e-1111-2222-3333-444455556666",
                    node_name="node-a", pod_ip="10.244.1.7", host_ip="172.18.0.3")
POD = {"metadata": {"namespace": "shop", "labels": {"app": "web"}, "annotations": {"team": "payments"}}}


def env_of(*vars):
    return resolve_env(POD, {"name": "c", "env": list(vars)}, IDENT)


@pytest.mark.parametrize("text, expected", [
    ("$(A)", "a"),
    ("x$(A)y$(B)z", "xaybz"),
    ("$$(A)", "$(A)"),          # escaped: literal reference
    ("$$$(A)", "$a"),
    ("$(MISSING)", "$(MISSING)"),  # unresolvable: left as written
    ("$(A", "$(A"),             # unclosed
    ("$A", "$A"),               # not a reference
    ("cost: 5$", "cost: 5$"),
    ("$()", "$()"),
])
def test_expand(text, expected):
    assert expand(text, {"A": "a", "B": "b"}.get) == expected


def test_reference_to_a_later_variable_stays_unexpanded():
    env = env_of({"name": "ATTRS", "value": "k8s.pod.name=$(POD)"},
                 {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    assert env["ATTRS"] == "k8s.pod.name=$(POD)"


def test_reference_to_an_earlier_variable_expands():
    env = env_of({"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "ATTRS", "value": "k8s.pod.name=$(POD),x=$$(POD)"})
    assert env["ATTRS"] == "k8s.pod.name=web-7d9c8b6f5d-x2k4q,x=$(POD)"


def test_field_refs():
    paths = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "status.podIP",
             "status.hostIP", "metadata.labels['app']", "metadata.annotations['team']"]
    env = env_of(*({"name": f"V{i}", "valueFrom": {"fieldRef": {"fieldPath": p}}} for i, p in enumerate(paths)))
    assert list(env.values()) == ["web-7d9c8b6f5d-x2k4q", "shop", IDENT.uid, "node-a", "10.244.1.7",
                                  "172.18.0.3", "web", "payments"]


def test_unsupported_sources_fail_loudly():
    with pytest.raises(UnsupportedPodFeature):
        env_of({"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})


def test_command_and_args_expand_against_pod_env_only():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": []}}
    runner = RunningPod(pod, {}, identity=IDENT)
    image = Image(binds=[], env={"FROM_IMAGE": "img"}, entrypoint=["/entry", "$(PORT)"], cmd=["default"])
    container = {"name": "c", "command": ["serve", "--port", "$(PORT)", "$(FROM_IMAGE)"],
                 "env": [{"name": "PORT", "value": "8000"}]}
    env = resolve_env(pod, container, IDENT)
    assert runner._command(container, image, env) == ["serve", "--port", "8000", "$(FROM_IMAGE)"]
    # args only: the image entrypoint is kept verbatim, args replace CMD and are expanded
    assert runner._command({"name": "c", "args": ["$(PORT)"]}, image, env) == ["/entry", "$(PORT)", "8000"]
    assert runner._command({"name": "c"}, image, env) == ["/entry", "$(PORT)", "default"]


def test_security_context_decides_the_user():
    from harness.podrunner import PodFailed, _security
    root_image, nonroot_image = Image(binds=[]), Image(binds=[], user=(65532, 65532))
    pod = {"spec": {"securityContext": {"runAsUser": 1000}}}
    assert (s := _security(pod, {"name": "c"}, root_image, "container")).uid == 1000 and s.gid == 0
    assert _security(pod, {"name": "c", "securityContext": {"runAsUser": 7, "runAsGroup": 8}},
                     root_image, "container").wrap(["cp"]) == [
        "/usr/bin/setpriv", "--reuid=7", "--regid=8", "--clear-groups", "--", "cp"]
    assert _security({}, {"name": "c"}, root_image, "container").wrap(["cp"]) == ["cp"]
    # runAsNonRoot without a uid is checked against the image's user, as the kubelet does
    with pytest.raises(PodFailed, match="runAsNonRoot"):
        _security({}, {"name": "c", "securityContext": {"runAsNonRoot": True}}, root_image, "init")
    assert _security({}, {"name": "c", "securityContext": {"runAsNonRoot": True}}, nonroot_image, "init").uid == 65532
