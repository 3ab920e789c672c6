"""``TickerFeed``: bulk 24h tickers every ``ticker_poll``.

It also fills ``Liquidity``, which the candle feed (liquidity floor), the Bybit liquidation feed (most
liquid N) and the open interest feed (prices) read; where the venue's ticker carries open interest (its
profile says so: Bybit, MEXC), the same answer gives those events too, at no request of their own.
"""

from __future__ import annotations

from typing import Any

from signalbots.events import MarketEvent, OpenInterest, Ticker
from signalbots.exchange._feed import PollingFeed, finite
from signalbots.exchange.bus import Liquidity
from signalbots.exchange.open_interest import open_interest_of
from signalbots.exchange.venues import OpenInterestSource


class TickerFeed(PollingFeed):
    kind = "tickers"

    def __init__(self, *, liquidity: Liquidity, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval = self.settings.ticker_poll
        self.liquidity = liquidity

    async def _poll_once(self) -> None:
        tickers = await self.gateway.call("fetch_tickers", "fetch_tickers")
        received = self.clock.monotonic()
        now_ms = int(self.clock.time() * 1000)
        events: list[MarketEvent] = []
        volumes: dict[str, float] = {}
        prices: dict[str, float] = {}
        bad, example = 0, ""
        for symbol, raw in (tickers or {}).items():
            if symbol not in self.gateway.markets:
                continue  # spot or another market type the exchange returned in bulk
            event = self._ticker(symbol, raw, received, now_ms)
            if isinstance(event, str):
                bad, example = bad + 1, event
                self._bad("fetch_tickers", event)
                continue
            events.append(event)
            prices[symbol] = event.last
            if event.quote_volume_24h is not None:
                volumes[symbol] = event.quote_volume_24h
            interest = self._open_interest(symbol, raw, event)
            if isinstance(interest, str):
                bad, example = bad + 1, interest
                self._bad("fetch_tickers", interest)
            elif interest is not None:
                events.append(interest)
        if volumes:
            self.liquidity.update(self.exchange_id, volumes, prices)
        self._publish(events)
        self._report_bad("fetch_tickers", bad, example)

    def _open_interest(self, symbol: str, raw: dict[str, Any], ticker: Ticker) -> OpenInterest | str | None:
        fields = self.gateway.venue.open_interest
        if fields is None or fields.source is not OpenInterestSource.TICKER:
            return None
        size = self.gateway.markets.get(symbol, {}).get("contractSize")
        return open_interest_of(
            fields,
            exchange=self.exchange_id,
            symbol=symbol,
            raw=raw.get("info"),
            price=ticker.last,
            contract_size=size if isinstance(size, int | float) else None,
            time_ms=ticker.time_ms,
            received=ticker.received,
        )

    def _ticker(self, symbol: str, raw: Any, received: float, now_ms: int) -> Ticker | str:
        if not isinstance(raw, dict):
            return f"{symbol}: not an object"
        last = finite(raw.get("last"), positive=True, allow_zero=False)
        if last is None:
            return f"{symbol}: last price {raw.get('last')!r}"
        volume = self._quote_volume(raw, last, symbol)
        if isinstance(volume, str):
            return volume
        stamp = raw.get("timestamp")
        return Ticker(
            exchange=self.exchange_id,
            symbol=symbol,
            time_ms=int(stamp) if isinstance(stamp, int | float) and stamp > 0 else now_ms,
            last=last,
            quote_volume_24h=volume,
            received=received,
        )

    def _quote_volume(self, raw: dict[str, Any], last: float, symbol: str) -> float | str | None:
        """The exchange's own 24h volume field (its profile says where and in what unit), in quote currency.

        ccxt's unified ``baseVolume`` follows the exchange's field, which counts contracts on OKX and MEXC:
        never multiply it by the price blindly.
        """
        field = self.gateway.venue.ticker_volume
        info = raw.get("info")
        if field is not None and isinstance(info, dict) and info.get(field.key) not in (None, ""):
            size = self.gateway.markets.get(symbol, {}).get("contractSize")
            volume = field.quote(
                info, price=last, contract_size=size if isinstance(size, int | float) else None
            )
            return f"{symbol}: 24h volume {info.get(field.key)!r}" if volume is None else volume
        quote = raw.get("quoteVolume")
        volume = finite(quote, positive=True) if quote is not None else None
        if quote is not None and volume is None:
            return f"{symbol}: quote volume {quote!r}"
        return volume
