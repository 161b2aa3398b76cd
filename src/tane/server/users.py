"""Users, API tokens, per-experiment permissions and browser sessions of a server.

They live in the store's own database (tables of schema revision 0002), so a
server with several workers, or several servers on one PostgreSQL, share them.

Secrets are never stored: passwords as salted scrypt hashes; API tokens and
session ids as SHA-256 digests. A token is ``tane_<id>_<secret>`` with a
256-bit random secret; the id finds the row and the secret's digest is compared
with :func:`hmac.compare_digest`. A slow hash buys nothing for a random
256-bit secret (there is no dictionary to try) and would cost every request
tens of milliseconds, so tokens use SHA-256 like GitHub's and PyPI's do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tane.errors import InvalidInput, NotFound, SchemaVersionError, StoreUnavailable
from tane.tracking.stores._common import normalize_db_url

Role = Literal["admin", "user"]
Level = Literal["read", "edit", "manage"]

ROLES: tuple[Role, ...] = ("admin", "user")
#: Permission levels, weakest first: each includes the ones before it.
LEVELS: tuple[Level, ...] = ("read", "edit", "manage")
TOKEN_PREFIX = "tane_"  # noqa: S105 (a prefix, not a secret)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
#: scrypt cost: about 50 ms and 16 MiB per hash on one core.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
#: ``last_used`` of a token is written at most this often (ms).
_LAST_USED_EVERY = 60_000

_meta = sa.MetaData()
users_t = sa.Table(
    "users",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
)
tokens_t = sa.Table(
    "tokens",
    _meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=True),
    sa.Column("last_used", sa.BigInteger, nullable=True),
    sa.Column("revoked", sa.BigInteger, nullable=True),
)
permissions_t = sa.Table(
    "permissions",
    _meta,
    sa.Column("experiment_id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("level", sa.String(16), nullable=False),
)
sessions_t = sa.Table(
    "sessions",
    _meta,
    sa.Column("id_hash", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("csrf", sa.String(128), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=False),
)
experiments_t = sa.Table(
    "experiments",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(500)),
)


def _now() -> int:
    return int(time.time() * 1000)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password`` (``scrypt$n$r$p$salt$hash``)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant time)."""
    if not stored:
        # Hash anyway, so that an unknown user takes as long as a wrong password.
        hash_password(password)
        return False
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(key)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(key))


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < 8:
        raise InvalidInput("the password is shorter than 8 characters: choose a longer one")


def parse_duration(text: str) -> int | None:
    """Return milliseconds for ``30d``, ``12h``, ``90m``, ``3600s`` or None for ``never``."""
    text = text.strip().lower()
    if text in ("never", "none", "0"):
        return None
    units = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text)
    if not match:
        raise InvalidInput(
            f"duration {text!r} is not understood: give a number and a unit "
            "(s, m, h, d, w), such as 90d, or 'never'"
        )
    return int(match.group(1)) * units[match.group(2)]


@dataclass(frozen=True)
class User:
    """A user of the server (``role`` is admin or user)."""

    id: int
    name: str
    role: Role
    created: int
    has_password: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "created": self.created,
            "has_password": self.has_password,
        }


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed (never its secret)."""

    id: str
    user: str
    name: str
    created: int
    expires: int | None
    last_used: int | None
    revoked: int | None

    @property
    def state(self) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= _now():
            return "expired"
        return "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created": self.created,
            "expires": self.expires,
            "last_used": self.last_used,
            "revoked": self.revoked,
            "state": self.state,
        }


@dataclass(frozen=True)
class Rejected:
    """Why credentials were refused (the message names the fix)."""

    message: str


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        created=row.created,
        has_password=bool(row.password_hash),
    )


class AuthStore:
    """Users, tokens, permissions and sessions in a store's database.

    Args:
        db_url: The store's database (``sqlite:///...`` or ``postgresql://...``),
            at schema revision 0002 or later. Nothing is opened until first use.
    """

    def __init__(self, db_url: str) -> None:
        from tane.tracking.stores.sql import sql_engine

        self.db_url = normalize_db_url(db_url)
        self.engine = sql_engine(self.db_url)
        self._last_used: dict[str, int] = {}
        self._lock = threading.Lock()
        self._checked = False

    def check(self) -> None:
        """Raise SchemaVersionError if the database has no user tables (once per store)."""
        if self._checked:
            return
        try:
            with self.engine.connect() as conn:
                names = set(sa.inspect(conn).get_table_names())
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from None
        if "users" not in names:
            raise SchemaVersionError(
                f"the store {self.db_url} has no user tables yet: run `tane db upgrade "
                "--store URI` to bring its schema up to date"
            )
        self._checked = True

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        self.check()
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(tane_write=True)
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError:
            raise
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self.check()
        try:
            with self.engine.connect() as conn:
                yield conn
                conn.rollback()
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: sa.exc.DBAPIError) -> StoreUnavailable:
        safe = sa.engine.make_url(self.db_url).render_as_string(hide_password=True)
        return StoreUnavailable(f"the user tables of {safe} cannot be reached: {exc.orig}")

    # -- users ---------------------------------------------------------------------

    def add_user(self, name: str, role: Role = "user", password: str | None = None) -> User:
        """Create a user; raise InvalidInput if the name is taken or not a valid name."""
        if not _NAME.match(name):
            raise InvalidInput(
                f"user name {name!r} is not valid: use letters, digits and . _ @ + - "
                "(up to 128, starting with a letter or digit)"
            )
        self._check_role(role)
        if password is not None:
            check_password_strength(password)
        hashed = hash_password(password) if password else None
        try:
            with self._write() as conn:
                conn.execute(
                    users_t.insert().values(
                        name=name, role=role, password_hash=hashed, created=_now()
                    )
                )
        except sa.exc.IntegrityError:
            raise InvalidInput(f"user {name!r} already exists") from None
        return self.get_user(name)

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")

    def get_user(self, name: str) -> User:
        """Return the user with this name; raise NotFound."""
        with self._read() as conn:
            row = conn.execute(sa.select(users_t).where(users_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user named {name!r}: `tane users ls` lists them")
        return _user(row)

    def list_users(self) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(sa.select(users_t).order_by(users_t.c.name)).all()
        return [_user(r) for r in rows]

    def count_users(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users_t)).scalar_one())

    def remove_user(self, name: str) -> None:
        """Delete a user with their tokens, sessions and permissions."""
        user = self.get_user(name)
        if user.is_admin and self._admins() == 1:
            raise InvalidInput(
                f"{name!r} is the last admin: make another user admin first "
                "(tane users add NAME --admin)"
            )
        with self._write() as conn:
            for table in (tokens_t, sessions_t, permissions_t):
                conn.execute(table.delete().where(table.c.user_id == user.id))
            conn.execute(users_t.delete().where(users_t.c.id == user.id))

    def _admins(self) -> int:
        with self._read() as conn:
            query = sa.select(sa.func.count()).where(users_t.c.role == "admin")
            return int(conn.execute(query).scalar_one())

    def set_password(self, name: str, password: str) -> None:
        """Set a user's password and end their browser sessions."""
        check_password_strength(password)
        user = self.get_user(name)
        with self._write() as conn:
            conn.execute(
                users_t.update()
                .where(users_t.c.id == user.id)
                .values(password_hash=hash_password(password))
            )
            conn.execute(sessions_t.delete().where(sessions_t.c.user_id == user.id))

    def set_role(self, name: str, role: Role) -> User:
        self._check_role(role)
        user = self.get_user(name)
        if user.is_admin and role != "admin" and self._admins() == 1:
            raise InvalidInput(f"{name!r} is the last admin: make another user admin first")
        with self._write() as conn:
            conn.execute(users_t.update().where(users_t.c.id == user.id).values(role=role))
        return self.get_user(name)

    def check_login(self, name: str, password: str) -> User | None:
        """Return the user if the password is theirs, else None (same time either way)."""
        with self._read() as conn:
            row = conn.execute(sa.select(users_t).where(users_t.c.name == name)).first()
        stored = row.password_hash if row is not None else None
        if not check_password(password, stored) or row is None:
            return None
        return _user(row)

    # -- tokens --------------------------------------------------------------------

    def create_token(
        self, user: str, name: str = "token", expires_in: int | None = None
    ) -> tuple[TokenInfo, str]:
        """Create an API token for ``user``; return it and its secret (shown once)."""
        owner = self.get_user(user)
        name = name.strip() or "token"
        if len(name) > 128:
            raise InvalidInput("token name is longer than 128 characters")
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = _now()
        expires = now + expires_in if expires_in is not None else None
        with self._write() as conn:
            conn.execute(
                tokens_t.insert().values(
                    id=token_id,
                    user_id=owner.id,
                    name=name,
                    secret_hash=_digest(secret),
                    created=now,
                    expires=expires,
                )
            )
        info = TokenInfo(token_id, owner.name, name, now, expires, None, None)
        return info, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Every token (of ``user`` if given), oldest first."""
        if user is None:
            return self._tokens()
        return self._tokens(users_t.c.name == self.get_user(user).name)

    def get_token(self, token_id: str) -> TokenInfo:
        for info in self._tokens(tokens_t.c.id == token_id):
            return info
        raise NotFound(f"no token with id {token_id!r}: `tane tokens ls` lists them")

    def _tokens(self, where: Any = None) -> list[TokenInfo]:
        query = (
            sa.select(tokens_t, users_t.c.name.label("user_name"))
            .join(users_t, users_t.c.id == tokens_t.c.user_id)
            .order_by(tokens_t.c.created)
        )
        if where is not None:
            query = query.where(where)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            TokenInfo(r.id, r.user_name, r.name, r.created, r.expires, r.last_used, r.revoked)
            for r in rows
        ]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token now (it is refused from the next request on)."""
        info = self.get_token(token_id)
        if info.revoked is None:
            with self._write() as conn:
                conn.execute(
                    tokens_t.update().where(tokens_t.c.id == token_id).values(revoked=_now())
                )
        return self.get_token(token_id)

    def check_token(self, raw: str) -> User | Rejected:
        """Return the token's user, or why it is refused."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) < len(TOKEN_PREFIX) + 18:
            return Rejected("the token is not a tane token (they start with 'tane_')")
        token_id, sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
        if not sep or not secret:
            return Rejected(
                "the token is malformed: copy it whole, as `tane tokens create` gave it"
            )
        query = (
            sa.select(
                tokens_t.c.secret_hash,
                tokens_t.c.expires,
                tokens_t.c.revoked,
                users_t.c.id,
                users_t.c.name,
                users_t.c.role,
                users_t.c.created,
                users_t.c.password_hash,
            )
            .join(users_t, users_t.c.id == tokens_t.c.user_id)
            .where(tokens_t.c.id == token_id)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        # Compare against something even for an unknown id, in constant time.
        stored = row.secret_hash if row is not None else _digest("")
        if not hmac.compare_digest(stored, _digest(secret)) or row is None:
            return Rejected("the token is not valid: create one with `tane tokens create`")
        now = _now()
        if row.revoked is not None:
            return Rejected(
                f"token {token_id} was revoked: create a new one with `tane tokens create`"
            )
        if row.expires is not None and row.expires <= now:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(row.expires / 1000))
            return Rejected(
                f"token {token_id} expired on {when}: create a new one with `tane tokens create`"
            )
        self._touch(token_id, now)
        return _user(row)

    def _touch(self, token_id: str, now: int) -> None:
        with self._lock:
            if now - self._last_used.get(token_id, 0) < _LAST_USED_EVERY:
                return
            self._last_used[token_id] = now
        with self._write() as conn:
            conn.execute(tokens_t.update().where(tokens_t.c.id == token_id).values(last_used=now))

    # -- permissions ---------------------------------------------------------------

    def grant(self, user: str, experiment_id: str, level: Level) -> None:
        """Give ``user`` ``level`` on an experiment (replacing what they had)."""
        if level not in LEVELS:
            raise InvalidInput(f"permission {level!r} is not one of {', '.join(LEVELS)}")
        owner = self.get_user(user)
        try:
            exp = int(experiment_id)
        except ValueError:
            raise InvalidInput(f"experiment id {experiment_id!r} is not a number") from None
        values = {"experiment_id": exp, "user_id": owner.id, "level": level}
        with self._write() as conn:
            # One upsert: grants made at once by several workers never collide.
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                pg = pg_insert(permissions_t).values(**values)
                conn.execute(
                    pg.on_conflict_do_update(
                        index_elements=["experiment_id", "user_id"], set_={"level": level}
                    )
                )
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                lite = sqlite_insert(permissions_t).values(**values)
                conn.execute(
                    lite.on_conflict_do_update(
                        index_elements=["experiment_id", "user_id"], set_={"level": level}
                    )
                )

    def revoke(self, user: str, experiment_id: str) -> None:
        owner = self.get_user(user)
        with self._write() as conn:
            conn.execute(
                permissions_t.delete().where(
                    (permissions_t.c.experiment_id == int(experiment_id))
                    & (permissions_t.c.user_id == owner.id)
                )
            )

    def level(self, user_id: int, experiment_id: str) -> Level | None:
        """The level a user was granted on an experiment, None if none."""
        try:
            exp = int(experiment_id)
        except ValueError:
            return None
        query = sa.select(permissions_t.c.level).where(
            (permissions_t.c.experiment_id == exp) & (permissions_t.c.user_id == user_id)
        )
        with self._read() as conn:
            found = conn.execute(query).scalar()
        return found if found in LEVELS else None

    def levels_of(self, user_id: int) -> dict[str, Level]:
        """Every experiment a user was granted something on -> the level."""
        query = sa.select(permissions_t.c.experiment_id, permissions_t.c.level).where(
            permissions_t.c.user_id == user_id
        )
        with self._read() as conn:
            return {str(r.experiment_id): r.level for r in conn.execute(query)}

    def permissions_on(self, experiment_id: str) -> list[tuple[str, Level]]:
        """Who was granted what on an experiment: (user name, level), by name."""
        query = (
            sa.select(users_t.c.name, permissions_t.c.level)
            .join(users_t, users_t.c.id == permissions_t.c.user_id)
            .where(permissions_t.c.experiment_id == int(experiment_id))
            .order_by(users_t.c.name)
        )
        with self._read() as conn:
            return [(r.name, r.level) for r in conn.execute(query)]

    # -- browser sessions ----------------------------------------------------------

    def create_session(self, user: User, ttl_ms: int) -> tuple[str, str]:
        """Start a browser session; return its id (for the cookie) and its CSRF token."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _now()
        if secrets.randbelow(20) == 0:
            # Now and then, not on every login: concurrent logins need not contend.
            with self._write() as conn:
                conn.execute(sessions_t.delete().where(sessions_t.c.expires <= now))
        with self._write() as conn:
            conn.execute(
                sessions_t.insert().values(
                    id_hash=_digest(session_id),
                    user_id=user.id,
                    csrf=csrf,
                    created=now,
                    expires=now + ttl_ms,
                )
            )
        return session_id, csrf

    def check_session(self, session_id: str) -> tuple[User, str] | None:
        """Return the session's user and CSRF token, None if unknown or expired."""
        query = (
            sa.select(sessions_t.c.csrf, sessions_t.c.expires, users_t)
            .join(users_t, users_t.c.id == sessions_t.c.user_id)
            .where(sessions_t.c.id_hash == _digest(session_id))
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None or row.expires <= _now():
            return None
        return _user(row), row.csrf

    def end_session(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute(sessions_t.delete().where(sessions_t.c.id_hash == _digest(session_id)))
