from chargebus.runtime.service import run_service
from chargebus.services.api.main import start_api

run_service("api", start_api)
