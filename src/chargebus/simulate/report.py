"""The results of a run as the text printed at its end."""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _counts(counts: dict) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "none"


def format_report(results: dict) -> str:
    options = results["options"]
    mix = ", ".join(f"{version} {weight:.0%}" for version, weight in options["mix"].items())
    rate = options["rate"]
    if rate == "max":
        rate = "as fast as answered"
    elif rate is None:
        rate = f"a call per station every {options['meter_interval']:g} s"
    else:
        rate = f"{rate:,g} calls/s"
    connect = results["connect"]
    lines = [
        f"chargebus simulate: {options['mode']}, {options['stations']:,} stations ({mix}), "
        f"{options['processes']} process{'es' if options['processes'] > 1 else ''}, "
        f"{results['url']}",
        f"connected and booted {connect['booted']:,}/{connect['stations']:,} "
        f"in {connect['seconds']:.1f} s",
    ]
    boots = connect["calls"]["actions"].get("BootNotification")
    if boots and boots["count"]:
        lines.append(f"  BootNotification p50 {_ms(boots['p50_ms'])} ms, "
                     f"p99 {_ms(boots['p99_ms'])} ms, "
                     f"max {_ms(boots['max_ms'])} ms; CALLERRORs "
                     f"{_counts(connect['calls']['callerrors'])}")
    if connect["failures"]:
        lines.append(f"connection attempts that failed: {_counts(connect['failures'])}")
    if "load" in results:
        load = results["load"]
        lines.append(f"load: {load['answered']:,} answers in {load['seconds']:.1f} s = "
                     f"{load['calls_per_second']:,.0f} calls/s (offered: {rate})")
        if load["missed"]:
            lines.append(f"  {load['missed']:,} calls not sent: every station was waiting "
                         "for an answer")
        if load["unanswered"]:
            lines.append(f"  {load['unanswered']:,} calls still unanswered at the end")
    if "idle" in results:
        idle = results["idle"]
        lines.append(f"idle: {idle['held']:,} connections held for {idle['seconds']:g} s")
    if "storm" in results:
        storm = results["storm"]
        took = "-" if storm["seconds"] is None else f"{storm['seconds']:.2f} s"
        lines.append(f"storm: all dropped at once; {storm['booted']:,}/{storm['stations']:,} "
                     f"reconnected and booted in {took}")
    calls = results["calls"]
    lines.append("")
    lines.append({"load": "calls of the load (the boots above apart):",
                  "idle": "calls while the sockets were held:",
                  "storm": "calls after the drop:"}[options["mode"]])
    header = (f"{'action':<26}{'answers':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}"
              f"{'max ms':>10}{'CALLERR':>9}{'timeout':>9}")
    lines += [header, "-" * len(header)]
    for action, figures in calls["actions"].items():
        lines.append(_row(action, figures))
    lines.append(_row("all", calls["all"] | {"callerrors": sum(calls["callerrors"].values()),
                                             "timeouts": calls["timeouts"]}))
    lines += ["", f"CALLERRORs by code: {_counts(calls['callerrors'])}"]
    if calls["authorization"]:
        lines.append(f"statuses answered: {_counts(calls['authorization'])}")
    if calls["csms_calls"]:
        lines.append(f"calls from the CSMS: {_counts(calls['csms_calls'])}")
    connection = {name.replace("_", " "): count
                  for name, count in results["connection"].items() if count and name != "sent"}
    if connection:
        lines.append(f"connection events: {_counts(connection)}")
    return "\n".join(lines)


def _row(action: str, figures: dict) -> str:
    return (f"{action:<26}{figures['count']:>10,}{_ms(figures['p50_ms']):>10}"
            f"{_ms(figures['p95_ms']):>10}{_ms(figures['p99_ms']):>10}{_ms(figures['max_ms']):>10}"
            f"{figures.get('callerrors', 0):>9,}{figures.get('timeouts', 0):>9,}")
