"""The file service: firmware images to stations over HTTP(S), their diagnostics and logs
from them over HTTP and FTP, each URL opening one grant (chargebus.files.grants)."""
