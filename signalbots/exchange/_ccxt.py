"""The ccxt.pro class a Gateway drives: ccxt's own, with its throttle, costs, responses and row shapes routed
through the gateway and the exchange's profile.

* ``throttle(cost)`` and ``calculate_rate_limiter_cost`` → the shared limiter, with the profile's corrections;
* ``on_rest_response`` → the gateway reads usage headers and rate-limit answers before ccxt parses the body;
* ``fetch_markets`` → only the swap markets where ccxt ignores the market-type option (``markets_loader``);
* OHLCV rows keep the exchange's own quote volume as a seventh element (``kline_volume``; see ``_klines``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ccxt

from signalbots.exchange import _klines
from signalbots.exchange.venues import Venue

if TYPE_CHECKING:
    from signalbots.exchange.gateway import Gateway


def gated_class(base: type[Any], venue: Venue) -> type[Any]:
    """``base`` (a ccxt.pro exchange class) with its hooks routed to a Gateway and ``venue``."""

    class Gated(base):  # type: ignore[misc]
        signalbots_gateway: Gateway | None = None

        async def throttle(self, cost: Any = None) -> Any:
            gateway = self.signalbots_gateway
            if gateway is None:
                return await super().throttle(cost)
            await gateway.throttle(cost)
            return None

        def calculate_rate_limiter_cost(
            self, api: Any, method: Any, path: Any, params: Any, config: Any = None
        ) -> Any:
            cost = super().calculate_rate_limiter_cost(api, method, path, params, config or {})
            gateway = self.signalbots_gateway
            return cost if gateway is None else gateway.request_cost(str(path), params, float(cost))

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
            gateway = self.signalbots_gateway
            if gateway is not None:
                text = body if isinstance(body, str) else None
                gateway.on_response(int(code), str(reason), str(url), dict(response_headers or {}), text)
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

        async def fetch_markets(self, params: Any = None) -> Any:
            if venue.markets_loader is None:
                return await super().fetch_markets(params or {})
            return await getattr(self, venue.markets_loader)(params or {})

        def parse_ohlcv(self, ohlcv: Any, market: Any = None) -> Any:
            row = super().parse_ohlcv(ohlcv, market)
            quote = _klines.quote_volume(venue, ohlcv, market)
            return row if quote is None or not isinstance(row, list) else [*row[:6], quote]

        def convert_trading_view_to_ohlcv(self, ohlcvs: Any, *args: Any, **kwargs: Any) -> Any:
            rows = super().convert_trading_view_to_ohlcv(ohlcvs, *args, **kwargs)
            return _klines.carry_column(venue, ohlcvs, rows)

        def handle_ohlcv(self, client: Any, message: Any) -> Any:
            result = super().handle_ohlcv(client, message)
            kline = _klines.ws_kline(message) if venue.candles_streamed else None
            if kline is not None:
                # The same lookup ccxt's handler makes, so the row found is the one it just stored.
                symbol = self.safe_symbol(kline.market_id, None, None, "contract")
                rows = (self.ohlcvs or {}).get(symbol, {}).get(self.find_timeframe(kline.interval))
                _klines.set_quote_volume(rows, kline.open_ms, kline.quote)
            return result

    Gated.__name__ = Gated.__qualname__ = f"Gated{base.__name__}"
    return Gated
