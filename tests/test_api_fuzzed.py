"""schemathesis over the HTTP API's published OpenAPI document, against a system of its
own (the fuzzing makes tokens by the thousand): every operation, its examples, the
coverage phase's edges and negatives and random data, with every check. No answer may be
a server error or differ from the document. The figures are printed for the record."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import start_system

SCHEMATHESIS = Path(sys.executable).parent / "st"
CONFIG = Path(__file__).parent / "schemathesis.toml"


@pytest.mark.system
@pytest.mark.timeout(600)
def test_the_api_holds_to_its_own_openapi_document(tmp_path):
    # The fuzzer sends thousands of requests a minute; the rate limit has tests of its own.
    system = start_system(tmp_path, environment={"CHARGEBUS_API_RATE_PER_SECOND": "100000",
                                                 "CHARGEBUS_API_RATE_BURST": "100000"})
    try:
        made = system.cli("api-keys", "add", "fuzzer", "--scope", "admin")
        assert made.returncode == 0, made.stderr
        # One worker: with two, hypothesis's descriptions of its filters parse source in
        # threads at once, which CPython 3.11's ast cannot ("AST constructor recursion
        # depth mismatch") and schemathesis reports as an error of the run.
        run = subprocess.run(
            [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run",
             f"{system.api_url}/openapi.json", "-H", f"Authorization: Bearer {made.stdout.strip()}",
             "--checks", "all", "--phases", "examples,coverage,fuzzing", "--max-examples", "10",
             "--seed", "1", "--workers", "1", "--no-color",
             # A live feed never ends: tests/test_api_feed.py follows it.
             "--exclude-path", "/api/v1/events/stream"],
            capture_output=True, text=True, timeout=540)
    finally:
        system.stop()
    summary = run.stdout[run.stdout.rfind("SUMMARY"):]
    print(summary)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", summary)
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    assert tested and selected and tested[1] == selected[1], summary
    cases = re.search(r"(\d+) generated", summary)
    assert cases and int(cases[1]) > 1000, summary
