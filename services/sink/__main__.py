from chargebus.service import run_service
from chargebus_services.sink.main import start_sink

run_service("sink", start_sink)
