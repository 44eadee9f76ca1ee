"""Instructions per decode, counted by valgrind (callgrind): the same on every run, where
wall time on a shared machine is not.

    .venv/bin/python benchmarks/instructions.py        (needs Debian's valgrind)

Each peer decodes each frame N times in a fresh interpreter; the count of a run that
decodes nothing is subtracted, and the rest divided by N.
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from frames import FRAMES

# validators_compiled: the compiled validators alone on the decoded payload, the path of
# a frame the scanner leaves to the full decoder (chargebus_compiled takes the scanner's).
RUNS = {"orjson_loads": 20000, "chargebus_compiled": 20000, "compiled_then_dict": 20000,
        "validators_compiled": 20000, "ocpp_library": 500}

LOOP = """
import sys
sys.path.insert(0, {here!r})
from frames import FRAMES
data, version, ocpp_version = FRAMES[{name!r}]
peer, count = {peer!r}, {count}
if peer == "orjson_loads":
    import orjson
    call, args = orjson.loads, (data,)
elif peer == "chargebus_compiled":
    from chargebus_core import frame_c
    call, args = frame_c.decode, (data, frame_c.DIALECTS[version])
elif peer == "compiled_then_dict":
    from chargebus_core import frame_c
    def call(data, dialect):
        return frame_c.decode(data, dialect).payload
    args = (data, frame_c.DIALECTS[version])
elif peer == "validators_compiled":
    import orjson
    from chargebus_core import frame_c
    _, _, action, payload = orjson.loads(data)
    call, args = frame_c.DIALECTS[version].validate_request, (action, payload)
else:
    from ocpp.messages import _validate_payload, unpack
    def call(text, version):
        _validate_payload(unpack(text), version)
    args = (data.decode(), ocpp_version)
call(*args)
for _ in range(count):
    call(*args)
"""


def instructions(name: str, peer: str, count: int) -> int:
    script = LOOP.format(here=str(Path(__file__).parent), name=name, peer=peer, count=count)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
             "-c", script], capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def main() -> None:
    print(f"{'frame':22s} " + " ".join(f"{peer:>20s}" for peer in RUNS) + "   compiled/orjson")
    for name in FRAMES:
        per_call = {}
        for peer, count in RUNS.items():
            base = instructions(name, peer, 0)
            per_call[peer] = (instructions(name, peer, count) - base) / count
        ratio = per_call["chargebus_compiled"] / per_call["orjson_loads"]
        print(f"{name:22s} " + " ".join(f"{per_call[peer]:20,.0f}" for peer in RUNS)
              + f"   {ratio:.2f}x (ocpp library / compiled: "
              f"{per_call['ocpp_library'] / per_call['chargebus_compiled']:.0f}x)")


if __name__ == "__main__":
    main()
