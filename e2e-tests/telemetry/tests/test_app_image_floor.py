"""The Python floor the policy knows for the operator's image (SDK_FLOORS in src/app_image.rs, which
inspectAppImages compares an app image's PYTHON_VERSION with) is the highest lower bound of the
Requires-Python of the image's real packages at that version, and of the harness's SDK and distro."""
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RUST = HERE.parents[1] / "src" / "app_image.rs"

sys.path.insert(0, str(HERE))
import instrumentation_names  # noqa: E402


def requires_python(tree):
    """{distribution: Requires-Python} of every distribution installed in `tree`."""
    found = {}
    for meta in Path(tree).glob("*.dist-info/METADATA"):
        name = requires = None
        for line in meta.read_text(encoding="utf-8").splitlines():
            if not line:
                break
            key, _, value = line.partition(": ")
            if key == "Name":
                name = value
            elif key == "Requires-Python":
                requires = value
        found[name] = requires
    return found


def floor(specifiers):
    """The highest `>=X.Y` lower bound among the specifiers, as (X, Y)."""
    bounds = []
    for spec in specifiers:
        for clause in spec.split(","):
            m = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)(?:\.\d+)?\s*", clause)
            if m:
                bounds.append((int(m.group(1)), int(m.group(2))))
    return max(bounds)


def policy_floors():
    text = RUST.read_text()
    body = re.search(r"pub const SDK_FLOORS: \[\(&str, \(u32, u32\)\); \d+\] = \[(.*?)\];", text, re.S)
    assert body, "SDK_FLOORS not found in %s" % RUST
    return {v: (int(a), int(b)) for v, a, b in re.findall(r'\("([^"]+)", \((\d+), (\d+)\)\)', body.group(1))}


def test_the_floor_of_the_image_version_is_its_packages():
    found = requires_python(os.environ["TELEMETRY_IMAGE_INSTRUMENTATIONS"])
    assert len(found) >= 40 and all(found.values()), found
    version = instrumentation_names.image_version()
    assert policy_floors().get(version) == floor(found.values()), (version, set(found.values()))


def test_the_harness_sdk_and_distro_declare_no_higher_floor():
    found = requires_python(os.environ["TELEMETRY_AUTOINSTRUMENTATION"])
    sdk = [found[n] for n in ("opentelemetry-sdk", "opentelemetry-distro")]
    assert floor(sdk) <= max(policy_floors().values()), sdk


def test_the_floor_is_the_highest_bound():
    # Sensitive: one package that needs more raises the floor, so a stale table would fail.
    assert floor([">=3.9", ">=3.10", "<4,>=3.11"]) == (3, 11)
