"""Tests for tane.tracking.context: capture settings, context tags and artifacts."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tane.errors import InvalidInput
from tane.tracking import context
from tane.tracking.context import (
    CaptureSettings,
    capture_artifacts,
    capture_tags,
    strip_credentials,
)

ALL_NAMES = ("git", "environment", "packages", "logs", "system_metrics")

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git binary")


def flags(settings: CaptureSettings) -> dict[str, bool]:
    return {name: getattr(settings, name) for name in ALL_NAMES}


# ------------------------------------------------------------ CaptureSettings


def test_names_are_the_fields() -> None:
    assert CaptureSettings.names() == ALL_NAMES


@pytest.mark.parametrize("value", [None, True])
def test_default_is_everything_on(value: bool | None) -> None:
    assert flags(CaptureSettings.from_value(value, environ={})) == dict.fromkeys(ALL_NAMES, True)


def test_false_is_everything_off_even_if_environment_says_all() -> None:
    settings = CaptureSettings.from_value(False, environ={"TANE_CAPTURE": "all"})
    assert flags(settings) == dict.fromkeys(ALL_NAMES, False)


def test_iterable_switches_only_those_on() -> None:
    settings = CaptureSettings.from_value(["git", "Logs"], environ={})
    assert flags(settings) == {
        "git": True,
        "environment": False,
        "packages": False,
        "logs": True,
        "system_metrics": False,
    }


def test_string_is_a_comma_list_not_characters() -> None:
    settings = CaptureSettings.from_value("packages, system-metrics", environ={})
    assert [n for n, on in flags(settings).items() if on] == ["packages", "system_metrics"]


def test_mapping_overrides_on_top_of_environment() -> None:
    settings = CaptureSettings.from_value(
        {"git": True, "logs": False},
        environ={"TANE_NO_CAPTURE": "git,packages"},
    )
    assert flags(settings) == {
        "git": True,  # the explicit argument wins
        "environment": True,
        "packages": False,  # from the environment
        "logs": False,  # from the argument
        "system_metrics": True,
    }


def test_explicit_list_ignores_the_environment() -> None:
    settings = CaptureSettings.from_value(["git"], environ={"TANE_NO_CAPTURE": "git"})
    assert settings.git is True
    assert settings.packages is False


@pytest.mark.parametrize(
    ("environ", "expected_on"),
    [
        ({"TANE_CAPTURE": "git,logs"}, ["git", "logs"]),
        ({"TANE_CAPTURE": " git , , system_metrics "}, ["git", "system_metrics"]),
        ({"TANE_CAPTURE": "none"}, []),
        ({"TANE_CAPTURE": "ALL"}, list(ALL_NAMES)),
        ({"TANE_CAPTURE": ""}, list(ALL_NAMES)),
        ({"TANE_NO_CAPTURE": "packages,system_metrics"}, ["git", "environment", "logs"]),
        ({"TANE_NO_CAPTURE": "all"}, []),
        ({"TANE_NO_CAPTURE": "none"}, list(ALL_NAMES)),
        ({"TANE_CAPTURE": "git,packages", "TANE_NO_CAPTURE": "packages"}, ["git"]),
    ],
)
def test_environment(environ: dict[str, str], expected_on: list[str]) -> None:
    settings = CaptureSettings.from_value(None, environ=environ)
    assert [n for n, on in flags(settings).items() if on] == expected_on


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANE_CAPTURE", "environment")
    monkeypatch.delenv("TANE_NO_CAPTURE", raising=False)
    settings = CaptureSettings.from_value()
    assert [n for n, on in flags(settings).items() if on] == ["environment"]


def test_unknown_name_in_argument_lists_valid_names() -> None:
    with pytest.raises(InvalidInput, match="'gti'") as info:
        CaptureSettings.from_value(["gti"], environ={})
    message = str(info.value)
    assert "capture argument" in message
    for name in ALL_NAMES:
        assert name in message


def test_unknown_name_in_environment_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match=r"TANE_NO_CAPTURE.*'gpu'.*system_metrics"):
        CaptureSettings.from_value(None, environ={"TANE_NO_CAPTURE": "gpu"})
    with pytest.raises(InvalidInput, match="TANE_CAPTURE"):
        CaptureSettings.from_value(True, environ={"TANE_CAPTURE": "git,bogus"})


def test_unknown_name_in_mapping_and_non_bool_value() -> None:
    with pytest.raises(InvalidInput, match="'bogus'"):
        CaptureSettings.from_value({"bogus": True}, environ={})
    with pytest.raises(InvalidInput, match="'git' must map to True or False"):
        CaptureSettings.from_value({"git": "no"}, environ={})


def test_not_a_capture_value() -> None:
    with pytest.raises(InvalidInput, match="expected True, False"):
        CaptureSettings.from_value(3, environ={})  # type: ignore[arg-type]


def test_settings_pass_through() -> None:
    settings = CaptureSettings(logs=False)
    assert CaptureSettings.from_value(settings, environ={"TANE_CAPTURE": "none"}) is settings


def test_settings_are_frozen() -> None:
    settings = CaptureSettings()
    with pytest.raises(AttributeError):
        settings.git = False  # type: ignore[misc]


# ------------------------------------------------------------------ git repos


@pytest.fixture
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's git config (hooks, signing, status options) out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def make_repo(path: Path, *, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    (path / "train.py").write_text("print('train')\n")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", "train.py", ".gitignore")
    if commit:
        git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def repo(tmp_path: Path, hermetic_git: None) -> Path:
    path = make_repo(tmp_path / "repo")
    git(path, "remote", "add", "origin", "https://alice:s3cret@example.com/org/repo.git")
    return path


@needs_git
def test_clean_repo_tags(repo: Path) -> None:
    tags = capture_tags(CaptureSettings(), cwd=str(repo))
    assert tags["tane.git.commit"] == git(repo, "rev-parse", "HEAD")
    assert len(tags["tane.git.commit"]) == 40
    assert tags["tane.git.branch"] == "main"
    assert tags["tane.git.dirty"] == "false"
    assert tags["tane.git.remote"] == "https://example.com/org/repo.git"
    assert "s3cret" not in "".join(tags.values())
    assert "git.diff" not in capture_artifacts(CaptureSettings(), cwd=str(repo))


@needs_git
def test_ignored_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "run.log").write_text("ignored\n")
    assert capture_tags(CaptureSettings(), cwd=str(repo))["tane.git.dirty"] == "false"


@needs_git
def test_subdirectory_of_repo(repo: Path) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    tags = capture_tags(CaptureSettings(), cwd=str(sub))
    assert tags["tane.git.commit"] == git(repo, "rev-parse", "HEAD")
    # An empty new directory is not an untracked file.
    assert tags["tane.git.dirty"] == "false"


@needs_git
def test_dirty_repo_tags_and_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('train')\nprint('changed line')\n")
    (repo / "notes.txt").write_text("untracked\n")
    (repo / "data").mkdir()
    (repo / "data" / "extra.csv").write_text("a,b\n")

    tags = capture_tags(CaptureSettings(), cwd=str(repo))
    assert tags["tane.git.dirty"] == "true"
    assert tags["tane.git.branch"] == "main"

    files = capture_artifacts(CaptureSettings(packages=False), cwd=str(repo))
    assert set(files) == {"git.diff"}
    diff = files["git.diff"].decode()
    header, _, patch = diff.partition("diff --git")
    assert "# tane: untracked files, not in this diff:\n#   data/\n#   notes.txt\n" in header
    assert all(line.startswith("#") for line in header.splitlines())
    assert "+print('changed line')" in patch
    assert "notes.txt" not in patch

    # The artifact is a real patch: it reverses cleanly onto the working tree.
    patch_file = repo.parent / "captured.diff"
    patch_file.write_bytes(files["git.diff"])
    git(repo, "apply", "--check", "-R", str(patch_file))


@needs_git
def test_untracked_file_alone_makes_the_tree_dirty(repo: Path) -> None:
    (repo / "new_module.py").write_text("x = 1\n")
    assert capture_tags(CaptureSettings(), cwd=str(repo))["tane.git.dirty"] == "true"
    diff = capture_artifacts(CaptureSettings(packages=False), cwd=str(repo))["git.diff"]
    assert b"#   new_module.py\n" in diff
    assert b"diff --git" not in diff


@needs_git
def test_staged_change_is_in_the_diff(repo: Path) -> None:
    (repo / "model.py").write_text("LAYERS = 3\n")
    git(repo, "add", "model.py")
    files = capture_artifacts(CaptureSettings(packages=False), cwd=str(repo))
    assert b"+LAYERS = 3" in files["git.diff"]


@needs_git
def test_diff_is_capped(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "MAX_DIFF_BYTES", 2000)
    (repo / "train.py").write_text("".join(f"print({i})\n" for i in range(5000)))
    diff = capture_artifacts(CaptureSettings(packages=False), cwd=str(repo))["git.diff"]
    assert diff.endswith(b"# tane: diff truncated after 2000 bytes; the rest was not recorded\n")
    assert len(diff) < 2000 + 500
    assert b"+print(0)\n" in diff
    # Cut at a line end, not in the middle of one.
    assert diff.split(b"\n")[-3].startswith(b"+print(")
    assert b"+print(4999)" not in diff


@needs_git
def test_repo_without_commits(tmp_path: Path, hermetic_git: None) -> None:
    path = make_repo(tmp_path / "fresh", commit=False)
    tags = capture_tags(CaptureSettings(), cwd=str(path))
    assert "tane.git.commit" not in tags
    assert tags["tane.git.branch"] == "main"
    assert tags["tane.git.dirty"] == "true"
    assert "tane.git.remote" not in tags
    diff = capture_artifacts(CaptureSettings(packages=False), cwd=str(path))["git.diff"]
    assert b"no commit yet" in diff
    assert b"+print('train')" in diff


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    tags = capture_tags(CaptureSettings(), cwd=str(repo))
    assert "tane.git.branch" not in tags
    assert tags["tane.git.commit"] == git(repo, "rev-parse", "HEAD")


@needs_git
def test_no_repo(tmp_path: Path, hermetic_git: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stop git's upward search at tmp_path, in case the tmp dir is inside a repo.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    tags = capture_tags(CaptureSettings(), cwd=str(tmp_path))
    assert not any(key.startswith("tane.git.") for key in tags)
    assert tags["tane.pid"] == str(os.getpid())
    assert "git.diff" not in capture_artifacts(CaptureSettings(packages=False), cwd=str(tmp_path))


def test_missing_git_binary(repo_or_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo_or_dir / "no-such-bin"))
    tags = capture_tags(CaptureSettings(), cwd=str(repo_or_dir))
    assert not any(key.startswith("tane.git.") for key in tags)
    assert tags["tane.python"] == platform.python_version()
    assert capture_artifacts(CaptureSettings(packages=False), cwd=str(repo_or_dir)) == {}


@pytest.fixture
def repo_or_dir(tmp_path: Path) -> Path:
    # A real repository when git exists, so the test proves the missing binary
    # (not a missing repository) is what removes the git tags.
    if shutil.which("git") is None:
        return tmp_path
    return make_repo(tmp_path / "repo")


@needs_git
def test_git_timeout_is_survived(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "GIT_TIMEOUT", 1e-6)
    start = time.monotonic()
    tags = capture_tags(CaptureSettings(), cwd=str(repo))
    assert time.monotonic() - start < 5
    assert "tane.git.dirty" not in tags
    assert tags["tane.pid"] == str(os.getpid())


@needs_git
def test_git_off_means_no_git_tags_and_no_diff(repo: Path) -> None:
    (repo / "train.py").write_text("changed\n")
    settings = CaptureSettings(git=False, packages=False)
    tags = capture_tags(settings, cwd=str(repo))
    assert not any(key.startswith("tane.git.") for key in tags)
    assert capture_artifacts(settings, cwd=str(repo)) == {}


@needs_git
def test_default_directory_is_the_scripts_repo(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(sys, "argv", [str(repo / "train.py")])
    tags = capture_tags(CaptureSettings())
    assert tags["tane.git.commit"] == git(repo, "rev-parse", "HEAD")


@needs_git
def test_capture_tags_is_fast(repo: Path) -> None:
    capture_tags(CaptureSettings(), cwd=str(repo))  # warm the OS caches
    start = time.perf_counter()
    capture_tags(CaptureSettings(), cwd=str(repo))
    # Typically ~10 ms; the bound only catches something pathological.
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:s3cret@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_token@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("http://u:p@host:8080/r", "http://host:8080/r"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("ssh://git:pw@github.com/org/repo.git", "ssh://github.com/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


# ------------------------------------------------------- source and command


def test_script_source_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py", "--lr", "0.1"])
    monkeypatch.setattr(
        sys, "orig_argv", ["/opt/python/bin/python3", "train.py", "--lr", "0.1"], raising=False
    )
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.source"] == str(tmp_path / "train.py")
    assert tags["tane.command"] == "train.py --lr 0.1"


def test_module_command_keeps_python_and_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/proj/pkg/train.py", "--name", "a b"])
    monkeypatch.setattr(
        sys, "orig_argv", [sys.executable, "-m", "pkg.train", "--name", "a b"], raising=False
    )
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.command"] == "python -m pkg.train --name 'a b'"
    assert tags["tane.source"] == "/proj/pkg/train.py"


def test_console_script_shows_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "mytool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sys, "argv", [str(tool), "fit"])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, str(tool), "fit"], raising=False)
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.command"] == "mytool fit"
    assert tags["tane.source"] == str(tool)


def test_dash_c_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["-c", "x"])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-c", "pass", "x"], raising=False)
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.source"] == "<string>"
    assert tags["tane.command"] == "python -c pass x"


def test_stdin_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [""])
    monkeypatch.setattr(sys, "orig_argv", [sys.executable], raising=False)
    monkeypatch.delattr(sys, "ps1", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("print(1)\n"))
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.source"] == "<stdin>"
    assert tags["tane.command"] == "python"


def test_interactive_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [""])
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
    assert capture_tags(CaptureSettings(git=False))["tane.source"] == "<interactive>"


def test_real_subprocess_tags(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import json, sys\n"
        "from tane.tracking.context import CaptureSettings, capture_tags\n"
        "print(json.dumps(capture_tags(CaptureSettings(git=False))))\n"
    )
    out = subprocess.run(
        [sys.executable, "job.py", "--epochs", "3"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tags = json.loads(out)
    assert tags["tane.source"] == str(script)
    assert tags["tane.command"] == "job.py --epochs 3"
    assert tags["tane.pid"] != str(os.getpid())


# --------------------------------------------------------------- environment


def test_environment_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "tane-tester")
    monkeypatch.setenv("LOGNAME", "tane-tester")
    tags = capture_tags(CaptureSettings(git=False))
    assert tags["tane.python"] == platform.python_version()
    assert tags["tane.platform"] == platform.platform()
    assert tags["tane.host"] == socket.gethostname()
    assert tags["tane.user"] == "tane-tester"
    assert tags["tane.pid"] == str(os.getpid())


def test_environment_off_keeps_source_and_command() -> None:
    tags = capture_tags(CaptureSettings(git=False, environment=False))
    assert set(tags) == {"tane.source", "tane.command", "tane.pid"}


def test_all_values_are_strings(tmp_path: Path) -> None:
    tags = capture_tags(CaptureSettings(), cwd=str(tmp_path))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())


# ----------------------------------------------------------------- packages


def test_requirements_txt() -> None:
    files = capture_artifacts(CaptureSettings(git=False))
    text = files["requirements.txt"].decode()
    lines = text.splitlines()
    assert text.endswith("\n")
    assert f"pytest=={importlib.metadata.version('pytest')}" in lines
    assert f"psutil=={importlib.metadata.version('psutil')}" in lines
    assert all("==" in line for line in lines)
    keys = [line.split("==")[0].lower().replace("_", "-").replace(".", "-") for line in lines]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))


def test_the_package_list_is_remembered_until_a_path_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tane._memo import remembered
    from tane.tracking import context

    calls = []
    real = context._list_distributions

    def counted() -> bytes:
        calls.append(1)
        return real()

    monkeypatch.setattr(context, "_list_distributions", counted)
    monkeypatch.setattr(
        context, "_requirements", lambda: remembered("r", context._list_distributions)
    )
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    first = context._requirements()
    assert context._requirements() == first
    assert len(calls) == 1
    (folder / "new_package-1.0.dist-info").mkdir()  # what an install does to the folder
    os.utime(folder, ns=(1, 10**18))
    assert context._requirements() == first
    assert len(calls) == 2


def test_packages_off() -> None:
    assert capture_artifacts(CaptureSettings(git=False, packages=False)) == {}


def test_runs_started_by_tools_use_the_working_directory(tmp_path: Path) -> None:
    from tane.tracking import context

    script = tmp_path / "train.py"
    script.write_text("")
    assert context._is_user_script(str(script))
    package_file = Path(context.__file__).parent.parent / "__main__.py"
    assert not context._is_user_script(str(package_file))  # python -m tane ...
    console = tmp_path / "venv" / "bin" / "tane"
    console.parent.mkdir(parents=True)
    console.write_text("#!python")
    assert not context._is_user_script(str(console))
    assert not context._is_user_script("<stdin>")


def test_a_file_the_run_logs_wins_over_the_captured_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Context capture writes git.diff in the background: never over the run's own."""
    import subprocess

    import tane

    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (repo / "train.py").write_text("lr = 0.1\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "first")
    (repo / "train.py").write_text("lr = 0.2\n")  # dirty: capture makes a git.diff
    monkeypatch.chdir(repo)
    store = str(tmp_path / "store")
    for _ in range(3):
        with tane.start_run(experiment="ctx", store=store) as run:
            tane.log_text("my own diff", "git.diff")
        client = tane.Client(store)
        with client.store.open_artifact(run.id, "git.diff") as fh:
            assert fh.read() == b"my own diff"
    # Without a file of the run's own, the captured diff is there.
    with tane.start_run(experiment="ctx", store=store) as plain:
        pass
    with tane.Client(store).store.open_artifact(plain.id, "git.diff") as fh:
        assert b"lr = 0.2" in fh.read()
