"""The call-centre simulator: plays a day of callers and agents against a running service.

    flask --app app simulate --calls 300 --hours 1 --agents 4 --speed 30

Callers dial through the Twilio emulator's softphone endpoints and agents work the live console over
Socket.IO, exactly as people would; the outcome of every call is then read from the ledger and written
to `report.json` and `report.html`. See docs/simulator.md.
"""

from .run import SimulationConfig, SimulationError, run_simulation

__all__ = ["SimulationConfig", "SimulationError", "run_simulation"]
