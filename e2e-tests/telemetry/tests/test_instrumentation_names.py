"""The instrumentation names the policy knows (src/checks/instrumentation_names.rs) are the entry
points of the image's real packages, and the harness's own tree names none the policy lacks."""
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SCRIPT = HERE / "instrumentation_names.py"

sys.path.insert(0, str(HERE))
import instrumentation_names  # noqa: E402


def test_the_generated_list_matches_the_image_packages():
    tree = os.environ["TELEMETRY_IMAGE_INSTRUMENTATIONS"]
    run = subprocess.run([sys.executable, str(SCRIPT), tree, "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_harness_tree_names_are_known():
    harness = set(instrumentation_names.entry_point_names(os.environ["TELEMETRY_AUTOINSTRUMENTATION"]))
    image = set(instrumentation_names.entry_point_names(os.environ["TELEMETRY_IMAGE_INSTRUMENTATIONS"]))
    assert harness and harness <= image, sorted(harness - image)


def test_the_check_fails_when_the_list_and_the_packages_disagree(tmp_path):
    # Sensitive: a tree with one entry point more than the list makes --check fail.
    dist = tmp_path / "opentelemetry_instrumentation_extra-1.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text("[opentelemetry_instrumentor]\nextra = x:Y\n")
    tree = os.environ["TELEMETRY_IMAGE_INSTRUMENTATIONS"]
    for source in Path(tree).glob("*.dist-info"):
        (tmp_path / source.name).symlink_to(source)
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--check"], capture_output=True, text=True)
    assert run.returncode == 1 and "disagrees" in run.stdout
