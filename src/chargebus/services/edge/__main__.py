from chargebus.runtime.service import run_service
from chargebus.services.edge.server import start_edge

run_service("edge", start_edge)
