"""ccxt with only the venue registry's exchanges loaded: ~50 MB less than a plain ``import ccxt.pro``.

``import ccxt.pro`` runs three package ``__init__``s (``ccxt``, ``ccxt.async_support``, ``ccxt.pro``) that
import every exchange ccxt has — about a hundred modules each, sync, async and websocket — though the daemon
drives only the registry's (``venues.VENUES``). Here those three ``__init__``s run without their
``from ccxt[.async_support|.pro].<id> import <id>`` lines (a meta-path loader used for those three modules
only; ccxt's files are not touched), then each registry exchange is imported in ``async_support`` and ``pro``,
with what it imports itself (binance for binanceusdm). Every other name the packages define (the errors,
``Exchange``, ``exchanges``, ``TRUNCATE``, ``decimal_to_precision``…) is ccxt's own, and an exchange left out
is imported on first access (``ccxt.pro.kraken``), so the packages still answer as ccxt's do.

If ccxt is already imported (a test or a script did it first) it is used as it is. If the filtered packages
do not come out whole — an ``__init__`` with nothing to filter, one that fails without those lines, a registry
exchange missing — ccxt's layout has changed: the partial modules are dropped and ccxt is imported in full,
with one ``ccxt_full_import`` warning. The daemon then holds ~50 MB more, and nothing else changes.

``gateway.py`` and ``_ccxt.py`` take ``ccxt`` from here, so this runs before ccxt's first import in a
daemon; ``check-config`` imports neither.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog

from signalbots.exchange.venues import VENUES

__all__ = ["ccxt", "full_import_reason", "import_ccxt"]

_log = structlog.get_logger(__name__)

# The subpackages whose exchange classes the daemon drives: ccxt.pro's classes extend async_support's.
_DRIVEN = ("async_support", "pro")
# root → why it was imported in full; process-wide, as sys.modules is
_FULL_IMPORTS: dict[str, str] = {}


def _read(path: str) -> str:
    return importlib.util.decode_source(Path(path).read_bytes())


def import_ccxt(
    *,
    root: str = "ccxt",
    exchanges: Iterable[str] | None = None,
    read: Callable[[str], str] = _read,
    log: bool = True,
) -> ModuleType:
    """``root`` (ccxt) with ``root.async_support`` and ``root.pro`` imported, each holding only ``exchanges``
    (default: the venue registry's ids) and what they import; the full packages if ``root`` was imported
    already or its layout is not the one expected (see the module's docstring). ``read``: a source file's
    text. ``log``: warn of a full import here (else the caller asks ``full_import_reason`` later)."""
    wanted = tuple(VENUES) if exchanges is None else tuple(exchanges)
    packages = (root, *(f"{root}.{sub}" for sub in _DRIVEN))
    if root in sys.modules:
        return _import_full(packages)
    loader = _FilteredInit(packages, read)
    sys.meta_path.insert(0, loader)
    try:
        reason = _import_filtered(loader, packages, wanted)
    finally:
        sys.meta_path.remove(loader)
    if reason is None:
        return sys.modules[root]
    for name in [n for n in sys.modules if n == root or n.startswith(f"{root}.")]:
        del sys.modules[name]
    _FULL_IMPORTS[root] = reason
    if log:
        _log.warning("ccxt_full_import", reason=reason, exchanges=list(wanted))
    return _import_full(packages)


def full_import_reason(root: str = "ccxt") -> str | None:
    """Why ``import_ccxt`` imported ``root`` in full, or None if it trimmed it (or was not asked)."""
    return _FULL_IMPORTS.get(root)


def _import_full(packages: Sequence[str]) -> ModuleType:
    for name in packages:
        importlib.import_module(name)
    return sys.modules[packages[0]]


def _import_filtered(loader: _FilteredInit, packages: Sequence[str], wanted: Sequence[str]) -> str | None:
    """None once the filtered packages hold every wanted exchange; else why they cannot be used."""
    try:
        for name in packages:
            importlib.import_module(name)
        unfiltered = [name for name in packages if not loader.removed.get(name)]
        if unfiltered:
            return f"no exchange import found to leave out in {', '.join(unfiltered)}"
        for name in packages:
            _import_on_access(sys.modules[name], packages)
        for name in packages[1:]:  # async_support first: ccxt.pro's classes extend its classes by attribute
            for exchange in wanted:
                importlib.import_module(f"{name}.{exchange}")
                _bind_classes(packages)
    except Exception as err:  # whatever the new layout broke, the full import is the answer
        return f"{type(err).__name__}: {err}"
    missing = [
        f"{name}.{exchange}"
        for name in packages[1:]
        for exchange in wanted
        if not isinstance(vars(sys.modules[name]).get(exchange), type)
    ]
    return f"not an exchange class: {', '.join(missing)}" if missing else None


def _bind_classes(packages: Sequence[str]) -> None:
    """Importing ``pkg.<id>`` binds the module to ``pkg.<id>``; ccxt's ``__init__`` binds the class there."""
    for package in [sys.modules[name] for name in packages if name in sys.modules]:
        for exchange in vars(package).get("exchanges", ()):
            module = vars(package).get(exchange)
            if isinstance(module, ModuleType) and isinstance(vars(module).get(exchange), type):
                setattr(package, exchange, vars(module)[exchange])


def _import_on_access(package: ModuleType, packages: Sequence[str]) -> None:
    """An exchange the filter left out is imported when first asked for, as ccxt would have it (PEP 562)."""

    def __getattr__(name: str) -> Any:
        if name not in vars(package).get("exchanges", ()):
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
        importlib.import_module(f"{package.__name__}.{name}")
        _bind_classes(packages)
        return vars(package)[name]

    vars(package)["__getattr__"] = __getattr__


class _FilteredInit(MetaPathFinder, Loader):
    """Finds the packages named at construction where the path finder would, and runs each ``__init__``
    without its ``from <package>.<id> import <id>`` lines (blank, so that line numbers stay ccxt's)."""

    def __init__(self, packages: Sequence[str], read: Callable[[str], str]) -> None:
        self._packages = frozenset(packages)
        self._read = read
        self.removed: dict[str, int] = {}  # package → exchange imports left out of its __init__

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self._packages:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            return None  # not a package on disk: left to the other finders, and counted as unfiltered
        spec.loader = self
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        origin = module.__spec__.origin if module.__spec__ is not None else None
        if origin is None:
            raise ImportError(f"{module.__name__}: no source file")
        one_exchange = re.compile(rf"^from {re.escape(module.__name__)}\.(\w+) import \1\b")
        lines = self._read(origin).splitlines()
        kept = ["" if one_exchange.match(line) else line for line in lines]
        self.removed[module.__name__] = sum(1 for a, b in zip(lines, kept, strict=True) if a != b)
        exec(compile("\n".join(kept), origin, "exec"), vars(module))


# At import, before the daemon's log settings apply: app.py logs a fallback once they do.
import_ccxt(log=False)
# After import_ccxt: these find the packages it made (or the full ones) in sys.modules.
import ccxt  # noqa: E402
import ccxt.pro  # noqa: E402
