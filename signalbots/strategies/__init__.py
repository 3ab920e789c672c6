"""The strategies, each declared once by its ``SPEC`` (``spec``), all listed in ``registry``."""

# The settings package builds ``[strategies.*]`` from the registry, which imports every strategy module, and
# each strategy module imports settings types: importing the settings first keeps that one order whichever
# module a caller imports first (a strategy module first would otherwise meet a half-built registry).
import signalbots.settings  # noqa: F401
