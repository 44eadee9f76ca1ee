"""OCPP-J frame envelope: the compiled build unless CHARGEBUS_NO_EXTENSIONS is set."""
import os

if os.environ.get("CHARGEBUS_NO_EXTENSIONS"):
    from .frame_py import *  # noqa: F403
    COMPILED = False
else:
    try:
        from .frame_c import *  # noqa: F403
        COMPILED = True
    except ImportError:  # installed without a C compiler
        from .frame_py import *  # noqa: F403
        COMPILED = False
