"""What stops a simulation."""


class SimulationError(Exception):
    """The run could not go on; the message says why, for the user."""
