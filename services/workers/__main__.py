from chargebus.service import run_service
from chargebus_services.workers.main import start_workers

run_service("workers", start_workers)
