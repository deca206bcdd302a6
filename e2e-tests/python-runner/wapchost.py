"""A waPC host over wasmtime's Python package: the protocol of the Rust crates `wapc` 2.2 and
`wasmtime-provider` 2.25 (the project's host), with the host calls answered as
`e2e_tests::host` answers them without a cluster.

The module is compiled and linked once (`CompiledPolicy`); every `instantiate()` is a fresh store
and instance with `_start` and `wapc_init` run, as policy-server rehydrates one per evaluation.
WASI is preview 1 with stdin, stdout and stderr inherited, no arguments and no environment, as
`wasmtime-provider` sets it up.
"""

import os
import sys

import wasmtime

I32 = wasmtime.ValType.i32()


class GuestCallFailure(Exception):
    """wapc's `Error::GuestCallFailure`."""

    def __str__(self):
        return "Guest call failure: %s" % self.args[0]


class HostError(Exception):
    """A failure of the host itself (compiling, instantiating, a guest call that failed)."""


class _State:
    """wapc's `ModuleState`: the current request and what the guest and the host answered."""

    def __init__(self):
        self.guest_request = None
        self.guest_response = None
        self.guest_error = None
        self.host_response = None
        self.host_error = None


def host_callback(binding, namespace, operation, payload):
    """A policy-server with no capabilities: logging accepted (shown with POLICY_HOST_LOG), every
    other call refused. Returns (ok, bytes or message)."""
    if (binding, namespace, operation) == ("kubewarden", "tracing", "log"):
        if os.environ.get("POLICY_HOST_LOG") is not None:
            print("[policy log] %s" % payload.decode("utf-8", "replace"), file=sys.stderr, flush=True)
        return True, b""
    return False, "host capability %s/%s/%s is not available in this host" % (binding, namespace, operation)


def _memory(caller):
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise wasmtime.WasmtimeError("Cannot find 'mem' export")
    return memory


def _read(caller, ptr, length):
    return bytes(_memory(caller).read(caller, ptr, ptr + length))


def _write(caller, ptr, data):
    if data:
        _memory(caller).write(caller, data, ptr)


def _utf8(data, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise wasmtime.WasmtimeError("host_call: cannot convert %s to UTF8: %s" % (what, e)) from None


class CompiledPolicy:
    """The module compiled and linked (WASI and the waPC imports), ready to instantiate."""

    def __init__(self, module_bytes):
        self.engine = wasmtime.Engine()
        try:
            self.module = wasmtime.Module(self.engine, module_bytes)
            linker = wasmtime.Linker(self.engine)
            linker.define_wasi()
            self.state = _State()
            self._define_wapc(linker)
            self.pre = linker.instantiate_pre(self.module)
        except wasmtime.WasmtimeError as e:
            raise HostError("cannot compile the policy module: %s" % e) from None

    def _define(self, linker, name, params, results, func):
        ty = wasmtime.FuncType([I32] * params, [I32] * results)
        linker.define_func("wapc", name, ty, func, access_caller=True)

    def _define_wapc(self, linker):
        state = self.state

        def guest_request(caller, op_ptr, ptr):
            if state.guest_request is not None:
                operation, msg = state.guest_request
                _write(caller, ptr, msg)
                _write(caller, op_ptr, operation)

        def guest_response(caller, ptr, length):
            state.guest_response = _read(caller, ptr, length)

        def guest_error(caller, ptr, length):
            state.guest_error = _read(caller, ptr, length).decode("utf-8")

        def host_call(caller, bd_ptr, bd_len, ns_ptr, ns_len, op_ptr, op_len, ptr, length):
            payload = _read(caller, ptr, length)
            binding = _utf8(_read(caller, bd_ptr, bd_len), "bd")
            namespace = _utf8(_read(caller, ns_ptr, ns_len), "ns")
            operation = _utf8(_read(caller, op_ptr, op_len), "op")
            state.host_response = state.host_error = None
            ok, answer = host_callback(binding, namespace, operation, payload)
            if ok:
                state.host_response = answer
                return 1
            state.host_error = answer
            return 0

        def host_response(caller, ptr):
            if state.host_response is not None:
                _write(caller, ptr, state.host_response)

        def host_response_len(caller):
            return len(state.host_response or b"")

        def host_error(caller, ptr):
            if state.host_error is not None:
                _write(caller, ptr, state.host_error.encode("utf-8"))

        def host_error_len(caller):
            return len(state.host_error.encode("utf-8")) if state.host_error is not None else 0

        def console_log(caller, ptr, length):
            _utf8(_read(caller, ptr, length), "message")

        self._define(linker, "__guest_request", 2, 0, guest_request)
        self._define(linker, "__console_log", 2, 0, console_log)
        self._define(linker, "__host_call", 8, 1, host_call)
        self._define(linker, "__host_response", 1, 0, host_response)
        self._define(linker, "__host_response_len", 0, 1, host_response_len)
        self._define(linker, "__guest_response", 2, 0, guest_response)
        self._define(linker, "__guest_error", 2, 0, guest_error)
        self._define(linker, "__host_error", 1, 0, host_error)
        self._define(linker, "__host_error_len", 0, 1, host_error_len)

    def instantiate(self):
        """A fresh instance: its own store, WASI context and linear memory, `wapc_init` run."""
        store = wasmtime.Store(self.engine)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        try:
            instance = self.pre.instantiate(store)
            exports = instance.exports(store)
            for starter in ("_start", "wapc_init"):
                if starter in exports:
                    _run_starter(exports[starter], store)
            guest_call = exports["__guest_call"] if "__guest_call" in exports else None
        except (wasmtime.WasmtimeError, wasmtime.Trap, _InitFailed) as e:
            raise HostError("cannot instantiate the policy module: Initialization failed: %s" % e) from None
        if guest_call is None:
            raise HostError("cannot instantiate the policy module: Initialization failed: No such function in Wasm module")
        return PolicyHost(self.state, store, guest_call)


class _InitFailed(Exception):
    pass


def _run_starter(func, store):
    try:
        func(store)
    except wasmtime.ExitTrap as e:
        # A WASI exit with status 0 (TinyGo's main) is a successful start.
        if e.code != 0:
            raise _InitFailed(str(e)) from None


class PolicyHost:
    """One instance; calls are made one at a time, as waPC's host makes them."""

    def __init__(self, state, store, guest_call):
        self.state = state
        self.store = store
        self.guest_call = guest_call

    def call(self, operation, payload):
        """Call a guest function with raw bytes; returns the guest's raw answer."""
        try:
            return self._call(operation, payload)
        except GuestCallFailure as e:
            raise HostError("guest call `%s` failed: %s" % (operation, e)) from None

    def _call(self, operation, payload):
        state = self.state
        op = operation.encode("utf-8")
        state.guest_response = None
        state.guest_request = (op, bytes(payload))
        state.guest_error = None
        state.host_response = None
        state.host_error = None
        try:
            result = self.guest_call(self.store, len(op), len(payload))
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            state.guest_error = str(e)
            result = 0
        if result == 0:
            raise GuestCallFailure(state.guest_error if state.guest_error is not None else "No error message set for call failure")
        if state.guest_response is not None:
            return state.guest_response
        if state.guest_error is not None:
            raise GuestCallFailure(state.guest_error)
        raise GuestCallFailure("No error message OR response set for call success")
