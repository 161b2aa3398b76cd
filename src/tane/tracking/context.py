"""What a run records about where it came from: git state, command line, environment.

Two entry points, both safe to call from any run and neither raising:

* :func:`capture_tags` is fast (a few milliseconds, dominated by two or three
  ``git`` calls) and returns small string tags to record when the run starts.
* :func:`capture_artifacts` may take longer and returns file contents (the
  uncommitted diff, the installed packages) meant to be uploaded from a
  background thread.

:class:`CaptureSettings` says which of these a run captures; it reads the
``TANE_CAPTURE`` and ``TANE_NO_CAPTURE`` environment variables.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tane.errors import InvalidInput

__all__ = [
    "CAPTURE_ENV",
    "NO_CAPTURE_ENV",
    "CaptureSettings",
    "capture_artifacts",
    "capture_tags",
    "strip_credentials",
]

CAPTURE_ENV = "TANE_CAPTURE"
NO_CAPTURE_ENV = "TANE_NO_CAPTURE"

GIT_TIMEOUT = 2.0
# `git diff` over a large working tree can take longer than the status calls; it
# runs in a background thread, so a longer limit costs the training loop nothing.
GIT_DIFF_TIMEOUT = 10.0
MAX_DIFF_BYTES = 5 * 1024 * 1024
MAX_UNTRACKED_LISTED = 1000

_TAG_PREFIX = "tane."


@dataclass(frozen=True)
class CaptureSettings:
    """Which context a run captures automatically.

    Attributes:
        git: Commit, branch, dirty flag, remote and the uncommitted diff.
        environment: Python version, platform, host and user.
        packages: The installed distributions as ``requirements.txt``.
        logs: What the run prints (stdout, stderr, logging).
        system_metrics: CPU, memory, disk and GPU use, sampled periodically.
    """

    git: bool = True
    environment: bool = True
    packages: bool = True
    logs: bool = True
    system_metrics: bool = True

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Return the valid capture names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_value(
        cls,
        value: bool | Iterable[str] | Mapping[str, bool] | CaptureSettings | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CaptureSettings:
        """Build settings from a user argument and the environment.

        ``True`` or ``None`` switches everything on, then applies the environment:
        ``TANE_CAPTURE`` (a comma list of what is on, or ``all``/``none``) and
        then ``TANE_NO_CAPTURE`` (a comma list of what is off). ``False``
        switches everything off. An iterable of names (or one comma-separated
        string) switches only those on. A mapping overrides single names on top
        of the environment. An explicit argument always wins over the environment.

        Args:
            value: The ``capture=`` argument a user passed; settings are
                returned as they are.
            environ: The environment to read; ``os.environ`` if None.

        Returns:
            The resulting settings.

        Raises:
            InvalidInput: A name is unknown, or a mapping value is not a bool.

        Example:
            >>> CaptureSettings.from_value(["git"], environ={}).packages
            False
            >>> CaptureSettings.from_value(None, environ={"TANE_NO_CAPTURE": "logs"}).logs
            False
        """
        names = cls.names()
        if isinstance(value, CaptureSettings):
            return value
        if value is None or value is True:
            return cls(**_flags_from_environ(os.environ if environ is None else environ))
        if value is False:
            return cls(**dict.fromkeys(names, False))
        if isinstance(value, Mapping):
            flags = _flags_from_environ(os.environ if environ is None else environ)
            for key, flag in value.items():
                (name,) = _check_names([key], "capture argument")
                if not isinstance(flag, bool):
                    raise InvalidInput(
                        f"capture argument: {key!r} must map to True or False, "
                        f"got {flag!r} — pass e.g. {{{name!r}: False}}"
                    )
                flags[name] = flag
            return cls(**flags)
        if isinstance(value, str):
            items: list[object] = list(_split_names(value))
        elif isinstance(value, Iterable):
            items = list(value)
        else:
            raise InvalidInput(
                f"capture argument: expected True, False, a list of names or a mapping, "
                f"got {value!r} — valid names are {', '.join(names)}"
            )
        # An explicit list names exactly what is on; the environment does not
        # apply because the caller was explicit.
        on = _check_names(items, "capture argument")
        return cls(**{name: name in on for name in names})


def _split_names(text: str) -> list[str]:
    return [part for part in (p.strip() for p in text.split(",")) if part]


def _normalize(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _check_names(items: Iterable[object], source: str) -> list[str]:
    """Return the normalized names; raise InvalidInput naming any unknown one."""
    valid = CaptureSettings.names()
    names: list[str] = []
    unknown: list[str] = []
    for item in items:
        name = _normalize(item) if isinstance(item, str) else None
        if name is not None and name in valid:
            names.append(name)
        else:
            unknown.append(repr(item))
    if unknown:
        raise InvalidInput(
            f"{source}: unknown capture name(s) {', '.join(unknown)} — "
            f"valid names are {', '.join(valid)}"
        )
    return names


def _flags_from_environ(environ: Mapping[str, str]) -> dict[str, bool]:
    valid = CaptureSettings.names()
    flags = dict.fromkeys(valid, True)
    capture = environ.get(CAPTURE_ENV, "").strip()
    if capture:
        keyword = capture.lower()
        if keyword == "all":
            pass
        elif keyword == "none":
            flags = dict.fromkeys(valid, False)
        else:
            on = _check_names(_split_names(capture), f"environment variable {CAPTURE_ENV}")
            flags = {name: name in on for name in valid}
    no_capture = environ.get(NO_CAPTURE_ENV, "").strip()
    if no_capture:
        keyword = no_capture.lower()
        if keyword == "all":
            flags = dict.fromkeys(valid, False)
        elif keyword != "none":
            off = _check_names(_split_names(no_capture), f"environment variable {NO_CAPTURE_ENV}")
            for name in off:
                flags[name] = False
    return flags


# --------------------------------------------------------------------------- git


class _GitTimeout(Exception):
    """A git call exceeded its time limit (the repository may be huge)."""


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # `git status` otherwise refreshes the index and takes .git/index.lock, which
    # can make a user's concurrent `git commit` fail with "index.lock exists".
    env["GIT_OPTIONAL_LOCKS"] = "0"
    # Never wait for a credential or pager prompt from inside a training run.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_PAGER"] = "cat"
    return env


def _git(args: list[str], cwd: str, timeout: float | None = None) -> bytes | None:
    """Return git's stdout, or None if git is missing, fails or this is no repo.

    Raises:
        _GitTimeout: git ran longer than ``timeout`` seconds.
    """
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT if timeout is None else timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _GitTimeout from exc
    except (OSError, ValueError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout


@dataclass(frozen=True)
class _GitState:
    root_dir: str
    commit: str | None
    branch: str | None
    dirty: bool | None


def _parse_status(out: bytes) -> tuple[str | None, str | None, bool]:
    commit: str | None = None
    branch: str | None = None
    dirty = False
    entries = out.split(b"\0")
    i = 0
    while i < len(entries):
        entry = entries[i].decode("utf-8", "surrogateescape")
        i += 1
        if not entry:
            continue
        if entry.startswith("# branch.oid "):
            oid = entry[len("# branch.oid ") :]
            commit = None if oid.startswith("(") else oid
        elif entry.startswith("# branch.head "):
            head = entry[len("# branch.head ") :]
            branch = None if head.startswith("(") else head
        elif entry.startswith("#"):
            continue
        else:
            dirty = True
            if entry.startswith("2 "):
                i += 1  # a rename entry is followed by its original path
    return commit, branch, dirty


def _git_state_at(directory: str) -> _GitState | None:
    """Return the git state of the repository holding ``directory``, or None."""
    try:
        out = _git(["status", "--porcelain=v2", "--branch", "-z"], directory)
    except _GitTimeout:
        # A huge working tree: the dirty flag is unknown, but commit and branch
        # come from cheap lookups that do not scan the tree.
        try:
            head = _git(["rev-parse", "--verify", "-q", "HEAD"], directory)
            ref = _git(["symbolic-ref", "-q", "--short", "HEAD"], directory)
        except _GitTimeout:
            return None
        if head is None and ref is None:
            return None
        return _GitState(
            root_dir=directory,
            commit=(head.decode().strip() or None) if head else None,
            branch=(ref.decode("utf-8", "replace").strip() or None) if ref else None,
            dirty=None,
        )
    if out is None:
        return None
    commit, branch, dirty = _parse_status(out)
    return _GitState(root_dir=directory, commit=commit, branch=branch, dirty=dirty)


def _candidate_dirs(cwd: str | None) -> list[str]:
    if cwd is not None:
        return [cwd]
    # The code version that matters is the one of the script being run, which
    # may live in a repository other than the working directory
    # (`python ~/proj/train.py` from a data folder).
    dirs: list[str] = []
    source = _source()
    if _is_user_script(source):
        dirs.append(os.path.dirname(source))
    try:
        here = os.getcwd()
    except OSError:
        here = None
    if here is not None and here not in dirs:
        dirs.append(here)
    return dirs


def _is_user_script(source: str) -> bool:
    """True for a script of the user's; False for tools (the tane CLI, console scripts).

    A run started by a tool (`tane demo`, `python -m tane ...`, an entry point in
    a virtual environment's bin folder) belongs to the working directory's code.
    """
    if not (os.path.isabs(source) and os.path.isfile(source)):
        return False
    if not source.endswith((".py", ".pyw", ".ipynb")):
        return False
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if source.startswith(package_dir + os.sep):
        return False
    return "site-packages" not in source.split(os.sep)


def _git_state(cwd: str | None) -> _GitState | None:
    for directory in _candidate_dirs(cwd):
        state = _git_state_at(directory)
        if state is not None:
            return state
    return None


def strip_credentials(url: str) -> str:
    """Return ``url`` without a password or access token in its user part.

    ``https://user:token@host/x.git`` and ``https://token@host/x.git`` become
    ``https://host/x.git``; ``ssh://git@host/x`` and ``git@host:x.git`` keep the
    login name because it is not a secret.

    Example:
        >>> strip_credentials("https://bob:s3cret@example.com/r.git")
        'https://example.com/r.git'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or "@" not in parts.netloc:
        return url  # scp-like `user@host:path` carries no password
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo or parts.scheme.lower() in {"http", "https", "ftp", "ftps"}:
        # Over http(s) a lone user part is usually a token (`https://ghp_x@github.com`).
        netloc = hostport
    else:
        netloc = parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _git_remote(directory: str) -> str | None:
    try:
        out = _git(["remote", "get-url", "origin"], directory)
    except _GitTimeout:
        return None
    if not out:
        return None
    url = out.decode("utf-8", "replace").strip()
    return strip_credentials(url) if url else None


# ---------------------------------------------------------------- command line


def _source() -> str:
    """Return the absolute path of the running script, or a ``<...>`` marker."""
    argv: list[str] = getattr(sys, "argv", None) or [""]
    argv0 = str(argv[0])
    if argv0 == "-c":
        return "<string>"
    if argv0 in ("", "-"):
        interactive = hasattr(sys, "ps1") or bool(sys.flags.interactive)
        if not interactive:
            try:
                interactive = argv0 == "" and sys.stdin is not None and sys.stdin.isatty()
            except (AttributeError, ValueError, OSError):
                interactive = False
        return "<interactive>" if interactive else "<stdin>"
    if os.path.basename(argv0) == "ipykernel_launcher.py":
        return "<interactive>"
    if os.path.isabs(argv0):
        return argv0
    # __main__.__file__ is absolute since Python 3.9 and stays right after an
    # os.chdir(), which would make abspath(argv0) point elsewhere.
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if (
        isinstance(main_file, str)
        and os.path.isabs(main_file)
        and os.path.basename(main_file) == os.path.basename(argv0)
    ):
        return main_file
    return os.path.abspath(argv0)


def _command() -> str:
    """Return the command line as the user typed it, without the interpreter path."""
    orig = getattr(sys, "orig_argv", None)
    tokens = list(orig[1:]) if orig else list(getattr(sys, "argv", None) or [])
    if not tokens or tokens[0].startswith("-"):
        # Interpreter options (`-m x`, `-c ...`, `-u train.py`) read best with
        # the interpreter named, but not its machine-specific path.
        return shlex.join(["python", *tokens])
    script = tokens[0]
    # A console script (`tane run`, `train --lr 1`) arrives as its full path;
    # show the name the user typed when that is what PATH resolves to.
    if os.path.isabs(script):
        name = os.path.basename(script)
        found = shutil.which(name)
        if found is not None and os.path.abspath(found) == script:
            tokens[0] = name
    return shlex.join(tokens)


# ----------------------------------------------------------------- environment


def _environment_tags() -> dict[str, str]:
    import getpass
    import platform
    import socket

    tags: dict[str, str] = {}
    getters = {
        "python": platform.python_version,
        "platform": platform.platform,
        "host": socket.gethostname,
        "user": getpass.getuser,
    }
    for key, getter in getters.items():
        try:
            tags[_TAG_PREFIX + key] = getter()
        except Exception:  # noqa: S112
            # getpass.getuser() fails in containers whose uid has no passwd
            # entry; a missing tag is better than a failed run.
            continue
    return tags


def capture_tags(settings: CaptureSettings, cwd: str | None = None) -> dict[str, str]:
    """Return the ``tane.*`` tags describing where this run comes from. Never raises.

    Tags: ``tane.source``, ``tane.command`` and ``tane.pid`` always;
    ``tane.git.commit``, ``tane.git.branch``, ``tane.git.dirty`` (``"true"``/
    ``"false"``) and ``tane.git.remote`` (origin, credentials stripped) when
    ``settings.git`` and a repository is found; ``tane.python``,
    ``tane.platform``, ``tane.host`` and ``tane.user`` when
    ``settings.environment``. A tag whose value cannot be found is left out.

    Args:
        settings: What to capture.
        cwd: Directory whose repository is described. If None, the running
            script's directory, then the working directory.

    Returns:
        Tag names mapped to values.
    """
    parts: list[Callable[[], dict[str, str]]] = [
        lambda: {"tane.source": _source()},
        lambda: {"tane.command": _command()},
        lambda: {"tane.pid": str(os.getpid())},
    ]
    if settings.git:
        parts.append(lambda: _git_tags(cwd))
    if settings.environment:
        parts.append(_environment_tags)
    tags: dict[str, str] = {}
    for part in parts:
        try:
            tags.update(part())
        except Exception:  # noqa: S112
            continue  # context is a nicety: a missing tag must never fail the run
    return tags


def _git_tags(cwd: str | None) -> dict[str, str]:
    state = _git_state(cwd)
    if state is None:
        return {}
    tags: dict[str, str] = {}
    if state.commit:
        tags["tane.git.commit"] = state.commit
    if state.branch:
        tags["tane.git.branch"] = state.branch
    if state.dirty is not None:
        tags["tane.git.dirty"] = "true" if state.dirty else "false"
    remote = _git_remote(state.root_dir)
    if remote:
        tags["tane.git.remote"] = remote
    return tags


# ------------------------------------------------------------------- artifacts


def _read_capped(args: list[str], cwd: str, limit: int, timeout: float) -> tuple[bytes, bool]:
    """Run git and return (at most ``limit`` bytes of stdout, whether more came).

    Streams instead of buffering so that a diff of a huge tracked data file
    cannot take gigabytes of memory; a timer kills git past ``timeout``.

    Raises:
        OSError: git cannot be started.
        _GitTimeout: git was killed after ``timeout`` seconds.
    """
    proc = subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env=_git_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        data = proc.stdout.read(limit + 1)
        truncated = len(data) > limit
        if truncated:
            proc.kill()
        proc.stdout.close()
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if timed_out.is_set():
        raise _GitTimeout
    if returncode != 0 and not truncated:
        return b"", False
    return data[:limit], truncated


def _untracked(directory: str) -> list[bytes]:
    try:
        out = _git(["ls-files", "--others", "--exclude-standard", "--directory", "-z"], directory)
    except _GitTimeout:
        return []
    return [p for p in (out or b"").split(b"\0") if p]


def _empty_tree(directory: str) -> str | None:
    # The empty tree's id depends on the repository's hash (SHA-1 or SHA-256).
    try:
        out = _git(["hash-object", "-t", "tree", "--stdin"], directory)
    except _GitTimeout:
        return None
    return out.decode().strip() if out else None


def _git_diff(directory: str, state: _GitState) -> bytes | None:
    base = state.commit or _empty_tree(directory)
    if base is None:
        return None
    # Flags make the output a plain applicable patch whatever the user's config:
    # no colour, no external diff tool, no textconv filters.
    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", base]
    try:
        patch, truncated = _read_capped(args, directory, MAX_DIFF_BYTES, GIT_DIFF_TIMEOUT)
    except (_GitTimeout, OSError):
        return None
    untracked = _untracked(directory)

    header = [f"# tane: `git diff {state.commit or 'HEAD'}` of the working tree".encode()]
    if state.commit is None:
        header.append(b"# tane: the repository has no commit yet; diff against the empty tree")
    if untracked:
        header.append(b"# tane: untracked files, not in this diff:")
        for path in untracked[:MAX_UNTRACKED_LISTED]:
            header.append(b"#   " + path.replace(b"\n", b"\\n"))
        if len(untracked) > MAX_UNTRACKED_LISTED:
            more = len(untracked) - MAX_UNTRACKED_LISTED
            header.append(f"#   ... and {more} more".encode())
    text = b"\n".join(header) + b"\n"
    if truncated:
        # Cut at a line end so the kept part stays a readable patch.
        cut = patch.rfind(b"\n")
        patch = patch[: cut + 1] if cut >= 0 else patch
        patch += (
            f"# tane: diff truncated after {MAX_DIFF_BYTES} bytes; the rest was not recorded\n"
        ).encode()
    return text + patch


def _requirements() -> bytes:
    """Every installed distribution as ``name==version`` lines (remembered: tane._memo)."""
    from tane._memo import remembered

    return remembered("requirements.txt", _list_distributions)


def _list_distributions() -> bytes:
    from importlib import metadata

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
            version = dist.version
        except Exception:  # noqa: S112
            continue  # a broken install's metadata must not stop the listing
        if not name or not version:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        # distributions() follows sys.path order, so the first one found is
        # the one `import` uses; later duplicates are shadowed copies.
        seen.setdefault(key, f"{name}=={version}")
    lines = [seen[key] for key in sorted(seen)]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def capture_artifacts(settings: CaptureSettings, cwd: str | None = None) -> dict[str, bytes]:
    """Return files describing the run's code and environment. Never raises.

    Slower than :func:`capture_tags` (it diffs the working tree and reads every
    installed package's metadata); call it from a background thread.

    Files:
        ``git.diff``: when ``settings.git`` and the working tree is dirty, the
        ``git diff HEAD`` patch, preceded by comment lines naming the untracked
        files, capped at 5 MiB (``MAX_DIFF_BYTES``) with a truncation note.
        ``requirements.txt``: when ``settings.packages``, every installed
        distribution as ``name==version``, sorted by name.

    Args:
        settings: What to capture.
        cwd: Directory whose repository is described. If None, the running
            script's directory, then the working directory.

    Returns:
        Artifact file names mapped to their contents.
    """
    files: dict[str, bytes] = {}
    if settings.git:
        try:
            state = _git_state(cwd)
            if state is not None and state.dirty:
                diff = _git_diff(state.root_dir, state)
                if diff is not None:
                    files["git.diff"] = diff
        except Exception:  # noqa: S110
            pass
    if settings.packages:
        try:
            requirements = _requirements()
            if requirements:
                files["requirements.txt"] = requirements
        except Exception:  # noqa: S110
            pass
    return files
