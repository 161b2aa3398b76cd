"""``tane users`` and ``tane tokens`` on the server's database."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

from tane.server.users import AuthStore
from tane.tracking.stores import open_store

Invoke = Callable[..., Result]


def _users(store: str) -> AuthStore:
    return AuthStore(open_store(store).uri)


def test_users_add_ls_passwd_rm(cli: Invoke, store: str) -> None:
    added = cli("users", "add", "alice", "--admin", "--password-stdin", input="a-long-secret\n")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("Created admin alice (password and tokens).")
    plain = cli("users", "add", "bob", "--no-password")
    assert "Created user bob (tokens only)." in plain.stdout
    users = _users(store)
    assert users.check_login("alice", "a-long-secret") is not None
    table = cli("users", "ls").stdout.splitlines()
    assert table[0].split()[:3] == ["User", "Role", "Password"]
    assert [line.split()[:3] for line in table[1:]] == [
        ["alice", "admin", "yes"],
        ["bob", "user", "no"],
    ]
    short = cli("users", "passwd", "bob", "--password-stdin", input="short\n")
    assert short.exit_code == 1
    assert "shorter than 8 characters" in short.stderr
    assert cli("users", "passwd", "bob", "--password-stdin", input="bob-secret-1\n").exit_code == 0
    assert users.check_login("bob", "bob-secret-1") is not None
    again = cli("users", "add", "bob", "--no-password")
    assert again.exit_code == 1 and again.stderr.strip() == "Error: user 'bob' already exists"
    last = cli("users", "rm", "alice")
    assert last.exit_code == 1 and "last admin" in last.stderr
    assert cli("users", "rm", "bob").stdout.strip() == "Removed user bob."
    assert [u.name for u in users.list_users()] == ["alice"]
    users.close()


def test_users_grant_and_revoke(cli: Invoke, store: str) -> None:
    cli("users", "add", "carol", "--no-password")
    cli("experiments", "create", "vision")
    granted = cli("users", "grant", "carol", "--experiment", "vision", "--level", "edit")
    assert granted.stdout.strip() == "carol may now edit experiment vision (1)."
    users = _users(store)
    carol = users.get_user("carol")
    assert users.level(carol.id, "1") == "edit"
    cli("users", "revoke", "carol", "--experiment", "1")
    assert users.level(carol.id, "1") is None
    unknown = cli("users", "grant", "carol", "--experiment", "nope", "--level", "read")
    assert unknown.exit_code == 1 and "nope" in unknown.stderr
    users.close()


def test_tokens_create_ls_revoke(cli: Invoke, store: str) -> None:
    cli("users", "add", "dave", "--no-password")
    made = cli("tokens", "create", "--user", "dave", "--name", "laptop", "--expires", "30d")
    assert made.exit_code == 0
    token = made.stdout.strip()
    assert token.startswith("tane_") and len(token) > 50
    assert "It is shown only now" in made.stderr
    users = _users(store)
    user = users.check_token(token)
    assert getattr(user, "name", None) == "dave"
    listing = cli("tokens", "ls").stdout
    token_id = token.split("_")[1]
    assert token_id in listing and "laptop" in listing and "active" in listing
    assert token.split("_", 2)[2] not in listing
    revoked = cli("tokens", "revoke", token_id)
    assert revoked.stdout.strip() == f"Revoked token {token_id} of dave."
    assert "revoked" in cli("tokens", "ls", "--user", "dave").stdout
    bad = cli("tokens", "create", "--user", "dave", "--expires", "soon")
    assert bad.exit_code == 1 and "such as 90d" in bad.stderr
    nobody = cli("tokens", "create", "--user", "nobody")
    assert nobody.exit_code == 1 and "no user named 'nobody'" in nobody.stderr
    never = cli("tokens", "create", "--user", "dave", "--expires", "never")
    assert "never expires" in never.stderr
    users.close()


def test_users_on_a_server_uri_is_refused(cli: Invoke) -> None:
    result = cli("users", "ls", "--store", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "is a tane server: manage its users where it runs" in result.stderr
