"""Mutate a pod with the BUILT policy module, through the e2e host (`policy-run`, kwctl run's interface).

The mutated pod is the request's object with the response's JSON patch applied: exactly what the
API server would store. The native core is never called from here.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import jsonpatch
import yaml

REPO = Path(__file__).resolve().parents[3]


def policy_run_binary() -> Path:
    return Path(os.environ.get("TELEMETRY_POLICY_RUN") or REPO / "target" / "host" / "policy-run")


def policy_module() -> Path:
    return Path(os.environ.get("TELEMETRY_POLICY_WASM")
                or REPO / "target" / "wasm32-wasip1" / "release" / "otel_python_policy.wasm")


@dataclasses.dataclass
class Mutation:
    request: dict
    response: dict
    patch: list
    pod: dict  # request.object with the patch applied

    @property
    def warnings(self) -> list[str]:
        return self.response.get("warnings") or []


def admission_review(pod: dict, namespace: str, operation: str = "CREATE") -> dict:
    """An AdmissionReview as the API server sends it for a pod created by a ReplicaSet controller."""
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": pod.get("metadata", {}).get("name", ""),
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                         "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def mutate(pod: dict, settings: dict, namespace: str | None = None) -> Mutation:
    binary, module = policy_run_binary(), policy_module()
    for path, what in ((binary, "policy-run (cargo build -p e2e-tests --profile host --bin policy-run)"),
                       (module, "the policy module (cargo build --target wasm32-wasip1 --release)")):
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: build {what}")
    namespace = namespace or pod.get("metadata", {}).get("namespace") or "default"
    review = admission_review(pod, namespace)
    with tempfile.TemporaryDirectory(prefix="policy-run-") as tmp:
        req_path, settings_path = Path(tmp, "request.json"), Path(tmp, "settings.yaml")
        req_path.write_text(json.dumps(review, indent=2))
        settings_path.write_text(yaml.safe_dump(settings, sort_keys=False))
        proc = subprocess.run([str(binary), "--request-path", str(req_path), "--settings-path",
                               str(settings_path), str(module)],
                              capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"policy-run exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    response = _last_json_object(proc.stdout)
    if response is None:
        raise RuntimeError(f"policy-run printed no JSON response\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    if "response" in response and "allowed" not in response:  # an AdmissionReview envelope
        response = response["response"]
    if not response.get("allowed"):
        raise RuntimeError(f"policy rejected the pod: {json.dumps(response)}")
    patch: list = []
    if response.get("patch"):
        if response.get("patchType") != "JSONPatch":
            raise RuntimeError(f"unexpected patchType {response.get('patchType')!r}")
        patch = json.loads(base64.b64decode(response["patch"]))
    mutated = jsonpatch.apply_patch(pod, patch) if patch else json.loads(json.dumps(pod))
    return Mutation(review["request"], response, patch, mutated)


def _last_json_object(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, dict) else None
    except json.JSONDecodeError:
        return None
