"""signalbots: one supervised asyncio daemon for perpetual-futures signals."""

__version__ = "0.1.0"
