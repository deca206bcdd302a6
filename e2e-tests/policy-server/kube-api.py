#!/usr/bin/env python3
"""A Kubernetes API server stand-in for policy-server's kube client, on 127.0.0.1, plain HTTP.

    kube-api.py CLUSTER.json LOG PORT_FILE

CLUSTER.json is a cluster fixture of tests/inputs/clusters/ as JSON (the suite converts the
YAML). It serves the fixture's objects as the API server stores them, answering only what
policy-server's callback handler asks for the policy's host calls:

- discovery: GET /api, /apis, /api/v1 and /apis/<group>/<version> (the served kinds: the fixture's
  `served` list, else the kinds of its objects plus the built-in ones, as the harness's cluster
  serves them);
- get_resource: GET of one object, cluster-scoped or in its namespace; a missing object is the
  API server's 404 NotFound Status;
- list_resources_all (a reflector): GET of the collection (LIST), then GET with watch=true from
  the list's resourceVersion (WATCH), held open with no events until its timeoutSeconds or until
  the client goes (the fixture never changes);
- can_i: POST /apis/authorization.k8s.io/v1/subjectaccessreviews, answered allowed (the fixture
  has no `rbac`: everything is allowed).

It refuses the rest: an unknown path or a kind it does not serve is Go's plain-text
`404 page not found`, as the API server answers; any other method, a subresource, a selector or
a list in one namespace is a 405 or 400 Status saying the stand-in does not serve it. A fixture
with `rbac`, `user`, `fail`, `granted` or `host_capabilities` is refused at start: RBAC and
forced failures are not modelled, and the gates are policy-server's own (its policies.yml).

Every request is logged to LOG, one line each: the method, the path with its query, the status,
and a request body when there is one. The port it listens on is written to PORT_FILE.
"""

import json
import os
import select
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BUILT_IN_KINDS = [
    ("v1", "Namespace", False),
    ("v1", "Secret", True),
    ("v1", "ConfigMap", True),
    ("v1", "Pod", True),
    ("apps/v1", "ReplicaSet", True),
    ("apps/v1", "Deployment", True),
    ("apps/v1", "StatefulSet", True),
    ("apps/v1", "DaemonSet", True),
    ("batch/v1", "Job", True),
    ("batch/v1", "CronJob", True),
]
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
NOT_MODELLED = ("rbac", "user", "fail", "granted", "host_capabilities")
WATCH_MAX_SECONDS = 290


def plural_of(kind):
    """The resource name of a kind, as the harness's cluster derives it."""
    lower = kind.lower()
    if lower == "endpoints":
        return lower
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and not lower[:-1].endswith(tuple("aeiou")):
        return lower[:-1] + "ies"
    return lower + "s"


def group_of(api_version):
    return api_version.split("/", 1)[0] if "/" in api_version else ""


class Cluster:
    """The fixture: its served kinds and its objects."""

    def __init__(self, fixture):
        unknown = sorted(set(fixture) - {"objects", "served"})
        if unknown:
            raise SystemExit(f"kube-api.py: the fixture's {', '.join(unknown)} is not modelled "
                             f"(only objects and served are; not modelled: {', '.join(NOT_MODELLED)})")
        self.objects = fixture.get("objects") or []
        built_in = {(av, kind) for av, kind, _ in BUILT_IN_KINDS}
        if "served" in fixture:
            served = [(s["apiVersion"], s["kind"], s["namespaced"], s.get("plural")) for s in fixture["served"]]
        else:
            seen = {}
            for obj in self.objects:
                key = (obj["apiVersion"], obj["kind"])
                if key not in built_in:
                    seen.setdefault(key, "namespace" in obj["metadata"])
            served = [(av, kind, ns, None) for (av, kind), ns in seen.items()]
            served += [(av, kind, ns, None) for av, kind, ns in BUILT_IN_KINDS]
        # {apiVersion: {plural: (kind, namespaced)}}
        self.served = {}
        for av, kind, namespaced, plural in served:
            self.served.setdefault(av, {})[plural or plural_of(kind)] = (kind, namespaced)
        self.custom = {(av, kind) for av, kinds in self.served.items() for kind, _ in kinds.values()} - built_in
        versions = [int(o["metadata"].get("resourceVersion", "0")) for o in self.objects]
        self.resource_version = str(max(versions, default=1))

    def resource_list(self, api_version):
        resources = [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
             "verbs": ["get", "list", "watch"]}
            for plural, (kind, namespaced) in sorted(self.served[api_version].items())
        ]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version,
                "resources": resources}

    def group_list(self):
        groups = {}
        for av in sorted(self.served):
            if "/" in av:
                group, version = av.split("/", 1)
                groups.setdefault(group, []).append({"groupVersion": av, "version": version})
        items = [{"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in groups.items()]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}

    def select(self, api_version, kind, namespace, name=None):
        return [
            o for o in self.objects
            if o["apiVersion"] == api_version and o["kind"] == kind
            and (namespace is None or o["metadata"].get("namespace") == namespace)
            and (name is None or o["metadata"]["name"] == name)
        ]

    def as_listed(self, api_version, kind, obj):
        """An item of a list: a built-in kind's items carry no apiVersion and kind."""
        if (api_version, kind) in self.custom:
            return obj
        return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def status(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return code, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster = None
    log_file = None
    log_lock = threading.Lock()

    def log_message(self, *args):
        pass

    def record(self, code, extra=""):
        with self.log_lock:
            self.log_file.write(f"{self.command} {self.path} -> {code}{extra}\n")
            self.log_file.flush()

    def send_json(self, code, body, extra=""):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.record(code, extra)

    def page_not_found(self, extra=""):
        data = b"404 page not found\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.record(404, extra)

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            return self.send_json(200, self.cluster.group_list())
        if parts[:2] == ["api", "v1"]:
            api_version, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return self.page_not_found()
        kinds = self.cluster.served.get(api_version)
        if kinds is None:
            return self.page_not_found()
        if not rest:
            return self.send_json(200, self.cluster.resource_list(api_version))
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if rest[0] not in kinds or len(rest) > 2:
            return self.page_not_found()
        kind, namespaced = kinds[rest[0]]
        if namespace is not None and not namespaced:
            return self.page_not_found()
        if len(rest) == 2:
            return self.get(api_version, rest[0], kind, namespaced, namespace, rest[1])
        unserved = sorted(set(query) - {"watch", "resourceVersion", "resourceVersionMatch", "limit",
                                        "timeoutSeconds", "allowWatchBookmarks"})
        if unserved or namespace is not None:
            what = f"the parameters {', '.join(unserved)}" if unserved else "a list in one namespace"
            return self.send_json(*status(400, "BadRequest", f"the stand-in does not serve {what}"))
        if query.get("watch") in ("true", "1"):
            return self.watch(query)
        items = [self.cluster.as_listed(api_version, kind, o)
                 for o in self.cluster.select(api_version, kind, None)]
        body = {"apiVersion": api_version, "kind": f"{kind}List",
                "metadata": {"resourceVersion": self.cluster.resource_version}, "items": items}
        return self.send_json(200, body, f" ({len(items)} items)")

    def get(self, api_version, plural, kind, namespaced, namespace, name):
        if namespaced and namespace is None:
            return self.page_not_found()
        found = self.cluster.select(api_version, kind, namespace if namespaced else None, name)
        if found:
            return self.send_json(200, found[0])
        group = group_of(api_version)
        resource = f"{plural}.{group}" if group else plural
        return self.send_json(*status(404, "NotFound", f'{resource} "{name}" not found',
                                      {"name": name, "group": group, "kind": plural}))

    def watch(self, query):
        """A watch from the list's resourceVersion: no event ever comes; held until it times out."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        self.record(200, " (watch held open, no events)")
        seconds = min(int(query.get("timeoutSeconds", WATCH_MAX_SECONDS)), WATCH_MAX_SECONDS)
        readable, _, _ = select.select([self.connection], [], [], seconds)
        if readable:
            self.close_connection = True  # the client went away (or wrote again): end here
            return
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        extra = f" body={raw.decode(errors='replace')}"
        if urlsplit(self.path).path != SAR_PATH:
            return self.send_json(*status(405, "MethodNotAllowed", "the stand-in serves no POST but a SubjectAccessReview"), extra)
        review = json.loads(raw)
        review.setdefault("metadata", {})
        review["status"] = {"allowed": True}
        return self.send_json(201, review, extra)

    def refuse(self):
        self.send_json(*status(405, "MethodNotAllowed", f"the stand-in serves no {self.command}"))

    do_PUT = do_PATCH = do_DELETE = refuse


def main():
    fixture_path, log_path, port_file = sys.argv[1:4]
    with open(fixture_path) as f:
        Handler.cluster = Cluster(json.load(f))
    Handler.log_file = open(log_path, "a")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
