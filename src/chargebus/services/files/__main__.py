from chargebus.runtime.service import run_service
from chargebus.services.files.main import start_files

run_service("files", start_files)
