"""The ccxt.pro class a Gateway drives: ccxt's own, with its throttle, costs, responses and row shapes routed
through ``Hooks`` (the gateway's admission) and the exchange's profile. With ``gateway.py`` this is the one
door to ccxt: nothing else in the package reads ccxt's internals.

* ``throttle(cost)`` and ``calculate_rate_limiter_cost`` → ``Hooks.throttle`` / ``Hooks.cost``;
* ``on_rest_response`` → ``Hooks.answered`` reads usage headers and rate-limit answers before ccxt parses the
  body; a ``Refusal`` stops ccxt there with the matching ccxt error (the hook has already acted on it);
* ``fetch_markets`` → only the swap markets where ccxt ignores the market-type option (``markets_loader``);
  ``set_markets`` keeps of each market's raw ``info`` only what ccxt still reads (``market_info_kept``);
* OHLCV rows keep the exchange's own quote volume as a seventh element (``kline_volume``, and the websocket
  ``CandleStream.volume``) and the exchange's closed mark as an eighth (see ``_klines``); each kline frame
  tells ``kline_listener`` its symbol, found where the profile says (``CandleStream.market_id``);
* ``handle_message``: each connection's updates of still-open candles are held back from ccxt
  (``_kline_gate``), and the listener told at most once a second that such frames still arrive;
* ``fetch_ohlcv`` and ``fetch_funding_rates`` read the daemon's ``clock`` where ccxt reads its own; each
  websocket connection's messages are paced on it too (``_pacer``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any, Protocol

from signalbots.clock import Clock
from signalbots.exchange import _klines
from signalbots.exchange._kline_gate import KlineGate
from signalbots.exchange._pacer import Pacer
from signalbots.exchange.ccxt_modules import ccxt
from signalbots.exchange.venues import Venue


class Refusal(Enum):
    """An answer ccxt must not go on parsing, and the ccxt error it raises instead."""

    RATE_LIMITED = "rate limited"  # the exchange said slow down (the hook has paused the exchange)
    UNAVAILABLE = "unavailable"  # a 5xx


class Hooks(Protocol):
    """What the ccxt instance asks of its owner for every REST request."""

    def cost(self, path: str, params: Any, ccxt_cost: float) -> float: ...

    async def throttle(self, cost: float) -> None: ...

    def answered(
        self, status: int, reason: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> Refusal | None: ...


def gated_class(base: type[Any], venue: Venue, hooks: Hooks, *, clock: Clock) -> type[Any]:
    """``base`` (a ccxt.pro exchange class) with its hooks routed to ``hooks`` and ``venue``, its market-data
    calls dated by ``clock``."""
    # Set only within a call that dates by the daemon's clock, in that call's task: the websocket tasks'
    # keep-alive compares ccxt's own (wall) clock with itself, whatever the daemon's says.
    daemon_time: ContextVar[bool] = ContextVar(f"{venue.id}_daemon_time", default=False)

    @contextmanager
    def on_daemon_clock() -> Iterator[None]:
        token = daemon_time.set(True)
        try:
            yield
        finally:
            daemon_time.reset(token)

    class Gated(base):  # type: ignore[misc]
        def milliseconds(self) -> Any:
            # ccxt dates some market data by its own clock (a candle span that ends "now", a funding time
            # that is the next hour of "now"): in a simulated market that is not the market's time.
            return int(clock.time() * 1000) if daemon_time.get() else super().milliseconds()

        async def fetch_ohlcv(self, *args: Any, **kwargs: Any) -> Any:
            with on_daemon_clock():
                return await super().fetch_ohlcv(*args, **kwargs)

        async def fetch_funding_rates(self, *args: Any, **kwargs: Any) -> Any:
            with on_daemon_clock():
                return await super().fetch_funding_rates(*args, **kwargs)

        def client(self, url: Any) -> Any:
            fresh = url not in self.clients
            client = super().client(url)
            if fresh:
                # ccxt's pace for the connection's messages (its ``rateLimit``), a second's worth at once.
                rate = 1000.0 / self.rateLimit if self.rateLimit > 0 else 1000.0
                client.throttle = Pacer(clock=clock, rate=rate, burst=max(1.0, rate))
                client.kline_gate = KlineGate.of(venue.candle_stream)
            return client

        def handle_message(self, client: Any, message: Any) -> Any:
            gate: KlineGate | None = getattr(client, "kline_gate", None)
            if gate is None:
                return super().handle_message(client, message)
            frames = gate.admit(message)
            if not frames:
                self._still_streaming(message)
            for frame in frames:
                super().handle_message(client, frame)
            return None

        def on_close(self, client: Any, error: Any) -> Any:
            try:
                self._hand_over_held(client)
            finally:
                super().on_close(client, error)

        def on_error(self, client: Any, error: Any) -> Any:
            try:
                self._hand_over_held(client)
            finally:
                super().on_error(client, error)

        def _hand_over_held(self, client: Any) -> None:
            """The closing connection's held frames to ccxt: its cache keeps their candles' last state, as
            if nothing had been held (the next connection starts afresh)."""
            gate: KlineGate | None = getattr(client, "kline_gate", None)
            for frame in gate.held() if gate is not None else ():
                super().handle_message(client, frame)

        _alive_at = float("-inf")

        def _still_streaming(self, message: Any) -> None:
            # The feed marks its streams alive from the frames it is told of; held frames reach it no more,
            # so it is told of one of them at most once a second (its own mark is throttled the same way).
            listener = self.kline_listener
            now = clock.monotonic()
            if listener is None or now - self._alive_at < 1.0:
                return
            self._alive_at = now
            symbol = self._kline_symbol(message)
            if symbol is not None:
                listener(symbol)

        async def throttle(self, cost: Any = None) -> Any:
            await hooks.throttle(
                cost if isinstance(cost, float) else float(cost if cost is not None else 1.0)
            )
            return None

        def calculate_rate_limiter_cost(
            self, api: Any, method: Any, path: Any, params: Any, config: Any = None
        ) -> Any:
            cost = super().calculate_rate_limiter_cost(api, method, path, params, config or {})
            return hooks.cost(str(path), params, float(cost))

        def on_rest_response(
            self,
            code: Any,
            reason: Any,
            url: Any,
            method: Any,
            response_headers: Any,
            response_body: Any,
            request_headers: Any,
            request_body: Any,
        ) -> Any:
            body = super().on_rest_response(
                code, reason, url, method, response_headers, response_body, request_headers, request_body
            )
            text = body if isinstance(body, str) else None
            refusal = hooks.answered(int(code), str(reason), str(url), dict(response_headers or {}), text)
            if refusal is Refusal.RATE_LIMITED:
                raise ccxt.DDoSProtection(f"{self.id} {code} {reason}")
            if refusal is Refusal.UNAVAILABLE:
                raise ccxt.ExchangeNotAvailable(f"{self.id} {code} {reason}")
            return body

        def parse_json(self, http_response: Any) -> Any:
            parsed = super().parse_json(http_response)
            if parsed is None and isinstance(http_response, str) and http_response.lstrip()[:1] in ("{", "["):
                # ccxt would hand the raw text to its parsers and return garbage; say it is malformed instead.
                try:
                    json.loads(http_response)
                except ValueError as err:
                    raise ccxt.BadResponse(f"{self.id} malformed JSON: {err}") from err
            return parsed

        def set_markets(self, markets: Any, currencies: Any = None) -> Any:
            # Each market's raw ``info`` kept only where ccxt still reads it (the profile says which keys).
            for market in markets.values() if isinstance(markets, dict) else markets or ():
                info = market.get("info") if isinstance(market, dict) else None
                if isinstance(info, dict):
                    market["info"] = {k: info[k] for k in venue.market_info_kept if k in info}
            return super().set_markets(markets, currencies)

        async def fetch_markets(self, params: Any = None) -> Any:
            if venue.markets_loader is None:
                return await super().fetch_markets(params or {})
            return await getattr(self, venue.markets_loader)(params or {})

        def parse_ohlcv(self, ohlcv: Any, market: Any = None) -> Any:
            row = super().parse_ohlcv(ohlcv, market)
            quote = _klines.quote_volume(venue, ohlcv, market)
            row = row if quote is None or not isinstance(row, list) else [*row[:6], quote]
            return _klines.mark_closed(venue, ohlcv, row)  # OKX rows, REST and websocket: ``confirm``

        def parse_ws_ohlcv(self, ohlcv: Any, market: Any = None) -> Any:
            # Bybit and MEXC parse their websocket klines here, dropping turnover and the closed flag.
            return _klines.ws_row(venue, ohlcv, super().parse_ws_ohlcv(ohlcv, market), market)

        def convert_trading_view_to_ohlcv(self, ohlcvs: Any, *args: Any, **kwargs: Any) -> Any:
            rows = super().convert_trading_view_to_ohlcv(ohlcvs, *args, **kwargs)
            return _klines.carry_column(venue, ohlcvs, rows)

        # Told each symbol a kline frame updated (and, once a second, one whose frames are held back).
        kline_listener: Callable[[str], None] | None = None

        def handle_ohlcv(self, client: Any, message: Any) -> Any:
            result = super().handle_ohlcv(client, message)
            kline = _klines.ws_kline(message) if venue.candle_stream is not None else None
            if kline is not None:
                # The same lookup ccxt's handler makes, so the row found is the one it just stored.
                symbol = self.safe_symbol(kline.market_id, None, None, "contract")
                rows = (self.ohlcvs or {}).get(symbol, {}).get(self.find_timeframe(kline.interval))
                _klines.mark_row(rows, kline)
            listener = self.kline_listener
            symbol = self._kline_symbol(message) if listener is not None else None
            if listener is not None and symbol is not None:
                # The row is stored: the feed reads this one symbol now, instead of waking through a
                # watch call that rebuilds the whole subscription's futures on every frame.
                listener(symbol)
            return result

        def _kline_symbol(self, message: Any) -> str | None:
            """The symbol a kline frame stored its row under: the lookup ccxt's handler makes."""
            market_id = _klines.ws_market_id(venue, message)
            stream = venue.candle_stream
            if market_id is None or stream is None:
                return None
            if stream.market_of is not None:
                market_id = getattr(self, stream.market_of)(market_id)
            symbol = self.safe_symbol(market_id, None, None, "contract")
            return symbol if isinstance(symbol, str) else None

    Gated.__name__ = Gated.__qualname__ = f"Gated{base.__name__}"
    return Gated
