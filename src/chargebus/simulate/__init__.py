"""A station simulator and load generator: N stations of a mix of OCPP 1.6, 2.0.1 and
2.1 on picows over uvloop, in one or more processes, against any CSMS.

``run(Options(...))`` returns the results as a dict; ``format_report`` prints them.
The ``chargebus simulate`` command is the same with a progress line.
"""
from chargebus.simulate.coordinator import run
from chargebus.simulate.errors import SimulationError
from chargebus.simulate.options import Mode, Options, parse_mix, parse_rate
from chargebus.simulate.progress import Progress
from chargebus.simulate.report import format_report

__all__ = ["Mode", "Options", "Progress", "SimulationError", "format_report", "parse_mix",
           "parse_rate", "run"]
