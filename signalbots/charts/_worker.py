"""The chart worker process: reads specs on stdin, answers PNG bytes on stdout.

Framing: 4-byte big-endian length, then a pickle (request: a ``ChartSpec``; answer: ``("ok", png)`` or
``("error", text)``). Its address space is capped (``--memory-mb``) so a runaway render fails here with a
MemoryError instead of swelling the daemon's host; the parent kills it when it takes too long.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import struct
import sys
from typing import BinaryIO


def _read(stream: BinaryIO, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _write(stream: BinaryIO, answer: tuple[str, object]) -> None:
    body = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack(">I", len(body)) + body)
    stream.flush()


def main(argv: list[str]) -> int:
    memory_mb = int(argv[argv.index("--memory-mb") + 1]) if "--memory-mb" in argv else 0
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        # Refused under systemd's SystemCallFilter=~@resources: the parent then watches our RSS instead.
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from signalbots.charts.draw import draw

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = _read(stdin, 4)
        if head is None:
            return 0
        body = _read(stdin, struct.unpack(">I", head)[0])
        if body is None:
            return 0
        try:
            png = draw(pickle.loads(body))
        except MemoryError:
            _write(stdout, ("error", f"out of memory (limit {memory_mb} MB)"))
        except Exception as err:  # one bad chart must not end the worker
            _write(stdout, ("error", f"{type(err).__name__}: {err}"[:300]))
        else:
            _write(stdout, ("ok", png))


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main(sys.argv[1:]))
