#!/usr/bin/env python3
"""Per-function profile of a wasm module's fresh calls, from callgrind and wasmtime's perf map.

    wasm_profile.py CALLGRIND_OUT PERF_MAP CALLS MODULE [TOP]

CALLGRIND_OUT is callgrind's output of `bench --try REQUEST SETTINGS --fresh-calls CALLS
--perf-map` recorded with `--dump-instr=yes` (a cost per instruction address); PERF_MAP is the
`/tmp/perf-<pid>.map` wasmtime wrote in that run (`START SIZE NAME` per compiled function, hex);
MODULE is the module profiled (its exports and name section name the functions wasmtime calls
`wasm[0]::function[N]` and the trampolines). Callgrind cannot name JIT code, so every instruction
whose address lies in a perf-map range is counted to that wasm function. The report, per fresh
call (counts divided by CALLS):

- the fresh call's total, as `instructions.sh` counts it (`bench::main` minus `bench::Module::load`);
- the wasm code: instructions executed in the module's compiled code (self, exact);
- native code the wasm code calls (wasmtime's libcalls such as `memory.copy` or filling a table
  entry on the first indirect call through it, the WASI and waPC host functions), by the first
  native function called, inclusive, with the number of calls, and which wasm functions call
  wasmtime's builtins;
- the host's own work outside wasm (instantiation, the waPC call, drop), by the fresh call's
  callees, inclusive, with the wasm entered under each shown apart, and what the run spends
  outside the fresh calls (reading the request and settings once), spread over the calls as
  instructions.sh spreads it;
- the top wasm functions by self instructions, then by inclusive instructions (the cost of the
  calls to each from other functions, with how many there are), then the self instructions rolled
  up by crate and by module path.

The demangling is callgrind's (native code) and wasmtime's (the name section); only Rust's
hashes (`::h<hash>` tails, `crate[<hash>]`) are dropped here. Plain Python 3, no packages.
Checked by `bench`'s test `the_wasm_profile_script_reads_a_callgrind_sample` (testdata/).
"""

import bisect
import re
import sys
from collections import defaultdict

# ---- the callgrind out format ---------------------------------------------------------------

NAME_LINE = re.compile(r"^(c?(?:ob|fl|fi|fe|fn))=(?:\((\d+)\))?\s*(.*)$")


class Profile:
    """What the profile holds: self cost per (function, address), call edges with inclusive cost."""

    def __init__(self):
        self.names = {}  # function id -> name
        self.self_cost = defaultdict(int)  # (function id, address) -> instructions
        self.edges = defaultdict(lambda: [0, 0])  # (caller id, callee id) -> [calls, inclusive]
        self.totals = None  # the file's `totals:` / `summary:` figure
        self.positions = ["line"]
        self.events = ["Ir"]


def parse_position(token, last):
    """One subposition: absolute (`0x1f`, `12`), relative (`+3`, `-3`) or the same (`*`)."""
    if token == "*":
        return last
    if token[0] in "+-":
        return last + int(token, 0)
    return int(token, 0)


class Parser:
    """Reads a callgrind out file line by line into a [`Profile`]."""

    def __init__(self):
        self.p = Profile()
        self.fn = None
        self.cfn = None
        self.ids = defaultdict(dict)  # kind (fn/ob/fl) -> compressed id -> name
        self.last = []
        self.pending_call = None

    def name(self, kind, cid, rest):
        """A compressed name: `(id) name` defines it, `(id)` refers to it."""
        table = self.ids[{"fn": "fn", "cfn": "fn", "ob": "ob", "cob": "ob"}.get(kind, "fl")]
        if cid is None:
            return rest
        if rest:
            table[cid] = rest
        return table[cid]

    def line(self, text):
        text = text.rstrip("\n")
        if not text or text.startswith("#"):
            return
        m = NAME_LINE.match(text)
        if m:
            kind, cid, rest = m.groups()
            name = self.name(kind, cid, rest)
            if kind == "fn":
                fid = ("fn", cid if cid is not None else name)
                self.p.names[fid] = name
                self.fn = fid
            elif kind == "cfn":
                fid = ("fn", cid if cid is not None else name)
                self.p.names[fid] = name
                self.cfn = fid
            return
        if text.startswith("calls="):
            # `calls=COUNT TARGET`: the next cost line is the call's inclusive cost.
            self.pending_call = int(text[6:].split()[0])
            return
        if text.startswith("positions:"):
            self.p.positions = text.split(":", 1)[1].split()
            self.last = [0] * len(self.p.positions)
            return
        if text.startswith("events:"):
            self.p.events = text.split(":", 1)[1].split()
            return
        if text.startswith(("totals:", "summary:")):
            self.p.totals = int(text.split(":", 1)[1].split()[0])
            return
        if text[0] in "0123456789+-*":
            self.cost(text.split())

    def cost(self, fields):
        npos = len(self.p.positions)
        if not self.last:
            self.last = [0] * npos
        pos = [parse_position(t, l) for t, l in zip(fields[:npos], self.last)]
        self.last = pos
        ir = int(fields[npos]) if len(fields) > npos else 0
        if self.pending_call is not None:
            edge = self.p.edges[(self.fn, self.cfn)]
            edge[0] += self.pending_call
            edge[1] += ir
            self.pending_call = None
        else:
            addr = pos[0] if self.p.positions[0] == "instr" else 0
            self.p.self_cost[(self.fn, addr)] += ir


def parse_callgrind(lines):
    """A [`Profile`] of callgrind out text (an iterable of lines)."""
    parser = Parser()
    for text in lines:
        parser.line(text)
    if parser.p.positions[:1] != ["instr"]:
        raise SystemExit("the callgrind output has no instruction addresses: record with --dump-instr=yes")
    counted = sum(parser.p.self_cost.values())
    if parser.p.totals is not None and counted != parser.p.totals:
        raise SystemExit(f"the costs read add up to {counted}, the file's total is {parser.p.totals}")
    return parser.p


# ---- the perf map ---------------------------------------------------------------------------


class PerfMap:
    """The JIT functions wasmtime registered: sorted address ranges and their names."""

    def __init__(self, lines):
        entries = []
        for text in lines:
            parts = text.rstrip("\n").split(" ", 2)
            if len(parts) == 3:
                start, size = int(parts[0], 16), int(parts[1], 16)
                entries.append((start, start + size, parts[2]))
        entries.sort()
        self.starts = [e[0] for e in entries]
        self.entries = entries

    def find(self, addr):
        """The name of the function whose code holds `addr`, or None."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.entries[i][1]:
            return self.entries[i][2]
        return None


# ---- the module's own names ----------------------------------------------------------------


def leb128(data, i):
    """An unsigned LEB128 number at `data[i]`: (value, next index)."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def wasm_names(module):
    """Function index -> name from a module's exports and name section, and whether it has a name
    section: wasmtime names trampolines by function index, and without a name section every
    function `wasm[0]::function[N]`."""
    data, i, names, has_names = module, 8, {}, False
    while i < len(data):
        section, i = data[i], i + 1
        size, i = leb128(data, i)
        end = i + size
        if section == 7:  # exports: name, kind, index
            count, j = leb128(data, i)
            for _ in range(count):
                length, j = leb128(data, j)
                name, j = data[j : j + length].decode("utf-8", "replace"), j + length
                kind, j = data[j], j + 1
                index, j = leb128(data, j)
                if kind == 0:
                    names.setdefault(index, name)
        elif section == 0:
            length, j = leb128(data, i)
            if data[j : j + length] == b"name":
                has_names = True
                names.update(function_names(data, j + length, end))
        i = end
    return names, has_names


def function_names(data, i, end):
    """The function-names subsection (id 1) of a name section's body `data[i:end]`."""
    names = {}
    while i < end:
        kind, i = data[i], i + 1
        size, i = leb128(data, i)
        if kind == 1:
            count, j = leb128(data, i)
            for _ in range(count):
                index, j = leb128(data, j)
                length, j = leb128(data, j)
                names[index] = data[j : j + length].decode("utf-8", "replace")
                j += length
        i += size
    return names


def display(name, names):
    """A perf-map name, with the function a `…[N]` trampoline or unnamed function stands for."""
    m = re.match(r"^wasm\[\d+\]::(\w+)\[(\d+)\]$", name)
    if m and int(m.group(2)) in names:
        return f"{clean(names[int(m.group(2))])} ({m.group(1)}[{m.group(2)}])"
    return clean(name)


def rollup_name(name, names):
    """The name a wasm function is rolled up by: its perf-map name, or for an unnamed function
    the module's name for it (an export's, without a name section)."""
    m = re.match(r"^wasm\[\d+\]::function\[(\d+)\]$", name)
    return names.get(int(m.group(1)), name) if m else name


# ---- names and rollups ----------------------------------------------------------------------

HASH = re.compile(r"::h[0-9a-f]{16}$")
CRATE_HASH = re.compile(r"\[[0-9a-f]{16}\]")


def clean(name):
    """A function name without Rust's hashes (`::h<hash>` tails, `crate[<hash>]`) or callgrind's
    `'2` recursion suffix."""
    return CRATE_HASH.sub("", HASH.sub("", re.sub(r"'\d+$", "", name)))


def path_of(name):
    """The path a function belongs to: `<T as Trait>::f` and `drop_in_place<T>` count to T (to
    Trait when T is a primitive or a type parameter), a tuple to its first type."""
    name = clean(name)
    m = re.match(r"^core::ptr::drop_in_place<(.*)>$", name)
    if m:
        name = m.group(1) + "::drop"
    while name.startswith(("<", "&", "*const ", "*mut ", "mut ", "dyn ", "[", "(")):
        name = re.sub(r"^(<|&|\*const |\*mut |mut |dyn |\[|\()", "", name)
    m = re.match(r"^([^<>( ]+) as ([^<>( ]+)", name)
    if m and "::" not in m.group(1):
        return m.group(2)
    return re.split(r"[<>(), ;]| as ", name)[0]


def module_of(name, depth):
    """The module path of a function, at most `depth` segments: the path's segments before its
    first type (a capitalised segment) or before the function holding a closure (`{{closure}}`),
    else all but the last (the function's own name)."""
    path = path_of(name)
    segments = path.split("::")
    for i, seg in enumerate(segments):
        if seg.startswith("{"):
            segments = segments[: max(i - 1, 1)]
            break
        if not seg or seg[0].isupper() or not (seg[0].isalpha() or seg[0] == "_"):
            segments = segments[:i]
            break
    else:
        segments = segments[:-1]
    return "::".join(segments[:depth]) if segments else (path or name)


ALLOCATOR = re.compile(
    r"^(malloc|free|realloc|calloc|aligned_alloc|posix_memalign|sbrk|dl\w+|prepend_alloc|"
    r"internal_\w+|tmalloc_\w+|init_top|sys_alloc|sys_trim|release_unused_segments|"
    r"(__rustc::)?__(rust|rdl|rg)_\w+)$"
)


def rollup_key(name):
    """The rollup group of a wasm function: module path, 3 segments for this policy, else 2;
    the allocator, libc's memory and string functions and wasmtime's own code by name."""
    name = clean(name)
    if re.match(r"^wasm\[\d+\]::function\[", name):
        return "(no name section)"
    if re.match(r"^(wasm\[\d+\]::|signatures\[|wasmtime_builtin_)", name):
        return "(wasmtime trampolines and builtins)"
    if ALLOCATOR.match(name):
        return "(allocator: dlmalloc, __rust_alloc)"
    if re.match(r"^(mem|str|wcs)\w*$", name):
        return "(libc: mem*, str*)"
    if "::" not in name:
        return "(exports and C functions)"
    crate = module_of(name, 1)
    return module_of(name, 3 if crate == "otel_python_policy" else 2)


# ---- the report -----------------------------------------------------------------------------


def inclusive(profile, pattern):
    """Inclusive instructions of the functions matching `pattern`: their incoming calls."""
    rx = re.compile(pattern)
    return sum(
        cost
        for (caller, callee), (_, cost) in profile.edges.items()
        if rx.match(clean(profile.names[callee])) and caller != callee
    )


class Split:
    """The profile split between the module's JIT code and native code."""

    def __init__(self, profile, perf_map):
        self.jit_self = defaultdict(int)  # wasm function -> self instructions
        self.jit_fns = set()  # callgrind function ids that are JIT code
        self.unmapped = 0  # instructions in code callgrind could not name, outside the map
        for (fid, addr), ir in profile.self_cost.items():
            name = perf_map.find(addr)
            if name is not None:
                self.jit_self[name] += ir
                self.jit_fns.add(fid)
            elif re.match(r"^0x[0-9a-f]+$", profile.names[fid]):
                self.unmapped += ir
        self.entries = defaultdict(int)  # wasm entered from native code: JIT function id -> cost
        self.calls_out = defaultdict(int)  # native code called from wasm, by native function
        self.calls_out_count = defaultdict(int)  # how many times
        self.builtin_callers = defaultdict(int)  # (wasmtime builtin, wasm caller) -> calls
        for (caller, callee), (count, cost) in profile.edges.items():
            caller_jit, callee_jit = caller in self.jit_fns, callee in self.jit_fns
            if callee_jit and not caller_jit:
                self.entries[callee] += cost
            elif caller_jit and not callee_jit:
                self.calls_out[clean(profile.names[callee])] += cost
                self.calls_out_count[clean(profile.names[callee])] += count
            elif caller_jit and callee_jit:
                name = jit_name(profile, perf_map, callee)
                if name.startswith("wasmtime_builtin_"):
                    self.builtin_callers[(name, jit_name(profile, perf_map, caller))] += count


def jit_name(profile, perf_map, fid):
    """The perf-map name of the wasm function callgrind's `0x…` function id stands for."""
    name = profile.names[fid]
    try:
        return perf_map.find(int(name.split("'")[0], 16)) or name
    except ValueError:
        return name


class Report:
    """Per-fresh-call lines: instructions divided by the number of calls, share of the total."""

    def __init__(self, calls, total, out):
        self.calls, self.total, self.out = calls, total, out

    def say(self, text=""):
        print(text, file=self.out)

    def row(self, ir, name, indent=""):
        per_call = ir / self.calls
        self.say(f"{per_call:>11,.0f} {100 * per_call / self.total:5.1f}%  {indent}{name}")

    def rows(self, costs, limit=None, floor=0.0):
        for name, ir in sorted(costs.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
            if ir / self.calls >= floor:
                self.row(ir, name)


def report(profile, perf_map, calls, module=b"", top=30, out=sys.stdout):
    """Print the per-fresh-call report of a parsed profile (see the module's doc)."""
    names, has_names = wasm_names(module) if module else ({}, False)
    run = inclusive(profile, r"^bench::main$") - inclusive(profile, r"^bench::Module::load$")
    r = Report(calls, run / calls, out)
    split = Split(profile, perf_map)
    wasm, entered = sum(split.jit_self.values()), sum(split.entries.values())
    r.say(f"per fresh call (N={calls}): instructions, share of the fresh call")
    r.say("(name section: " + ("yes" if has_names else "no, wasmtime's wasm[0]::function[N] names") + ")")
    r.row(run, "fresh call, as instructions.sh counts it (bench::main - bench::Module::load)")
    r.row(wasm, "wasm code (the module's compiled functions, self)", "  ")
    r.row(sum(split.calls_out.values()), "native code called from wasm (libcalls, WASI and waPC host functions)", "  ")
    r.row(run - entered, "host outside wasm (instantiation, the waPC call, drop, the bench's own setup)", "  ")
    if split.unmapped:
        r.row(split.unmapped, "of which code callgrind could not name, outside the perf map (PLT, loader)", "    ")
    host_breakdown(r, profile, split, perf_map, names, run)
    r.say()
    r.say("native code called from wasm, by the first native function (inclusive; calls per fresh call):")
    counts = split.calls_out_count
    r.rows({f"{n} ({counts[n] / calls:.1f})": ir for n, ir in split.calls_out.items()}, top)
    if split.builtin_callers:
        r.say()
        r.say("wasm functions calling wasmtime's builtins (libcalls), calls per fresh call, top 8 each:")
        by_builtin = defaultdict(lambda: defaultdict(int))
        for (builtin, caller), n in split.builtin_callers.items():
            by_builtin[builtin][display(caller, names)] += n
        for builtin, callers in sorted(by_builtin.items()):
            for caller, n in sorted(callers.items(), key=lambda kv: (-kv[1], kv[0]))[:8]:
                r.say(f"{n / calls:>11,.1f}         {builtin} <- {caller}")
    r.say()
    r.say(f"wasm functions by self instructions (top {top} of {len(split.jit_self)}):")
    r.rows({display(n, names): ir for n, ir in split.jit_self.items()}, top)
    r.say()
    r.say(f"wasm functions by inclusive instructions, calls per fresh call (top {top}; what their")
    r.say("calls from other functions cost, so a function re-entered through another counts twice):")
    called, entered = defaultdict(int), defaultdict(int)
    for (caller, callee), (count, cost) in profile.edges.items():
        if callee in split.jit_fns and caller != callee:
            name = display(jit_name(profile, perf_map, callee), names)
            called[name] += cost
            entered[name] += count
    r.rows({f"{n} ({entered[n] / calls:.1f})": ir for n, ir in called.items()}, top)
    for title, key in (("crate", lambda n: rollup_key(n).split("::")[0]), ("module path", rollup_key)):
        groups = defaultdict(int)
        for name, ir in split.jit_self.items():
            groups[key(rollup_name(name, names))] += ir
        r.say()
        r.say(f"wasm code by {title} (self; groups under 1 instruction per call left out):")
        r.rows(groups, floor=1.0)


# waPC: the host enters the guest's `__guest_call` for each call; every other export it enters
# (`_start`, `wapc_init`) while instantiating.
WAPC_CALL = ("__guest_call", "e2e_tests::host::PolicyHost::call")
WAPC_INIT = "e2e_tests::host::CompiledPolicy::instantiate"
# The bench's run (`fresh_calls` may be inlined into `main`) and what it does per call or before.
RUN = ("bench::main", "bench::fresh_calls")
FRESH = ("bench::Module::load", "bench::Module::fresh_call")


def host_breakdown(r, profile, split, perf_map, names, run):
    """The host's work by what `bench::Module::fresh_call` calls, each with the wasm it enters
    apart (waPC's `__guest_call` under the call, the other exports under instantiation); and what
    the run spends outside the fresh calls."""
    fresh = {fid for fid, name in profile.names.items() if clean(name) == "bench::Module::fresh_call"}
    callees = defaultdict(int)
    for (caller, callee), (_, cost) in profile.edges.items():
        if caller in fresh and callee not in fresh:
            callees[clean(profile.names[callee])] += cost
    entered = defaultdict(dict)  # fresh call's callee -> wasm entry name -> instructions
    for fid, ir in split.entries.items():
        name = display(jit_name(profile, perf_map, fid), names)
        owner = WAPC_CALL[1] if name.startswith(WAPC_CALL[0]) else WAPC_INIT
        entered[owner][name] = entered[owner].get(name, 0) + ir
    r.say()
    r.say("host, by what the bench's fresh call calls (inclusive), the wasm it enters apart:")
    for callee, ir in sorted(callees.items(), key=lambda kv: -kv[1]):
        r.row(ir, callee)
        inside = entered.pop(callee, {})
        for name, cost in sorted(inside.items(), key=lambda kv: -kv[1]):
            r.row(cost, "wasm entered: " + name, "    ")
        if inside:
            r.row(ir - sum(inside.values()), "host's own", "    ")
    for owner, inside in entered.items():
        for name, cost in inside.items():
            r.row(cost, f"wasm entered: {name} (expected under {owner}, not called here)", "  ")
    r.row(run - sum(callees.values()), "outside the fresh calls, once per run, spread over N (what else bench::main calls:)")
    others = defaultdict(int)
    for (caller, callee), (_, cost) in profile.edges.items():
        name = clean(profile.names[callee])
        if clean(profile.names[caller]) in RUN and name not in RUN + FRESH:
            others[name] += cost
    for name, ir in sorted(others.items(), key=lambda kv: (-kv[1], kv[0]))[:5]:
        r.row(ir, name, "    ")


def main(argv):
    if len(argv) not in (5, 6):
        raise SystemExit("usage: wasm_profile.py CALLGRIND_OUT PERF_MAP CALLS MODULE [TOP]")
    with open(argv[1], encoding="utf-8", errors="replace") as f:
        profile = parse_callgrind(f)
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        perf_map = PerfMap(f)
    with open(argv[4], "rb") as f:
        module = f.read()
    report(profile, perf_map, int(argv[3]), module, int(argv[5]) if len(argv) == 6 else 30)


if __name__ == "__main__":
    main(sys.argv)
