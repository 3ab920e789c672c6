"""The Bot API's wire format: ``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code", "description",
"parameters"}`` answers, and request parameters from the query, a JSON body or a form (uploads included)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def ok(result: Any) -> web.Response:
    return _json(200, {"ok": True, "result": result})


def error(status: int, description: str, **parameters: int) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return _json(status, body)


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def read_params(request: web.BaseRequest) -> dict[str, Any]:
    """Every parameter, JSON-looking form values decoded; uploaded files under ``_files``.

    ValueError: the body is not what its content type says."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()  # urlencoded or multipart (uploads arrive as file fields)
            for k, v in form.items():
                if isinstance(v, str):
                    params[k] = v
                elif isinstance(v, web.FileField):
                    files[k] = v.file.read()
    params = {k: _maybe_json(v) for k, v in params.items()}
    params["_files"] = files
    return params


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "user"}
    return {"id": chat_id, "type": "supergroup", "title": "group"}
