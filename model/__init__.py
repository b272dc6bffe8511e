"""decision-screen's answering core: importable without web or training dependencies."""
from .contract import PROCEDURE_NAMES, Answer, MatterIn
from .errors import ScreenInputError
from .screener import Screener

__all__ = ["Answer", "MatterIn", "PROCEDURE_NAMES", "Screener", "ScreenInputError"]
