"""The ruleset cache: served only while everything a load read is unchanged.

Real files, real git repositories, a real distribution on ``sys.path`` and
real processes; the cache lives in each test's own ``GOAP_CACHE_DIR``.
"""

from __future__ import annotations

import hmac
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from goap_engine import loader, ruleset_cache
from goap_engine.cli import main
from goap_engine.errors import InputError
from goap_engine.language import uses
from goap_engine.loader import load, load_with_diagnostics
from goap_engine.model import Ruleset

ROOT = Path(__file__).resolve().parents[2]

PACK = """\
version: 1
state:
  built: bool
actions:
  build:
    effects: {built: true}
    run: echo build
"""
GOAL = """\
version: 1
uses: [../packs]
goal: built
"""


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "rulesets").glob("*.entry"))


def action_names(ruleset: Ruleset) -> list[str]:
    return [a.name for a in ruleset.actions]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Return a goal using a folder of packs (one pack, one action)."""
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "build.yaml").write_text(PACK)
    (tmp_path / "goals").mkdir()
    goal = tmp_path / "goals" / "g.yaml"
    goal.write_text(GOAL)
    return goal


def counted_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Return the list of goals loaded afresh (not from the cache) from now on."""
    calls: list[Path] = []
    original = loader._load

    def counting(root: Path, *args: Any) -> Any:
        calls.append(root)
        return original(root, *args)

    monkeypatch.setattr(loader, "_load", counting)
    return calls


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any YAML parse fail the test: a hit must not read a document."""

    def refuse(path: Path) -> Any:
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(uses, "read_document", refuse)


def test_unchanged_project_loads_without_parsing(
    project: Path, ruleset_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, diagnostics = load_with_diagnostics(project)
    assert len(entries(ruleset_cache_dir)) == 1

    def refuse(path: Path) -> Any:
        raise AssertionError(f"parsed {path}")

    monkeypatch.setattr(uses, "read_document", refuse)
    again, again_diagnostics = load_with_diagnostics(project)
    assert again == first and again is not first
    assert again_diagnostics == diagnostics
    with pytest.raises(AssertionError, match="parsed"):
        load(project, cache=False)


@pytest.mark.parametrize(
    "goal", ["goals.d/production.yaml", "examples/tiny-cats/goals.d/production.yaml"]
)
def test_shipped_goals_are_served_from_the_cache(
    goal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every value in the model must survive the allow-list (a YAML library's
    # own int type once did not): otherwise each load would miss, silently.
    first = load(ROOT / goal)
    calls = counted_loads(monkeypatch)
    assert load(ROOT / goal) == first
    assert calls == []


def test_validate_prints_the_same_from_the_cache(
    tmp_path: Path, ruleset_cache_dir: Path
) -> None:
    for folder in ("goals.d", "actions.d"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT / "engine")}
    argv = [sys.executable, "-m", "goap_engine", "validate", "goals.d/production.yaml"]
    runs = [
        subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert len(entries(ruleset_cache_dir)) == 1
    cold, cached = runs
    assert cold.returncode == cached.returncode == 0
    assert "warning" in cold.stderr  # diagnostics go to stderr
    assert cached.stdout == cold.stdout == ""
    assert cached.stderr == cold.stderr


def test_editing_the_goal_misses(project: Path) -> None:
    assert load(project).policy.max_replans == 3
    project.write_text(GOAL + "policy: {max_replans: 7}\n")
    assert load(project).policy.max_replans == 7


def test_editing_a_pack_reached_through_uses_misses(project: Path) -> None:
    assert action_names(load(project)) == ["build"]
    pack = project.parent.parent / "packs" / "build.yaml"
    pack.write_text(PACK.replace("  build:", "  compile:"))
    assert action_names(load(project)) == ["compile"]


def test_a_pack_added_to_a_used_folder_misses(project: Path) -> None:
    assert action_names(load(project)) == ["build"]
    extra = PACK.replace("built", "tested").replace("  build:", "  test:")
    (project.parent.parent / "packs" / "test.yaml").write_text(extra)
    assert action_names(load(project)) == ["build", "test"]


def test_a_pack_replaced_by_a_link_to_the_same_text_misses(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(project)
    elsewhere = tmp_path / "packs" / "build.txt"
    elsewhere.write_text(PACK)
    pack = tmp_path / "packs" / "build.yaml"
    pack.unlink()
    pack.symlink_to(elsewhere)
    calls = counted_loads(monkeypatch)
    # The same bytes through a link: loaded afresh (links decide which files
    # are one file), and the same ruleset.
    assert action_names(load(project)) == ["build"]
    assert action_names(load(project)) == ["build"]
    assert calls == [project]


# ---------------------------------------------------------------------------
# Damaged, foreign and forged entries


def _only_entry(cache: Path) -> Path:
    (entry,) = entries(cache)
    return entry


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"",
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        lambda data: data.replace(ruleset_cache.MAGIC, b"goap-ruleset-cache 1 0.0.9\n"),
        lambda data: b"\x80\x05garbage" * 100,
    ],
    ids=["truncated", "empty", "flipped-bit", "foreign-version", "garbage"],
)
def test_a_damaged_entry_is_ignored_and_rewritten(
    project: Path, ruleset_cache_dir: Path, damage: Any
) -> None:
    first = load(project)
    entry = _only_entry(ruleset_cache_dir)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    assert load(project) == first
    rewritten = entry.read_bytes()
    assert rewritten.startswith(ruleset_cache.MAGIC)
    assert len(rewritten) == len(good)


class _Pwn:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch pwned",))


def test_an_entry_signed_with_the_key_still_cannot_run_code(
    project: Path,
    ruleset_cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Even with the key (a cache folder restored from somewhere untrusted),
    # an entry unpickles only the model's classes.
    monkeypatch.chdir(tmp_path)
    first = load(project)
    entry = _only_entry(ruleset_cache_dir)
    key = (ruleset_cache_dir / "rulesets" / "key").read_bytes()
    payload = pickle.dumps(_Pwn(), protocol=5)
    mac = hmac.digest(key, ruleset_cache.MAGIC + payload, "sha256")
    entry.write_bytes(ruleset_cache.MAGIC + mac + payload)
    assert load(project) == first
    assert not (tmp_path / "pwned").exists()
    assert entry.read_bytes() != ruleset_cache.MAGIC + mac + payload


def test_an_entry_moved_to_another_goal_is_not_used(
    project: Path, ruleset_cache_dir: Path, tmp_path: Path
) -> None:
    other = project.with_name("other.yaml")
    other.write_text(GOAL + "policy: {max_replans: 9}\n")
    load(project)
    (entry,) = entries(ruleset_cache_dir)
    load(other)
    (other_entry,) = (e for e in entries(ruleset_cache_dir) if e != entry)
    shutil.copyfile(entry, other_entry)
    assert load(other).policy.max_replans == 9


def test_a_folder_or_key_others_can_write_is_not_used(
    project: Path, ruleset_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(project)
    key = ruleset_cache_dir / "rulesets" / "key"
    key.chmod(0o644)
    calls = counted_loads(monkeypatch)
    load(project)
    key.chmod(0o600)
    (ruleset_cache_dir / "rulesets").chmod(0o777)
    load(project)
    (ruleset_cache_dir / "rulesets").chmod(0o700)
    load(project)
    assert calls == [project, project]


def test_a_cache_folder_that_cannot_be_made_is_not_needed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache would be\n")
    monkeypatch.setenv("GOAP_CACHE_DIR", str(blocker))
    assert action_names(load(project)) == ["build"]
    assert action_names(load(project)) == ["build"]
    assert blocker.read_text() == "a file where the cache would be\n"


def test_loads_with_errors_are_not_kept(project: Path, ruleset_cache_dir: Path) -> None:
    project.write_text(GOAL.replace("goal: built", "goal: unknown_name"))
    ruleset, diagnostics = load_with_diagnostics(project)
    assert any(d.severity == "error" for d in diagnostics)
    assert entries(ruleset_cache_dir) == []


# ---------------------------------------------------------------------------
# --no-cache and concurrent writers


def test_no_cache_neither_reads_nor_writes(
    project: Path, ruleset_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--no-cache", str(project)])
    assert result.exit_code == 0, result.output
    assert entries(ruleset_cache_dir) == []
    assert runner.invoke(main, ["validate", str(project)]).exit_code == 0
    assert len(entries(ruleset_cache_dir)) == 1

    calls = counted_loads(monkeypatch)
    for argv in (["plan", "--no-cache"], ["plan"], ["explain", "--no-cache"]):
        result = runner.invoke(main, [*argv, str(project)])
        assert result.exit_code == 0, result.output
    assert calls == [project, project]


def test_processes_writing_at_once_leave_a_whole_entry(
    project: Path, ruleset_cache_dir: Path, no_parsing: None
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    code = (
        "import sys; from goap_engine.loader import load; "
        "print([a.name for a in load(sys.argv[1]).actions])"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(project)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, outputs
    assert {out for out, _ in outputs} == {"['build']\n"}
    assert len(entries(ruleset_cache_dir)) == 1
    assert not list((ruleset_cache_dir / "rulesets").glob(".*"))
    # The entry left behind is whole: served without parsing (see no_parsing).
    assert action_names(load(project)) == ["build"]


# ---------------------------------------------------------------------------
# Git packs and installed packs


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a repository holding packs/build.yaml on branch main."""
    pytest.importorskip("git")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Pack Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.com")
    repo = tmp_path / "origin"
    (repo / "packs").mkdir(parents=True)
    (repo / "packs" / "build.yaml").write_text(PACK)
    git(repo, "init", "--quiet", "--initial-branch", "main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "v1")
    return repo


def test_a_git_pack_at_a_new_commit_misses(origin: Path, tmp_path: Path) -> None:
    goal = tmp_path / "project" / "g.yaml"
    goal.parent.mkdir()
    goal.write_text(f"version: 1\nuses: ['git+{origin}@main#packs']\ngoal: built\n")
    assert action_names(load(goal)) == ["build"]
    (origin / "packs" / "build.yaml").write_text(PACK.replace("  build:", "  make:"))
    git(origin, "commit", "--quiet", "--all", "--message", "v2")

    # Pinned in goap.lock: the old commit, with or without the cache.
    lock = goal.with_name("goap.lock")
    old_lock = lock.read_text()
    assert action_names(load(goal)) == ["build"]
    assert action_names(load(goal, update=True)) == ["make"]
    new_lock = lock.read_text()
    assert git(origin, "rev-parse", "HEAD") in new_lock
    assert action_names(load(goal)) == ["make"]

    # Pinning a commit by hand is a change of a file read, either way.
    lock.write_text(old_lock)
    assert action_names(load(goal)) == ["build"]
    lock.write_text(new_lock)
    assert action_names(load(goal)) == ["make"]


def test_a_tampered_git_export_is_refused_not_served(
    origin: Path, tmp_path: Path, ruleset_cache_dir: Path
) -> None:
    goal = tmp_path / "project" / "g.yaml"
    goal.parent.mkdir()
    goal.write_text(f"version: 1\nuses: ['git+{origin}@main#packs']\ngoal: built\n")
    load(goal)
    (export,) = (ruleset_cache_dir / "trees").iterdir()
    # A file the loader never parses, but the pin covers (a hook's script).
    script = export / "packs" / "run.sh"
    export.joinpath("packs").chmod(0o755)
    script.write_text("echo tampered\n")
    with pytest.raises(InputError, match="changed"):
        load(goal)


def fake_distribution(site: Path, version: str, pack: str) -> Path:
    """Lay out an installed distribution ``mypack`` providing the pack ``pack``."""
    packs = site / "mypack" / "packs"
    packs.mkdir(parents=True)
    (site / "mypack" / "__init__.py").write_text("")
    (packs / "build.yaml").write_text(pack)
    info = site / f"mypack-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: mypack\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(
        "[goap_engine.packs]\nmypack = mypack:packs\n"
    )
    return packs


def test_a_changed_installed_pack_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-1"
    packs = fake_distribution(site, "1.0", PACK)
    monkeypatch.syspath_prepend(str(site))
    goal = tmp_path / "g.yaml"
    goal.write_text("version: 1\nuses: ['pkg:mypack']\ngoal: built\n")
    assert action_names(load(goal)) == ["build"]
    assert action_names(load(goal)) == ["build"]

    # Edited in place: refused as the uncached load refuses it, never stale.
    (packs / "build.yaml").write_text(PACK.replace("  build:", "  make:"))
    with pytest.raises(InputError, match="changed.*installed distribution changed"):
        load(goal)
    assert action_names(load(goal, update=True)) == ["make"]
    assert action_names(load(goal)) == ["make"]

    # Upgraded: version 2 installed elsewhere, the old files still on disk.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(site)])
    fake_distribution(tmp_path / "site-2", "2.0", PACK.replace("  build:", "  ship:"))
    monkeypatch.syspath_prepend(str(tmp_path / "site-2"))
    with pytest.raises(InputError, match="changed"):
        load(goal)
    assert action_names(load(goal, update=True)) == ["ship"]
    assert action_names(load(goal)) == ["ship"]


def test_the_least_recently_used_entries_are_pruned(
    tmp_path: Path, ruleset_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``--set`` value is a load of its own; old entries make room."""
    monkeypatch.setattr(ruleset_cache, "MAX_ENTRIES", 3)
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "build.yaml").write_text(PACK)
    goal = tmp_path / "g.yaml"
    goal.write_text("version: 1\nuses: [packs]\nvars: {n: 0}\ngoal: built\n")
    folder = ruleset_cache_dir / "rulesets"
    made = []
    for n in range(5):
        load_with_diagnostics(goal, overrides={"n": n})
        made.append(set(entries(ruleset_cache_dir)) - {p for p, _ in made})
        made[-1] = (made[-1].pop(), n)
        # A clock that moves: each entry is used later than the one before.
        os.utime(made[-1][0], (1_000_000 + n, 1_000_000 + n))
    kept = entries(ruleset_cache_dir)
    assert kept == sorted(p for p, n in made if n >= 2)
    # A hit marks its entry as used now, so it outlives newer ones.
    oldest = min(kept, key=lambda p: p.stat().st_mtime)
    calls = counted_loads(monkeypatch)
    load_with_diagnostics(goal, overrides={"n": 2})
    assert calls == []
    assert oldest.stat().st_mtime > 2_000_000
    ruleset_cache.prune(folder, 2, ruleset_cache.MAX_TOTAL_BYTES)
    assert oldest in entries(ruleset_cache_dir)
    assert (folder / "key").exists()


def test_pruning_keeps_within_the_byte_limit_and_removes_stray_files(
    ruleset_cache_dir: Path,
) -> None:
    folder = ruleset_cache_dir / "rulesets"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        path = folder / f"{i:064x}.entry"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    stray = folder / f".{0:064x}.entry.abc"
    stray.write_bytes(b"half written")
    os.utime(stray, (1_000_000, 1_000_000))
    fresh = folder / ".being-written"
    fresh.write_bytes(b"")
    ruleset_cache.prune(folder, ruleset_cache.MAX_ENTRIES, 2500)
    assert [p.name[-7:] for p in entries(ruleset_cache_dir)] == ["2.entry", "3.entry"]
    assert not stray.exists()
    assert fresh.exists()


def test_pruning_removes_nothing_but_its_own_entries_and_stale_temp_files(
    ruleset_cache_dir: Path, tmp_path: Path
) -> None:
    """Foreign files, folders and link targets survive; one does not stop the rest."""
    folder = ruleset_cache_dir / "rulesets"
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.entry"
    outside.write_bytes(b"not the cache's")
    foreign = {
        "notes.entry": b"a user's file named like an entry",
        ".gitignore": b"*\n",
        f"{'A' * 64}.entry": b"upper case: not a name the cache writes",
    }
    for name, data in foreign.items():
        (folder / name).write_bytes(data)
    (folder / ".old-folder").mkdir()
    (folder / f".{0:064x}.entry.abc").mkdir()  # a folder with a temp file's name
    (folder / f"{1:064x}.entry").mkdir()  # a folder with an entry's name
    link = folder / f"{2:064x}.entry"
    link.symlink_to(outside)
    stray = folder / f".{3:064x}.entry.xyz"
    stray.write_bytes(b"half written")
    key_stray = folder / ".key.abc"
    key_stray.write_bytes(b"half a key")
    for path in folder.iterdir():
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
    ruleset_cache.prune(folder, 0, ruleset_cache.MAX_TOTAL_BYTES)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(
        [*foreign, ".old-folder", f".{0:064x}.entry.abc", f"{1:064x}.entry"]
    )
    assert outside.read_bytes() == b"not the cache's"
    for name, data in foreign.items():
        assert (folder / name).read_bytes() == data


def _freeze(folder: Path) -> bool:
    """Make ``folder`` unwritable for this process; False if that is not possible."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return True
    # Permissions do not bind root: an immutable folder does (ext4 and others).
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    return done.returncode == 0


def _thaw(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o700)
    else:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_cache_folder_that_cannot_be_written_is_not_needed(
    project: Path, ruleset_cache_dir: Path
) -> None:
    """Neither the key nor an entry can be made: every command works without."""
    folder = ruleset_cache_dir / "rulesets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _freeze(folder):
        pytest.skip("no way to make a folder unwritable here")
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
        for argv in (["validate"], ["plan"], ["explain"], ["run", "--dry-run"]):
            result = subprocess.run(
                [sys.executable, "-m", "goap_engine", *argv, str(project)],
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            assert result.returncode == 0, (argv, result.stdout, result.stderr)
        assert list(folder.iterdir()) == []
    finally:
        _thaw(folder)


def test_a_link_in_place_of_the_cache_folder_is_not_followed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is written to, or pruned from, the folder the link points to."""
    cache = tmp_path / "cache"
    cache.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    stale = elsewhere / f".{0:064x}.entry.abc"
    stale.write_bytes(b"")
    os.utime(stale, (1_000_000, 1_000_000))
    (cache / "rulesets").symlink_to(elsewhere)
    monkeypatch.setenv("GOAP_CACHE_DIR", str(cache))
    calls = counted_loads(monkeypatch)
    assert action_names(load(project)) == ["build"]
    assert action_names(load(project)) == ["build"]
    assert calls == [project, project]
    assert [p.name for p in elsewhere.iterdir()] == [stale.name]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Any:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_command_that_loads_a_goal_takes_no_cache() -> None:
    loading = {
        " ".join(path): command
        for path, command in _commands(main)
        if any(p.name in ("goal", "paths") for p in command.params)
    }
    assert {"validate", "plan", "run", "state reset", "packs update"} <= set(loading)
    missing = [
        name
        for name, command in loading.items()
        if not any("--no-cache" in p.opts for p in command.params)
    ]
    assert missing == []


def test_state_reset_with_no_cache_neither_reads_nor_writes(
    project: Path, ruleset_cache_dir: Path
) -> None:
    result = CliRunner().invoke(main, ["state", "reset", "--no-cache", str(project)])
    assert result.exit_code == 0, result.output
    assert entries(ruleset_cache_dir) == []
    result = CliRunner().invoke(main, ["state", "reset", str(project)])
    assert result.exit_code == 0, result.output
    assert len(entries(ruleset_cache_dir)) == 1


def test_a_step_that_runs_elsewhere_is_served_from_the_cache(
    project: Path, ruleset_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = project.parent.parent / "packs" / "build.yaml"
    pack.write_text(
        PACK.replace(
            "run: echo build",
            "run: echo build\n    runs_on: {ray: {address: auto, num_cpus: 2}}\n"
            "    inputs: [src/*.py]\n    outputs: [dist/*.whl]",
        )
    )
    first = load(project)
    monkeypatch.setattr(uses, "read_document", lambda path: pytest.fail("parsed"))
    again = load(project)
    assert again is not first
    assert again.action("build").runs_on == first.action("build").runs_on
    placement = again.action("build").runs_on
    assert placement is not None
    assert (placement.executor, dict(placement.options), placement.outputs) == (
        "ray",
        {"address": "auto", "num_cpus": 2},
        ("dist/*.whl",),
    )
