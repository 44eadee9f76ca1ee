"""OCPP-J frames: the compiled build unless CHARGEBUS_NO_EXTENSIONS is set."""
import os

from chargebus_core.errors import FrameError, SchemaViolation  # noqa: F401  one class, both builds

if os.environ.get("CHARGEBUS_NO_EXTENSIONS"):
    from chargebus_core.frame_py import *  # noqa: F403
    COMPILED = False
else:
    try:
        from chargebus_core.frame_c import *  # noqa: F403
        COMPILED = True
    except ImportError:  # installed without a C compiler
        from chargebus_core.frame_py import *  # noqa: F403
        COMPILED = False
