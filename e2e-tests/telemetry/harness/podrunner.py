"""Start a Pod the way the kubelet would, for the parts that matter to auto-instrumentation.

What is reproduced:
  * the pod gets the identity the API server, the scheduler and the CNI would give it: a name made
    from ``generateName`` plus five random characters, a UID, a node name, a pod IP and a host IP;
  * init containers run one after another, each to completion, before any app container starts;
    a failing init container fails the pod;
  * each container's env is resolved as the kubelet resolves it: ``fieldRef`` values, ``$(VAR)``
    expansion against the variables defined EARLIER in the same list, ``$$`` escaping, unresolvable
    references left as written; the result is laid over the image's own env;
  * ``command``/``args`` replace the image's entrypoint/cmd and get ``$(VAR)`` expansion too;
  * every volume mount is mounted at its ``mountPath`` exactly, inside a bubblewrap sandbox whose
    root holds only the "image" (a set of read-only binds), so the paths the policy wrote are the
    paths the process sees. ``emptyDir`` is a fresh directory shared by the pod's containers. An
    ``image`` volume (Kubernetes' ImageVolume) is the named image's filesystem, mounted read-only
    whatever the mount says, and a mount's ``subPath`` picks a directory of it, as the kubelet does.

  * the termination message: a writable file at ``terminationMessagePath`` (default
    ``/dev/termination-log``), read when the container exits; with ``FallbackToLogsOnError`` a
    failed container with an empty message gets the tail of its log, as the kubelet does;
  * the securityContext fields that decide who runs the process: runAsUser/runAsGroup (container
    over pod, else the image's user) applied with setpriv, runAsNonRoot checked against the image's
    user as the kubelet does, allowPrivilegeEscalation=false as no_new_privs, readOnlyRootFilesystem.

What is not: cgroups/resources, probes, restarts, capabilities, fsGroup/supplementalGroups,
seccomp, network namespaces (every container shares the host's loopback, which stands in for the
pod network).
"""
from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Mapping

# --------------------------------------------------------------------------------------------------
# $(VAR) expansion, as k8s.io/kubernetes/third_party/forked/golang/expansion does it.
# --------------------------------------------------------------------------------------------------


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$(NAME)`` references in ``text``.

    ``$$`` yields ``$`` (so ``$$(X)`` yields the literal ``$(X)``); a reference whose name
    ``lookup`` does not know stays as written; ``$`` followed by anything else, or an unclosed
    ``$(``, is copied unchanged.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close == -1:
                out.append("$(")
                i += 2
            else:
                name = text[i + 2 : close]
                value = lookup(name)
                out.append(value if value is not None else f"$({name})")
                i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Pod identity and env resolution
# --------------------------------------------------------------------------------------------------

# The alphabet the API server's name generator draws from (no vowels, no look-alikes).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclasses.dataclass
class PodIdentity:
    name: str
    namespace: str
    uid: str
    node_name: str
    pod_ip: str
    host_ip: str


def assign_identity(pod: dict, default_namespace: str = "default") -> PodIdentity:
    meta = pod.get("metadata", {})
    name = meta.get("name") or (meta.get("generateName", "pod-") + "".join(random.choice(_NAME_ALPHABET) for _ in range(5)))
    return PodIdentity(
        name=name,
        namespace=meta.get("namespace") or default_namespace,
        uid=meta.get("uid") or str(uuid.uuid4()),
        node_name=pod.get("spec", {}).get("nodeName") or "telemetry-node-1",
        pod_ip="10.244.1.%d" % random.randint(2, 250),
        host_ip="172.18.0.%d" % random.randint(2, 250),
    )


class UnsupportedPodFeature(Exception):
    """The pod uses something this runner does not emulate; failing beats guessing."""


def _field_value(pod: dict, ident: PodIdentity, field_path: str) -> str:
    simple = {
        "metadata.name": ident.name,
        "metadata.namespace": ident.namespace,
        "metadata.uid": ident.uid,
        "spec.nodeName": ident.node_name,
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", "default"),
        "status.podIP": ident.pod_ip,
        "status.podIPs": ident.pod_ip,
        "status.hostIP": ident.host_ip,
        "status.hostIPs": ident.host_ip,
    }
    if field_path in simple:
        return simple[field_path]
    for prefix, key in (("metadata.labels['", "labels"), ("metadata.annotations['", "annotations")):
        if field_path.startswith(prefix) and field_path.endswith("']"):
            return pod.get("metadata", {}).get(key, {}).get(field_path[len(prefix) : -2], "")
    raise UnsupportedPodFeature(f"fieldRef {field_path!r}")


def resolve_env(pod: dict, container: dict, ident: PodIdentity) -> dict[str, str]:
    """The container's env as the kubelet hands it to the runtime (before the image env)."""
    if container.get("envFrom"):
        raise UnsupportedPodFeature("envFrom")
    env: dict[str, str] = {}
    for var in container.get("env") or []:
        name = var["name"]
        value = var.get("value")
        source = var.get("valueFrom")
        if value:
            # Only what is already in `env`, i.e. defined earlier in the list, can be referenced.
            env[name] = expand(value, env.get)
        elif source:
            if "fieldRef" in source:
                env[name] = _field_value(pod, ident, source["fieldRef"]["fieldPath"])
            else:
                raise UnsupportedPodFeature(f"valueFrom {sorted(source)} for {name}")
        else:
            env[name] = ""
    return env


# --------------------------------------------------------------------------------------------------
# Images and the sandbox
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Image:
    """What a container image would provide: its filesystem (read-only binds) and its config."""

    binds: list[tuple[str, str]]  # (host path, path in the container), read-only
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    user: tuple[int, int] = (0, 0)  # the image's USER (uid, gid); root unless the image says
    entrypoint: list[str] = dataclasses.field(default_factory=list)
    cmd: list[str] = dataclasses.field(default_factory=list)
    workdir: str = "/"


def image_path(image: Image, sub_path: str) -> str:
    """The host path of ``/<sub_path>`` in the image's filesystem: inside the bind that holds it."""
    inside = "/" + sub_path.strip("/")
    for host, dest in sorted(image.binds, key=lambda b: -len(b[1])):
        if inside == dest or inside.startswith(dest.rstrip("/") + "/"):
            path = Path(host) / inside[len(dest):].lstrip("/")
            if not path.is_dir():
                raise PodFailed(f"subPath {sub_path!r}: no such directory in the image")
            return str(path)
    raise PodFailed(f"subPath {sub_path!r}: no such directory in the image")


def base_os_binds() -> list[tuple[str, str]]:
    """The host's /usr (and /bin, /lib... which are symlinks into it on merged-usr systems)."""
    return [("/usr", "/usr")]


def _root_links() -> list[str]:
    args: list[str] = []
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


@dataclasses.dataclass
class ContainerRun:
    name: str
    argv: list[str]
    env: dict[str, str]
    bwrap: list[str]
    log_path: Path
    message_path: Path | None = None
    fallback_to_logs: bool = False
    process: subprocess.Popen | None = None
    termination_message: str | None = None

    def terminated(self, code: int) -> None:
        """Record the termination message as the kubelet does when the container exits."""
        text = self.message_path.read_text(errors="replace") if self.message_path else ""
        if not text and code != 0 and self.fallback_to_logs:
            text = "\n".join(self.log().splitlines()[-80:])[-2048:]
        self.termination_message = text

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class PodFailed(Exception):
    pass


@dataclasses.dataclass
class Security:
    uid: int
    gid: int
    no_new_privs: bool
    read_only_root: bool

    def wrap(self, argv: list[str]) -> list[str]:
        """Drop to the container's user the way the runtime does, before exec'ing the command."""
        if (self.uid, self.gid) == (0, 0) and not self.no_new_privs:
            return argv
        return (["/usr/bin/setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
                + (["--no-new-privs"] if self.no_new_privs else []) + ["--"] + argv)


def _security(pod: dict, container: dict, image: Image, kind: str) -> Security:
    """The parts of securityContext that decide whether and as whom the process runs (container
    fields over pod fields), including the kubelet's runAsNonRoot check against the image's user."""
    psc = pod.get("spec", {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    pick = lambda key: csc.get(key, psc.get(key))  # noqa: E731
    uid, gid = pick("runAsUser"), pick("runAsGroup")
    if pick("runAsNonRoot"):
        if uid == 0 or (uid is None and image.user[0] == 0):
            raise PodFailed(f"{kind} {container['name']}: CreateContainerConfigError: container has "
                            "runAsNonRoot and image will run as root")
    if uid is None:
        uid, gid = image.user if gid is None else (image.user[0], gid)
    return Security(uid=uid, gid=gid if gid is not None else 0,
                    no_new_privs=csc.get("allowPrivilegeEscalation") is False,
                    read_only_root=bool(csc.get("readOnlyRootFilesystem")))


class RunningPod:
    """A started pod. Use as a context manager, or call stop()."""

    def __init__(self, pod: dict, images: Mapping[str, Image], workdir: Path | None = None,
                 identity: PodIdentity | None = None):
        self.pod = pod
        self.images = images
        self.identity = identity or assign_identity(pod)
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="pod-"))
        self.volumes: dict[str, Path] = {}
        self.image_volumes: dict[str, Image] = {}
        self.init_runs: list[ContainerRun] = []
        self.containers: dict[str, ContainerRun] = {}

    # -- construction -------------------------------------------------------------------------------

    def _prepare_volumes(self) -> None:
        for vol in self.pod.get("spec", {}).get("volumes") or []:
            if "emptyDir" in vol:
                path = self.dir / "volumes" / vol["name"]
                path.mkdir(parents=True)
                path.chmod(0o777)  # as the kubelet creates emptyDir: writable by any uid
                self.volumes[vol["name"]] = path
            elif "image" in vol:
                ref = (vol["image"] or {}).get("reference", "")
                if ref not in self.images:
                    raise PodFailed(f"volume {vol['name']}: image {ref!r} not available (ErrImagePull)")
                self.image_volumes[vol["name"]] = self.images[ref]
            else:
                kinds = sorted(k for k in vol if k != "name")
                raise UnsupportedPodFeature(f"volume {vol['name']} of type {kinds}")

    def _command(self, container: dict, image: Image, env: dict[str, str]) -> list[str]:
        # Kubernetes: command replaces ENTRYPOINT (and drops CMD), args replace CMD. Only what
        # comes from the pod spec is expanded, against the container's resolved (pod) env.
        command = [expand(a, env.get) for a in container.get("command") or []]
        args = [expand(a, env.get) for a in container.get("args") or []]
        if command:
            argv = command + args
        else:
            argv = list(image.entrypoint) + (args or list(image.cmd))
        if not argv:
            raise PodFailed(f"container {container['name']}: no command")
        return argv

    def _plan(self, container: dict, kind: str) -> ContainerRun:
        ref = container.get("image", "")
        if ref not in self.images:
            raise PodFailed(f"{kind} {container['name']}: image {ref!r} not available (ErrImagePull)")
        image = self.images[ref]
        resolved = resolve_env(self.pod, container, self.identity)
        env = {**image.env, **resolved}
        env.setdefault("HOSTNAME", self.identity.name)
        argv = self._command(container, image, resolved)
        security = _security(self.pod, container, image, kind)

        args = ["bwrap", "--unshare-uts", "--hostname", self.identity.name, "--unshare-ipc",
                "--proc", "/proc", "--dev", "/dev"]
        if not security.read_only_root:
            args += ["--tmpfs", "/tmp"]
        args += _root_links()
        made: set[str] = set()
        for host, dest in image.binds:
            # Parent directories bwrap would create copy the host's modes (/root is 0700): create
            # them 0755 first, as an image's directories are, so any uid can reach the bind.
            for parent in list(Path(dest).parents)[::-1][1:]:
                if str(parent) not in made and not any(str(parent).startswith(d + "/") or str(parent) == d
                                                       for _, d in image.binds):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(str(parent))
            args += ["--ro-bind", host, dest]
        for mount in container.get("volumeMounts") or []:
            args += self._mount(mount, f"{kind} {container['name']}")
        message_path = self.dir / "termination" / f"{kind}-{container['name']}"
        message_path.parent.mkdir(parents=True, exist_ok=True)
        message_path.touch(mode=0o666)
        message_path.chmod(0o666)
        args += ["--bind", str(message_path), container.get("terminationMessagePath") or "/dev/termination-log"]
        if security.read_only_root:
            args += ["--remount-ro", "/"]
        args += ["--chdir", container.get("workingDir") or image.workdir, "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--"] + security.wrap(argv)
        log_path = self.dir / "logs" / f"{kind}-{container['name']}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fallback = container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        return ContainerRun(container["name"], argv, env, args, log_path, message_path, fallback)

    def _mount(self, mount: dict, who: str) -> list[str]:
        """The bwrap arguments that mount one volume at its mountPath."""
        name = mount["name"]
        if mount.get("subPathExpr"):
            raise UnsupportedPodFeature("subPathExpr")
        if name in self.image_volumes:
            # The kubelet mounts an image volume read-only, whatever the mount says.
            return ["--ro-bind", image_path(self.image_volumes[name], mount.get("subPath", "")),
                    mount["mountPath"]]
        if name not in self.volumes:
            raise PodFailed(f"{who}: volume {name!r} not in the pod")
        if mount.get("subPath"):
            raise UnsupportedPodFeature("subPath of an emptyDir")
        flag = "--ro-bind" if mount.get("readOnly") else "--bind"
        return [flag, str(self.volumes[name]), mount["mountPath"]]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self, init_timeout: float = 120) -> "RunningPod":
        spec = self.pod.get("spec", {})
        self._prepare_volumes()
        for container in spec.get("initContainers") or []:
            run = self._plan(container, "init")
            self.init_runs.append(run)
            with open(run.log_path, "wb") as out:
                proc = subprocess.run(run.bwrap, stdout=out, stderr=subprocess.STDOUT, timeout=init_timeout)
            run.terminated(proc.returncode)
            if proc.returncode != 0:
                raise PodFailed(f"init container {run.name} exited {proc.returncode}: {run.log()}")
        for container in spec.get("containers") or []:
            run = self._plan(container, "container")
            out = open(run.log_path, "wb")
            run.process = subprocess.Popen(run.bwrap, stdout=out, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
            out.close()
            self.containers[run.name] = run
        return self

    def check_running(self) -> None:
        for run in self.containers.values():
            code = run.process.poll() if run.process else None
            if code is not None:
                raise PodFailed(f"container {run.name} exited {code}:\n{run.log()}")

    def wait(self, container: str, timeout: float) -> int:
        """Wait (bounded) for a container's process to exit; return its exit code."""
        return self.containers[container].process.wait(timeout)

    def stop(self, grace: float = 5.0, cleanup: bool = True) -> None:
        """SIGTERM every container's process group, SIGKILL what is left after the grace period."""
        procs = [r.process for r in self.containers.values() if r.process and r.process.poll() is None]
        for proc in procs:
            _killpg(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:
            _killpg(proc, signal.SIGKILL)
            proc.wait()
        if cleanup:
            self.cleanup()

    def cleanup(self) -> None:
        """Remove the pod's emptyDirs and logs (only when the runner created the directory)."""
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RunningPod":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
