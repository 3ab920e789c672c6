"""Summarise py-spy's collapsed stacks (``BENCH_PROFILE=DIR python -m benchmarks ...``) as the functions with
the most samples, inclusive ("in") and exclusive ("self"), as shares of all samples.

Run: ``python -m benchmarks.profile_report DIR/<file>.txt [TOP]``
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarise(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (", 1)[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        exclusive[frames[-1]] += n
    rows = [f"{total} samples", f"{'in %':>6} {'self %':>6}  function"]
    for frame, n in inclusive.most_common(top):
        rows.append(f"{n / total:6.1%} {exclusive[frame] / total:6.1%}  {frame}")
    rows.append("-- most self time --")
    for frame, n in exclusive.most_common(top // 2):
        rows.append(f"{inclusive[frame] / total:6.1%} {n / total:6.1%}  {frame}")
    return "\n".join(rows)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
