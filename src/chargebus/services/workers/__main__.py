from chargebus.runtime.service import run_service
from chargebus.services.workers.main import start_workers

run_service("workers", start_workers)
