"""chargebus against the ocpp-library baseline: the same load from the same simulator,
on this machine, in one run; a table side by side with the ratio, and the figures as
JSON so that later runs can be compared.

    make compare                      # or: .venv/bin/python benchmarks/compare.py [options]

For each system in turn (the baseline first: the fixed offered load is half of what it
sustained): start it on free ports, warm it up, then
  idle     N stations connect, boot and are held; resident memory of the process that
           holds the sockets (chargebus: the edge; the baseline: its only process), from
           /proc/<pid>/status VmRSS, before and while they are held, per connection
  storm    N stations connected and booted all drop at once and come back: the time
           from the drop to the last BootNotification answered, and CALLERRORs
  1.6      MeterValues-heavy sessions (--meter-values readings per session), each
           station sending its next call when the answer comes: calls/s, p50, p99
  2.0.1    the same with TransactionEvent-heavy sessions
  fixed    both versions half and half at a fixed offered rate both can hold: p50, p99
then stop it. chargebus runs embedded (`chargebus run`: nats-server with JetStream on
disk, one edge, workers, the meter sink on chdb), everything durable. Between steps the
system is left to finish what it queued (the sink catching up) until it is quiet.

The simulator shares the machine's cores with the system it drives, as the issue asks;
CPU seconds per process are recorded for each load step, to show where the time goes.
"""
import argparse
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from chargebus.simulate import Mode, Options, Progress, parse_mix, run
from processes import free_port, resident_kib

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benchmarks" / "baseline" / "csms.py"
CHARGEBUS = Path(sys.executable).parent / "chargebus"
DEFAULT_JSON = ROOT / "benchmarks" / "compare-last.json"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 90.0
SETTLE_SECONDS = 3.0  # after the last idle station booted, before memory is read
QUIET_CPU_SHARE = 0.05  # of one core, over a second: the system has finished its backlog
QUIET_TIMEOUT = 90.0

TARGETS = {"calls_ratio": 20.0, "kib_per_connection": 20.0, "storm_seconds": 10.0}




def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children + [grandchild for child in children for grandchild in descendants(child)]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def wait_listening(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the system exited with code {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listened on port {port} within {timeout:.0f} s")


class System:
    """A CSMS under test: how to start it, where stations connect, which processes."""

    name: str
    url: str
    process: subprocess.Popen

    def processes(self) -> dict[str, int]:
        """name -> pid of every process of the system."""
        raise NotImplementedError

    def holder(self) -> int:
        """The process that holds the stations' sockets."""
        raise NotImplementedError

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Baseline(System):
    name = "baseline"

    def __init__(self) -> None:
        port = free_port()
        self.url = f"ws://127.0.0.1:{port}/"
        self.process = subprocess.Popen([sys.executable, str(BASELINE), "--port", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port, self.process, START_TIMEOUT)

    def processes(self) -> dict[str, int]:
        return {"baseline": self.process.pid}

    def holder(self) -> int:
        return self.process.pid


class Chargebus(System):
    name = "chargebus"

    def __init__(self, data_dir: Path) -> None:
        port = free_port()
        self.url = f"ws://127.0.0.1:{port}/ocpp/"
        log = data_dir / "run.log"
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [str(CHARGEBUS), "--nats-url", f"nats://127.0.0.1:{free_port()}", "run",
                 "--edge-port", str(port), "--metrics-port", str(free_port()),
                 "--files-port", str(free_port()), "--ftp-port", "0",
                 "--api-port", str(free_port()), "--data-dir", str(data_dir / "data")],
                stdout=output, stderr=subprocess.STDOUT, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + START_TIMEOUT
        while "Ctrl-C stops everything" not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"chargebus run did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)

    def processes(self) -> dict[str, int]:
        found = {}
        for pid in descendants(self.process.pid):
            line = command_line(pid)
            for name in ("edge", "workers", "sink"):
                if f"chargebus.services.{name}" in line:
                    found[name] = pid
            if "nats-server" in line:
                found["nats-server"] = pid
        return found

    def holder(self) -> int:
        return self.processes()["edge"]


def wait_quiet(system: System) -> float:
    """Seconds until the system's processes use less than QUIET_CPU_SHARE of a core."""
    started = time.monotonic()
    pids = list(system.processes().values())
    before = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - started < QUIET_TIMEOUT:
        time.sleep(1.0)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - before < QUIET_CPU_SHARE:
            break
        before = now
    return time.monotonic() - started


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds every core of the machine has spent since boot in processes (user,
    nice, system) and in interrupts (irq, softirq: the loopback's TCP, mostly); not idle,
    iowait nor steal (the hypervisor's)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[0:3]) / CLOCK_TICKS, (fields[5] + fields[6]) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    """This process and its finished children: the simulator."""
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def simulate(system: System, options: Options, **keywords) -> tuple[dict, dict]:
    """The simulator's results, and the CPU seconds the system's processes, the
    simulator and everything else on the machine used meanwhile."""
    pids = system.processes()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy, own, started = machine_busy_seconds(), own_cpu_seconds(), time.monotonic()
    print(f"  {system.name}: {options.mode.value}, {options.stations:,} stations", file=sys.stderr)
    results = run(options, progress=Progress(), **keywords)
    cpu = {name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()}
    simulator = own_cpu_seconds() - own
    processes, interrupts = (after - before for after, before in zip(machine_busy_seconds(), busy))
    others = processes - simulator - sum(cpu.values())
    results["cpu_elsewhere"] = {"simulator": round(simulator, 2),
                                "other_processes": round(max(others, 0.0), 2),
                                "interrupts": round(interrupts, 2),
                                "wall_seconds": round(time.monotonic() - started, 2)}
    return results, cpu


def load_figures(results: dict, cpu: dict) -> dict:
    load, calls = results["load"], results["calls"]
    return {"calls_per_second": round(load["calls_per_second"], 1),
            "offered_per_second": load["offered_per_second"],
            "p50_ms": calls["all"]["p50_ms"], "p99_ms": calls["all"]["p99_ms"],
            "max_ms": calls["all"]["max_ms"], "callerrors": calls["callerrors"],
            "timeouts": calls["timeouts"], "missed": load["missed"],
            "unanswered": load["unanswered"], "cpu_seconds": cpu,
            "cpu_seconds_elsewhere": results["cpu_elsewhere"],
            "cpu_ms_per_call": round(1000 * sum(cpu.values()) / max(load["answered"], 1), 3)}


def measure(system: System, arguments: argparse.Namespace, fixed_rate: float | None) -> dict:
    figures: dict = {}
    common = {"url": system.url, "processes": arguments.processes,
              "meter_values": arguments.meter_values, "phase_timeout": arguments.phase_timeout}

    simulate(system, Options(**common, stations=100, mode=Mode.LOAD, rate=float("inf"),
                             duration=3.0, mix=parse_mix("1.6=1,2.0.1=1,2.1=1"),
                             station_prefix="WARM-"))
    wait_quiet(system)

    holder = system.holder()
    before = resident_kib(holder)
    held: dict = {}

    def read_memory() -> None:
        time.sleep(SETTLE_SECONDS)
        held["kib"] = resident_kib(holder)

    idle, _ = simulate(system, Options(**common, stations=arguments.idle_stations,
                                       mode=Mode.IDLE, duration=SETTLE_SECONDS + 5,
                                       station_prefix="IDLE-"), on_holding=read_memory)
    connections = idle["idle"]["held"]
    figures["idle"] = {
        "stations": arguments.idle_stations, "held": connections,
        "connect_seconds": round(idle["connect"]["seconds"], 2),
        "rss_before_kib": before, "rss_held_kib": held.get("kib"),
        "kib_per_connection": round((held["kib"] - before) / connections, 2)
        if connections and "kib" in held else None}
    wait_quiet(system)

    storm, storm_cpu = simulate(system, Options(**common, stations=arguments.storm_stations,
                                        mode=Mode.STORM, station_prefix="STORM-"))
    figures["storm"] = {
        "stations": arguments.storm_stations, "booted": storm["storm"]["booted"],
        "complete": storm["storm"]["complete"],
        "seconds": round(storm["storm"]["seconds"], 2) if storm["storm"]["seconds"] else None,
        "first_connect_seconds": round(storm["connect"]["seconds"], 2),
        "callerrors": storm["calls"]["callerrors"],
        "connect_failures": storm["connect"]["failures"],
        "cpu_seconds": storm_cpu, "cpu_seconds_elsewhere": storm["cpu_elsewhere"]}
    wait_quiet(system)

    for key, mix in (("load_16", "1.6"), ("load_201", "2.0.1")):
        results, cpu = simulate(system, Options(
            **common, stations=arguments.load_stations, mode=Mode.LOAD, rate=float("inf"),
            duration=arguments.duration, mix=parse_mix(mix),
            station_prefix=f"L{mix.replace('.', '')}-"))
        figures[key] = load_figures(results, cpu)
        figures[key]["stations"] = arguments.load_stations
        figures[key]["quiet_after_seconds"] = round(wait_quiet(system), 1)

    rate = fixed_rate or arguments.fixed_rate or round(
        0.5 * min(figures["load_16"]["calls_per_second"],
                  figures["load_201"]["calls_per_second"]), -1)
    results, cpu = simulate(system, Options(
        **common, stations=arguments.load_stations, mode=Mode.LOAD, rate=max(rate, 10.0),
        duration=arguments.duration, mix=parse_mix("1.6=1,2.0.1=1"), station_prefix="FIXED-"))
    figures["fixed"] = load_figures(results, cpu)
    figures["fixed"]["stations"] = arguments.load_stations
    return figures


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory_kib = next(int(line.split()[1])
                      for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:"))
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1]}


def ratio(ours, theirs, lower_is_better: bool = False) -> float | None:
    if ours is None or theirs is None or not ours or not theirs:
        return None
    return round(theirs / ours if lower_is_better else ours / theirs, 2)


def _cell(value, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def table(report: dict) -> tuple[str, dict]:
    """The side-by-side table (Markdown) and the targets met or not."""
    base, ours = report["systems"]["baseline"], report["systems"]["chargebus"]
    rows = []

    def row(label: str, b, c, unit: str = "", digits: int = 0, lower_is_better=False) -> None:
        r = ratio(c, b, lower_is_better)
        rows.append(f"| {label} | {_cell(b, unit, digits)} | {_cell(c, unit, digits)} | "
                    f"{'-' if r is None else f'{r:g}x'} |")

    for key, label in (("load_16", "1.6 MeterValues-heavy"),
                       ("load_201", "2.0.1 TransactionEvent-heavy")):
        b, c = base[key], ours[key]
        row(f"{label}, {b['stations']:,} stations as fast as answered: calls/s",
            b["calls_per_second"], c["calls_per_second"])
        row(f"{label}: p50 latency", b["p50_ms"], c["p50_ms"], " ms", 1, lower_is_better=True)
        row(f"{label}: p99 latency", b["p99_ms"], c["p99_ms"], " ms", 1, lower_is_better=True)
        row(f"{label}: CPU time per call, all processes of the system",
            b["cpu_ms_per_call"], c["cpu_ms_per_call"], " ms", 2, lower_is_better=True)
        row(f"{label}: still busy after the load stopped (queued work)",
            b["quiet_after_seconds"], c["quiet_after_seconds"], " s", 0, lower_is_better=True)
    offered = ours["fixed"]["offered_per_second"]
    row(f"fixed load, {offered:,.0f} calls/s offered (1.6 and 2.0.1): p50",
        base["fixed"]["p50_ms"], ours["fixed"]["p50_ms"], " ms", 2, lower_is_better=True)
    row("fixed load: p99", base["fixed"]["p99_ms"], ours["fixed"]["p99_ms"], " ms", 2,
        lower_is_better=True)
    row(f"resident memory per idle connection, {base['idle']['stations']:,} stations",
        base["idle"]["kib_per_connection"], ours["idle"]["kib_per_connection"], " KiB", 1,
        lower_is_better=True)
    row(f"reconnect storm, {base['storm']['stations']:,} stations: until every boot is answered",
        base["storm"]["seconds"], ours["storm"]["seconds"], " s", 1, lower_is_better=True)
    rows.append(f"| reconnect storm: stations back / CALLERRORs | "
                f"{base['storm']['booted']:,} / {sum(base['storm']['callerrors'].values())} | "
                f"{ours['storm']['booted']:,} / {sum(ours['storm']['callerrors'].values())} | |")
    header = ["| | ocpp library (baseline) | chargebus | chargebus better by |",
              "|---|---|---|---|"]

    worst_ratio = min(ratio(ours[k]["calls_per_second"], base[k]["calls_per_second"]) or 0
                      for k in ("load_16", "load_201"))
    p99_no_worse = all(ours[k]["p99_ms"] is not None and base[k]["p99_ms"] is not None
                       and ours[k]["p99_ms"] <= base[k]["p99_ms"] for k in ("load_16", "load_201"))
    storm = ours["storm"]
    targets = {
        "calls_per_second_20x_at_p99_no_worse": {
            "met": worst_ratio >= TARGETS["calls_ratio"] and p99_no_worse,
            "ratio": worst_ratio, "p99_no_worse": p99_no_worse},
        "20_kib_per_idle_connection": {
            "met": ours["idle"]["kib_per_connection"] is not None
            and ours["idle"]["kib_per_connection"] <= TARGETS["kib_per_connection"],
            "kib": ours["idle"]["kib_per_connection"]},
        "storm_in_10_s_without_callerror": {
            "met": storm["complete"] and storm["seconds"] is not None
            and storm["seconds"] <= TARGETS["storm_seconds"] and not storm["callerrors"],
            "seconds": storm["seconds"], "callerrors": storm["callerrors"]},
    }
    return "\n".join(header + rows), targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-stations", type=int, default=1000,
                        help="stations of the load steps (default 1000)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of each load step (default 20)")
    parser.add_argument("--meter-values", type=int, default=20,
                        help="meter readings per session (default 20)")
    parser.add_argument("--idle-stations", type=int, default=10_000)
    parser.add_argument("--storm-stations", type=int, default=10_000)
    parser.add_argument("--fixed-rate", type=float,
                        help="calls/s of the fixed load "
                             "(default: half what the baseline sustained)")
    parser.add_argument("--processes", type=int, default=2, help="simulator processes (default 2)")
    parser.add_argument("--phase-timeout", type=float, default=120.0,
                        help="seconds stations may take to connect, or to come back in a storm")
    parser.add_argument("--only", choices=("baseline", "chargebus"),
                        help="measure one system only (no table)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help=f"where the results go (default {DEFAULT_JSON.relative_to(ROOT)})")
    arguments = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The systems inherit this limit: the edge or the baseline holds every station's socket.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    needed = max(arguments.idle_stations, arguments.storm_stations) + 200
    if needed > hard:
        raise SystemExit(f"{needed} open files are needed by the system under test and "
                         f"this machine allows {hard}")

    report = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": machine(), "parameters": vars(arguments) | {"json": str(arguments.json)},
              "systems": {}}
    fixed_rate = arguments.fixed_rate
    started = time.monotonic()
    for name in ("baseline", "chargebus"):
        if arguments.only not in (None, name):
            continue
        print(f"{name}: starting", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="chargebus-compare-") as folder:
            system = Baseline() if name == "baseline" else Chargebus(Path(folder))
            try:
                report["systems"][name] = measure(system, arguments, fixed_rate)
            finally:
                system.stop()
        if name == "baseline" and fixed_rate is None:
            fixed_rate = report["systems"]["baseline"]["fixed"]["offered_per_second"]
    report["seconds"] = round(time.monotonic() - started, 1)

    if len(report["systems"]) == 2:
        text, targets = table(report)
        report["table"] = text
        report["targets"] = targets
        print(text)
        print()
        for name, outcome in targets.items():
            details = ", ".join(f"{key} {value}" for key, value in outcome.items() if key != "met")
            print(f"target {name}: {'met' if outcome['met'] else 'NOT met'} ({details})")
    else:
        print(orjson.dumps(report["systems"], option=orjson.OPT_INDENT_2).decode())
    for name, figures in report["systems"].items():
        steps = [figures[key]["cpu_seconds_elsewhere"] for key in ("load_16", "load_201", "fixed")]
        cores = sum(s["other_processes"] for s in steps) / sum(s["wall_seconds"] for s in steps)
        simulator = sum(s["simulator"] for s in steps) / sum(s["wall_seconds"] for s in steps)
        figures["other_cores_during_load"] = round(cores, 2)
        print(f"during the {name}'s load steps the simulator used {simulator:.2f} cores and "
              f"processes foreign to the benchmark {cores:.2f} cores of {os.cpu_count()}")
    arguments.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"\nresults in {arguments.json}; {report['seconds']:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
