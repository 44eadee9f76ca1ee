"""The committed generated modules are what the generators write from the schemas of
the installed ocpp package: a schema change or a generator change cannot land without
its output."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"
PACKAGE = ROOT / "src" / "chargebus_core"


def test_generated_modules_are_what_the_generators_write_now(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(CORE))
    import generate_scanners
    import generate_validators
    for generator in (generate_validators, generate_scanners):
        monkeypatch.setattr(generator, "OUTPUT", tmp_path)
        assert generator.main() == 0
    written = [path for path in tmp_path.iterdir() if not path.is_symlink()]
    assert len(written) == 12  # per version: validators and scanners, .py and .pxd
    for path in written:
        committed = PACKAGE / path.name
        assert committed.read_text() == path.read_text(), (
            f"{path.name} is stale: run python core/generate_validators.py and "
            "python core/generate_scanners.py")
    for path in tmp_path.iterdir():
        if path.is_symlink():
            assert (PACKAGE / path.name).readlink() == path.readlink()
