"""OKX v5's admission: every request is admitted (weight 1); injected faults answer as OKX refuses.

The rate-limit answer is ``429 {"code": "50011"}`` (a ban looks the same: OKX documents none).
"""

from __future__ import annotations

from signalbots.sim.okx.wire import NO_INSTRUMENT
from signalbots.sim.venue import Fault, FaultKind, Query, Reject


class OkxAdmission:
    def admit(self, path: str, query: Query) -> tuple[float, Reject | None]:
        return 1.0, None

    def headers(self, path: str) -> dict[str, str]:
        return {}

    def fault_answer(self, fault: Fault) -> Reject:
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BAN):
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            return Reject(429, {"msg": "Too Many Requests", "code": "50011"}, headers)
        if fault.kind is FaultKind.BAD_SYMBOL:
            return Reject(200, NO_INSTRUMENT)
        if fault.status >= 500:
            return Reject(
                fault.status,
                {"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []},
            )
        return Reject(fault.status, {"code": "50000", "msg": "Body cannot be empty.", "data": []})
