from chargebus.runtime.service import run_service
from chargebus.services.sink.main import start_sink

run_service("sink", start_sink)
