"""Where a dataset's bytes live: local folders and every fsspec file system.

How a save stays atomic, per file system:

- local paths and ``file://``: the writer fills a temporary file in the target's
  own folder, which is fsync'ed and renamed over the target with ``os.replace``
  (atomic on POSIX and Windows); a failed write deletes the temporary file.
- object stores (``s3://``, ``gs://``, ``az://``, ``abfs://`` ...): the writer
  fills a local temporary file; only a complete file is uploaded, in one PUT or
  one multipart upload, and the store swaps the object in at once. Readers see
  the old object or the new one, never a part.
- ``memory://``: the same, the finished bytes put in one call.
- other remote file systems (``sftp://``, ``hdfs://`` ...): the finished file is
  uploaded next to the target under a hidden temporary name, then moved over it
  with ``fs.mv`` (a rename on the server).

fsspec is imported inside the functions that need it, never at import.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

CHUNK = 1 << 20

# Object stores replace an object in one step when its upload completes.
_ATOMIC_PUT = frozenset(
    {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss", "r2", "memory"}
)
# Keys of fs_args whose values are secrets (redacted from every message).
_SECRET_KEYS = re.compile(
    r"(key|secret|token|password|passwd|pass|credential|sas|auth|signature|connection|con$)",
    re.IGNORECASE,
)
# Keys of credentials that configure rather than authenticate: their values may
# show (a bucket's project, an endpoint), unless a key below them looks secret.
_PLAIN_KEYS = frozenset(
    {
        "client_kwargs",
        "config_kwargs",
        "endpoint_url",
        "region_name",
        "region",
        "project",
        "anon",
        "use_ssl",
        "requester_pays",
        "skip_instance_cache",
        "use_listings_cache",
        "listings_expiry_time",
        "default_block_size",
        "default_fill_cache",
        "version_aware",
        "account_name",
        "timeout",
        "verify",
    }
)
_URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^@/\s]+)@")
# fsspec.open arguments that only make sense for text; text datasets take them.
TEXT_ARGS = ("encoding", "errors", "newline")


def is_local(url: str) -> bool:
    """Return True for a plain path or a ``file://`` URL."""
    return "://" not in url or url.startswith("file://")


def protocol_of(url: str) -> str:
    """Return the protocol of a URL (``file`` for a local path)."""
    return "file" if is_local(url) else url.split("://", 1)[0].split("::", 1)[0].lower()


def resolve_url(url: str, base_dir: str | os.PathLike[str] | None) -> str:
    """Return ``url`` with a relative local path made absolute against ``base_dir`` (or cwd).

    Remote URLs are returned as given, without a trailing slash.
    """
    url = os.fspath(url)
    if not is_local(url):
        return url.rstrip("/") if not url.endswith("://") else url
    if url.startswith("file://"):
        url = url[len("file://") :]
    path = os.path.expanduser(url)
    if not os.path.isabs(path):
        path = os.path.join(os.fspath(base_dir) if base_dir is not None else os.getcwd(), path)
    return os.path.normpath(path)


def join(url: str, *parts: str) -> str:
    """Join path parts below a URL or local path."""
    if is_local(url):
        return os.path.join(url, *parts)
    return posixpath.join(url, *parts)


def split(url: str) -> tuple[str, str]:
    """Return (parent, basename) of a URL or local path."""
    if is_local(url):
        return os.path.dirname(url), os.path.basename(url)
    protocol, rest = url.split("://", 1)
    head, _, name = rest.rstrip("/").rpartition("/")
    return f"{protocol}://{head}", name


def storage_options(
    credentials: Mapping[str, Any] | None, fs_args: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split Kedro-style ``fs_args`` into (storage options, open args load, open args save).

    Credentials are storage options too; ``fs_args`` win over them on a clash.
    A ``mode`` in the open args is dropped: each dataset knows how it opens files.
    """
    options: dict[str, Any] = dict(credentials or {})
    fs = dict(fs_args or {})
    load = dict(fs.pop("open_args_load", None) or {})
    save = dict(fs.pop("open_args_save", None) or {})
    load.pop("mode", None)
    save.pop("mode", None)
    options.update(fs)
    return options, load, save


def secrets_of(credentials: Any, fs_args: Any = None) -> frozenset[str]:
    """Return the strings that must never appear in a message or a description.

    Every string in the credentials but the settings that are not secret
    (``endpoint_url``, ``region_name``, ``project`` ...), the secret-looking values
    of ``fs_args`` (``key``, ``secret``, ``token`` ...), and the password of any
    URL among them.
    """
    found: set[str] = set()

    def walk(value: Any, everything: bool) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                name = str(key)
                if _SECRET_KEYS.search(name):
                    walk(item, True)
                else:
                    walk(item, everything and name not in _PLAIN_KEYS)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, everything)
        elif isinstance(value, str):
            for match in _URL_PASSWORD.finditer(value):
                found.add(match.group(1))
            if everything and len(value) >= 4:
                found.add(value)

    walk(credentials, True)
    walk(fs_args, False)
    return frozenset(found)


def redact(text: str, secrets: frozenset[str]) -> str:
    """Return ``text`` with every secret replaced by ``***`` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(lambda m: m.group(0).replace(m.group(1), "***"), text)


class Storage:
    """One file system (created on first use) and the operations datasets need."""

    def __init__(self, url: str, options: Mapping[str, Any]) -> None:
        self.local = is_local(url)
        self.protocol = protocol_of(url)
        self._url = url
        self._options = dict(options)
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The fsspec file system."""
        if self._fs is None:
            import fsspec

            if self.local:
                self._fs = fsspec.filesystem("file")
            else:
                self._fs, _ = fsspec.core.url_to_fs(self._url, **self._options)
        return self._fs

    def url_of(self, native: str) -> str:
        """Return the URL of a path as the file system lists it."""
        if self.local:
            return os.path.normpath(native)
        url: str = self.fs.unstrip_protocol(native)
        return url

    def native(self, url: str) -> str:
        """Return the file system's own path of a URL."""
        if self.local:
            return url
        path: str = self.fs._strip_protocol(url)
        return path

    def refresh(self, url: str) -> None:
        """Forget listings cached by the file system (another process may have written)."""
        if not self.local:
            self.fs.invalidate_cache(self.native(url))

    # -- reading -------------------------------------------------------------------

    @contextlib.contextmanager
    def open_read(self, url: str, open_args: Mapping[str, Any]) -> Iterator[BinaryIO]:
        """Open a file for reading bytes; FileNotFoundError if it is missing."""
        if self.local and not open_args:
            with open(url, "rb") as fh:
                yield fh
            return
        with self.fs.open(self.native(url), "rb", **open_args) as fh:
            yield fh

    def exists(self, url: str) -> bool:
        """Return True if a file is at ``url``."""
        if self.local:
            return os.path.isfile(url)
        self.refresh(url)
        return bool(self.fs.isfile(self.native(url)))

    def stat(self, url: str) -> tuple[Any, ...] | None:
        """Return (size, mtime_ns) locally, (size, ETag or mtime) remotely; None if missing."""
        if self.local:
            try:
                st = os.stat(url)
            except FileNotFoundError:
                return None
            return (st.st_size, st.st_mtime_ns)
        self.refresh(url)
        try:
            info = self.fs.info(self.native(url))
        except FileNotFoundError:
            return None
        tag = None
        for key in ("ETag", "etag", "md5Hash", "mtime", "LastModified", "last_modified", "created"):
            if info.get(key) is not None:
                tag = info[key]
                break
        if tag is not None and not isinstance(tag, str | int | float):
            tag = str(tag)
        return (int(info.get("size") or 0), tag)

    def sha256(self, url: str) -> str | None:
        """Return the sha256 hex of the stored bytes, streamed; None if missing."""
        digest = hashlib.sha256()
        try:
            with self.open_read(url, {}) as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def files(self, url: str, **find_args: Any) -> list[str]:
        """Return the URLs of every file below a folder, sorted; [] if it is missing."""
        if self.local and not find_args:
            if not os.path.isdir(url):
                return []
            return sorted(os.path.join(root, n) for root, _, names in os.walk(url) for n in names)
        self.refresh(url)
        native = self.native(url)
        if not self.fs.isdir(native):
            return []
        args = {"withdirs": False, **find_args}
        return sorted(self.url_of(p) for p in self.fs.find(native, **args))

    def subfolders(self, url: str) -> list[str]:
        """Return the names of the folders directly below ``url``."""
        if self.local:
            try:
                with os.scandir(url) as it:
                    return [e.name for e in it if e.is_dir()]
            except (FileNotFoundError, NotADirectoryError):
                return []
        self.refresh(url)
        native = self.native(url).rstrip("/")
        try:
            entries = self.fs.ls(native, detail=True)
        except FileNotFoundError:
            return []
        return [
            posixpath.basename(str(e["name"]).rstrip("/"))
            for e in entries
            if e.get("type") == "directory"
        ]

    # -- writing -------------------------------------------------------------------

    def write(
        self, url: str, writer: Callable[[BinaryIO], None], open_args: Mapping[str, Any]
    ) -> None:
        """Write a file atomically: the writer fills a temporary file that then replaces ``url``.

        A writer that raises leaves no file behind and the old content intact.
        """
        if self.local:
            self._write_local(url, writer, open_args)
        else:
            self._write_remote(url, writer, open_args)

    def _fill(self, tmp: str, writer: Callable[[BinaryIO], None], args: Mapping[str, Any]) -> None:
        if args:
            import fsspec

            with fsspec.filesystem("file").open(tmp, "wb", **args) as fh:
                writer(fh)
        else:
            with open(tmp, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())

    def _write_local(
        self, url: str, writer: Callable[[BinaryIO], None], args: Mapping[str, Any]
    ) -> None:
        parent, name = split(url)
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            self._fill(tmp, writer, args)
            os.replace(tmp, url)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _write_remote(
        self, url: str, writer: Callable[[BinaryIO], None], args: Mapping[str, Any]
    ) -> None:
        fd, tmp = tempfile.mkstemp(prefix="tane-dataset-", suffix=".tmp")
        os.close(fd)
        try:
            self._fill(tmp, writer, args)
            self.upload(tmp, url)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def upload(self, local: str, url: str) -> None:
        """Put a finished local file at a remote URL so readers never see a part of it."""
        fs = self.fs
        target = self.native(url)
        parent = posixpath.dirname(target)
        if self.protocol == "memory":
            with open(local, "rb") as fh:
                fs.pipe_file(target, fh.read())
        elif self.protocol in _ATOMIC_PUT:
            fs.put_file(local, target)
        else:
            name = f".{posixpath.basename(target)}.{uuid.uuid4().hex[:12]}.tmp"
            tmp = posixpath.join(parent, name)
            try:
                fs.put_file(local, tmp)
                fs.mv(tmp, target)
            except BaseException:
                with contextlib.suppress(Exception):
                    fs.rm(tmp)
                raise
        fs.invalidate_cache(parent)

    def move(self, src: str, dst: str) -> None:
        """Move a file within this file system (a rename locally)."""
        if self.local:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
            return
        self.fs.mv(self.native(src), self.native(dst))
        self.fs.invalidate_cache(posixpath.dirname(self.native(dst)))

    def remove(self, url: str, recursive: bool = False) -> None:
        """Delete a file (or a folder with ``recursive``); missing is fine."""
        if self.local:
            if os.path.isdir(url) and recursive:
                import shutil

                shutil.rmtree(url, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(url)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.native(url), recursive=recursive)
        self.fs.invalidate_cache(posixpath.dirname(self.native(url)))

    def make_folder_exclusive(self, url: str) -> bool:
        """Create a folder; return False if it already exists (the version lock)."""
        if self.local:
            os.makedirs(os.path.dirname(url), exist_ok=True)
            try:
                os.mkdir(url)
            except FileExistsError:
                return False
            return True
        # Object stores have no folders to lock; a version folder that has any
        # file is taken.
        return not self.fs.exists(self.native(url))

    def remove_empty_folder(self, url: str) -> None:
        """Delete a folder if it is empty (a version folder whose save failed)."""
        if self.local:
            with contextlib.suppress(OSError):
                os.rmdir(url)
