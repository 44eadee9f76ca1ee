"""The committed generated modules are what the generators write from the schemas of
the installed ocpp package (pinned in the generate extra): a schema change or a
generator change cannot land without its output."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "src" / "chargebus_core"


def test_generated_modules_are_what_the_generators_write_now(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from codegen import scanners, validators
    for generator in (validators, scanners):
        assert len(generator.generate(tmp_path)) == 3  # one line per OCPP version
    written = [path for path in tmp_path.iterdir() if not path.is_symlink()]
    assert len(written) == 12  # per version: validators and scanners, .py and .pxd
    for path in written:
        committed = CORE / path.name
        assert committed.read_text() == path.read_text(), (
            f"{path.name} is stale: run make generate (python -m codegen)")
    links = [path for path in tmp_path.iterdir() if path.is_symlink()]
    assert len(links) == 6
    for path in links:
        assert (CORE / path.name).readlink() == path.readlink()


def test_codegen_refuses_an_unknown_generator_in_one_line():
    refused = subprocess.run([sys.executable, "-m", "codegen", "validator"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr == ("codegen: validator: not a generator (choose from validators, "
                              "scanners)\n")
    assert not refused.stdout
