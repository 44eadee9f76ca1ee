from chargebus.service import run_service
from chargebus_services.edge.server import start_edge

run_service("edge", start_edge)
