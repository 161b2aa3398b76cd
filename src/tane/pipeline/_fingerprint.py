"""A node's code fingerprint: its function and the user code it reaches.

Walks from the function through the globals, closures and defaults it uses.
User code (anything outside site-packages and the standard library) counts by
its source text, so editing a helper re-runs the nodes that call it and no
other; a library counts by its installed version, so upgrading pandas re-runs
what uses pandas. Libraries imported inside a function are found from its
``import`` instructions and counted by version without being imported.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import json
import os
import sys
import sysconfig
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

_LIBRARY_ROOTS: tuple[str, ...] | None = None
_versions: dict[str, str] = {}
_memo: dict[int, tuple[Any, str]] = {}
_SIMPLE = (int, float, str, bytes, bool, type(None))


def fingerprint(func: Callable[..., Any]) -> str:
    """Return a hex digest that changes when the code ``func`` runs changes."""
    cached = _memo.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    walker = _Walker()
    walker.visit(func)
    digest = walker.hash.hexdigest()
    _memo[id(func)] = (func, digest)
    return digest


def _library_roots() -> tuple[str, ...]:
    global _LIBRARY_ROOTS
    if _LIBRARY_ROOTS is None:
        paths = sysconfig.get_paths()
        roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        roots |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
        _LIBRARY_ROOTS = tuple(str(Path(r).resolve()) for r in roots if r)
    return _LIBRARY_ROOTS


def is_user_file(path: str | None) -> bool:
    """True for source files that are the user's own (not a library's, not the stdlib)."""
    if not path or not path.endswith(".py"):
        return False
    resolved = str(Path(path).resolve())
    if "site-packages" in resolved or "dist-packages" in resolved:
        return False
    return not resolved.startswith(_library_roots())


def library_version(module_name: str) -> str:
    """``name==version`` of the distribution that provides a top-level module."""
    top = module_name.split(".", 1)[0]
    found = _versions.get(top)
    if found is not None:
        return found
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        found = f"{top} (python {sys.version_info.major}.{sys.version_info.minor})"
    else:
        try:
            found = f"{top}=={metadata.version(top)}"
        except metadata.PackageNotFoundError:
            found = _distribution_version(top)
    _versions[top] = found
    return found


#: A file remembering module -> distribution versions between processes (see use_memo).
_memo_file: Path | None = None
_persisted: dict[str, str] | None = None


def use_memo(path: str | os.PathLike[str] | None) -> None:
    """Remember versions of modules named unlike their distribution (sklearn) in ``path``.

    Finding the distribution of such a module scans every installed package's
    file list (a tenth of a second); the answer is kept per module, folder and
    folder modification time, so installing or removing a package refreshes it.
    """
    global _memo_file, _persisted
    _memo_file = Path(path) if path is not None else None
    _persisted = None


def _distribution_version(top: str) -> str:
    global _persisted
    where = _site_of(top)
    key = f"{top}|{where}"
    if _memo_file is not None and _persisted is None:
        try:
            _persisted = json.loads(_memo_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _persisted = {}
    if _persisted is not None and where and key in _persisted:
        return _persisted[key]
    versions = []
    for dist in _packages_distributions().get(top, []):
        try:
            versions.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    found = ",".join(sorted(set(versions))) or f"{top} (no version)"
    if _memo_file is not None and _persisted is not None and where:
        _persisted[key] = found
        try:
            _memo_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = _memo_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(_persisted), encoding="utf-8")
            os.replace(tmp, _memo_file)
        except OSError:
            pass  # a read-only cache: found again next time
    return found


def _site_of(top: str) -> str:
    """The folder a top-level module is installed in, with its modification time."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return ""
    origin = spec.origin if spec is not None else None
    if not origin:
        return ""
    folder = Path(origin).parent
    site = folder.parent if folder.name == top else folder
    try:
        return f"{site}@{site.stat().st_mtime_ns}"
    except OSError:
        return ""


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


class _Walker:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.seen: set[int] = set()

    def add(self, *parts: str) -> None:
        for part in parts:
            self.hash.update(part.encode("utf-8", "surrogatepass"))
            self.hash.update(b"\x00")

    def visit(self, obj: Any) -> None:
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if isinstance(obj, functools.partial):
            self.add("partial")
            self.visit(obj.func)
            for arg in (*obj.args, *sorted(obj.keywords.items())):
                self.value(arg)
            return
        if isinstance(obj, types.MethodType):
            self.visit(obj.__func__)
            return
        if isinstance(obj, types.FunctionType):
            self.function(obj)
            return
        if isinstance(obj, types.ModuleType):
            self.module(obj)
            return
        if isinstance(obj, type):
            self.cls(obj)
            return
        if callable(obj) and not isinstance(obj, types.BuiltinFunctionType):
            self.instance(obj)  # a callable instance: its class's code and its state
            return
        self.value(obj)

    def function(self, func: types.FunctionType) -> None:
        module = sys.modules.get(func.__module__ or "")
        if not is_user_file(func.__code__.co_filename):
            self.add("lib", library_version(func.__module__ or func.__code__.co_filename))
            return
        try:
            self.add("src", inspect.getsource(func))
        except (OSError, TypeError):
            self.add("code", func.__code__.co_code.hex(), repr(func.__code__.co_consts))
        for default in (*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()):
            self.value(default)
        for cell in func.__closure__ or ():
            try:
                self.visit(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
        globals_ = func.__globals__
        package = getattr(module, "__package__", None) or None
        for name, imported in _names(func.__code__, package):
            if imported:
                self.imported(name, module)
            elif name in globals_:
                self.visit(globals_[name])

    def imported(self, name: str, module: types.ModuleType | None) -> None:
        if not name or name.startswith("."):
            return  # a relative import that could not be resolved: nothing to read
        loaded = sys.modules.get(name)
        if loaded is not None:
            self.module(loaded)
            return
        top = name.split(".", 1)[0]
        if _user_module_file(top) is None:
            self.add("lib", library_version(top))  # found by name, never imported here
            return
        self.add("user-import", name, _read(_user_module_file(name)))

    def module(self, module: types.ModuleType) -> None:
        path = getattr(module, "__file__", None)
        if is_user_file(path):
            assert path is not None
            self.add("module", module.__name__, _read(path))
        else:
            self.add("lib", library_version(module.__name__))

    def cls(self, cls: type) -> None:
        module = sys.modules.get(cls.__module__)
        path = getattr(module, "__file__", None) if module is not None else None
        if not is_user_file(path):
            self.add("lib", library_version(cls.__module__))
            return
        try:
            self.add("class", inspect.getsource(cls))
        except (OSError, TypeError):
            self.add("class", cls.__qualname__)
        for attr in vars(cls).values():
            func = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
            if isinstance(func, types.FunctionType):
                self.visit(func)
        for base in cls.__mro__[1:]:
            if base is not object:
                self.visit(base)

    def value(self, value: Any) -> None:
        if isinstance(value, _SIMPLE):
            self.add("v", repr(value))
        elif isinstance(value, (tuple, list, frozenset, set)):
            self.add("seq", type(value).__name__)
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            for item in items:
                self.value(item)
        elif isinstance(value, dict):
            self.add("dict")
            for key in sorted(value, key=repr):
                self.value(key)
                self.value(value[key])
        elif callable(value) or isinstance(value, (types.ModuleType, type)):
            self.visit(value)
        else:
            self.instance(value)

    def instance(self, value: Any) -> None:
        """An object the code holds (a compiled regex, a config object, an array).

        Its class's code counts (user classes by source, libraries by version),
        and so does its state, by the hash of its pickle (a regex's pattern, a
        timedelta, a dataclass's fields); an object that cannot be pickled
        counts by its repr when that has no memory address in it.
        """
        self.cls(type(value))
        self.add("state", _state_digest(value))


def _names(code: types.CodeType, package: str | None = None) -> list[tuple[str, bool]]:
    """Global names a code object (and the code nested in it) uses; True for imports.

    Relative imports (``from .helpers import f`` inside a function) are resolved
    against ``package`` to the absolute module name.
    """
    import importlib.util

    out: list[tuple[str, bool]] = []
    stack = [code]
    while stack:
        current = stack.pop()
        imports: set[str] = set()
        consts: list[Any] = []
        for ins in dis.get_instructions(current):
            if ins.opname == "LOAD_CONST":
                consts = [*consts[-1:], ins.argval]
                continue
            if ins.opname == "IMPORT_NAME":
                name = str(ins.argval)
                level = consts[0] if len(consts) == 2 and isinstance(consts[0], int) else 0
                fromlist = consts[1] if len(consts) == 2 else None
                if level and package:
                    base = "." * level + name if name else "." * level
                    try:
                        resolved = importlib.util.resolve_name(base, package)
                    except (ImportError, ValueError):
                        resolved = "." + name
                    if not name and isinstance(fromlist, tuple):
                        # `from . import helpers`: each imported name may be a module
                        imports.update(f"{resolved}.{item}" for item in fromlist)
                    else:
                        imports.add(resolved)
                elif level:
                    imports.add("." + name)
                else:
                    imports.add(name)
            consts = []
        names = {ins.argval for ins in dis.get_instructions(current) if ins.opname == "IMPORT_NAME"}
        out.extend((name, True) for name in sorted(imports))
        out.extend((n, False) for n in current.co_names if n not in imports and n not in names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return out


def _state_digest(value: Any) -> str:
    import pickle

    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:
        text = repr(value)
        return "" if " at 0x" in text else text
    return hashlib.sha256(data).hexdigest()


def _user_module_file(name: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return origin if is_user_file(origin) else None


def _read(path: str | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
