"""OCPP-J frames: the compiled build unless CHARGEBUS_NO_EXTENSIONS is set."""
import os
from typing import TYPE_CHECKING

from chargebus_core.errors import FrameError, SchemaViolation  # noqa: F401  one class, both builds

if TYPE_CHECKING:  # both builds have the API that frame_c.pyi types
    from chargebus_core.frame_c import *  # noqa: F403
    COMPILED: bool
elif os.environ.get("CHARGEBUS_NO_EXTENSIONS"):
    from chargebus_core.frame_py import *  # noqa: F403
    COMPILED = False
else:
    try:
        from chargebus_core.frame_c import *  # noqa: F403
        COMPILED = True
    except ImportError:  # installed without a C compiler
        from chargebus_core.frame_py import *  # noqa: F403
        COMPILED = False
