"""Pack sources: git repositories pinned in goap.lock, installed packs, ``init``.

Every repository is a real local one (``git init``, commits, tags) reached by
path or ``file://`` URL, with HOME and the cache inside tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from goap_engine.errors import FileError
from goap_engine.init import ScaffoldExistsError, scaffold
from goap_engine.loader import load
from goap_engine.sources import (
    Lockfile,
    PackSource,
    SourceError,
    cache_dir,
    export_name,
    lock_path,
    parse_source,
    resolve,
    tree_digest,
)
from goap_engine.validate import validate_paths

pytest.importorskip("git")

PACK_V1 = """\
version: 1
state:
  tagged: bool
actions:
  tag_it:
    effects: {tagged: true}
    run: echo v1
"""
PACK_V2 = PACK_V1.replace("echo v1", "echo v2")


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def commit_file(repo: Path, rel: str, text: str, message: str) -> str:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep git and the cache away from the real home."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith("GIT_") or key in ("XDG_CACHE_HOME", "GOAP_CACHE_DIR"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GOAP_CACHE_DIR", str(tmp_path / "cache"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Pack Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.com")
    return home


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """Return a repository with packs/git.yaml committed and tagged v1."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch", "main")
    commit_file(repo, "README.md", "packs\n", "readme")
    commit_file(repo, "packs/git.yaml", PACK_V1, "pack v1")
    git(repo, "tag", "v1")
    return repo


def spec_for(origin: Path, ref: str = "v1", sub: str = "packs/git.yaml") -> str:
    return f"git+{origin}@{ref}#{sub}"


def pin(origin: Path, project: Path, spec: str | None = None) -> tuple[Path, Lockfile]:
    """Resolve ``spec`` for a goal in ``project`` and save its lock file."""
    project.mkdir(parents=True, exist_ok=True)
    lock = Lockfile.load(lock_path(project / "goal.yaml"))
    path = resolve(parse_source(spec or spec_for(origin)), base=project, lock=lock)
    lock.save()
    return path, lock


# ---------------------------------------------------------------------------
# parse_source


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("goap:git", PackSource("shipped", "goap:git")),
        ("../actions.d", PackSource("path", "../actions.d")),
        (
            "git+https://host/org/repo.git@v1.2#packs/git.yaml",
            PackSource(
                "git",
                "git+https://host/org/repo.git@v1.2#packs/git.yaml",
                url="https://host/org/repo.git",
                ref="v1.2",
                subpath="packs/git.yaml",
            ),
        ),
        (
            "git+file:///abs/repo@main",
            PackSource(
                "git", "git+file:///abs/repo@main", url="file:///abs/repo", ref="main"
            ),
        ),
        (
            "git+/abs/repo@v1",
            PackSource("git", "git+/abs/repo@v1", url="/abs/repo", ref="v1"),
        ),
        (
            "git+relative/repo",
            PackSource("git", "git+relative/repo", url="relative/repo", ref="HEAD"),
        ),
        (
            # The '@' of user@host is not a ref; the last one after the host is.
            "git+ssh://git@host/org/repo.git@feature/x#packs/",
            PackSource(
                "git",
                "git+ssh://git@host/org/repo.git@feature/x#packs/",
                url="ssh://git@host/org/repo.git",
                ref="feature/x",
                subpath="packs",
            ),
        ),
        (
            "git+ssh://git@[fe80::1]:2222/r.git@v1",
            PackSource(
                "git",
                "git+ssh://git@[fe80::1]:2222/r.git@v1",
                url="ssh://git@[fe80::1]:2222/r.git",
                ref="v1",
            ),
        ),
        (
            "git+git@github.com:org/repo.git",
            PackSource(
                "git",
                "git+git@github.com:org/repo.git",
                url="git@github.com:org/repo.git",
                ref="HEAD",
            ),
        ),
        (
            "git+git@github.com:org/repo.git@v2",
            PackSource(
                "git",
                "git+git@github.com:org/repo.git@v2",
                url="git@github.com:org/repo.git",
                ref="v2",
            ),
        ),
        ("pkg:mypack", PackSource("python", "pkg:mypack")),
        (
            "pkg:mypack#extra.yaml",
            PackSource("python", "pkg:mypack#extra.yaml", subpath="extra.yaml"),
        ),
        (
            {"git": "https://h/o/r.git", "ref": "v1", "path": "packs", "as": "ci"},
            PackSource(
                "git",
                "git+https://h/o/r.git@v1#packs",
                url="https://h/o/r.git",
                ref="v1",
                subpath="packs",
                alias="ci",
            ),
        ),
        (
            {"git": "https://h/o/r.git"},
            PackSource(
                "git", "git+https://h/o/r.git", url="https://h/o/r.git", ref="HEAD"
            ),
        ),
        (
            {"python": "mypack", "as": "extra"},
            PackSource("python", "pkg:mypack", alias="extra"),
        ),
        (
            {"path": "../shared", "as": "shared"},
            PackSource("path", "../shared", alias="shared"),
        ),
    ],
)
def test_parse_source(entry: Any, expected: PackSource) -> None:
    assert parse_source(entry) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("git+--upload-pack=touch", "must not start with '-'"),
        ("git+-oProxyCommand=x:repo", "must not start with '-'"),
        ("git+https://host/repo@--output=/tmp/x", "a ref must not start with '-'"),
        ({"git": "--upload-pack=touch"}, "must not start with '-'"),
        ({"git": "https://h/r", "ref": "-f"}, "a ref must not start with '-'"),
        ("git+ssh://-oProxyCommand=x/repo", "host or user name must not start"),
        ("git+ext::sh", "remote helpers ('ext::')"),
        ("git+https://[a/r", "invalid URL"),
        ("git+https://host:99999/r", "invalid URL"),
        ("git+ftp://host/repo", "scheme 'ftp' is not allowed"),
        ("git+https://host/repo@v1 x", "not a valid tag"),
        ("git+https://host/re po", "whitespace or control"),
        ("git+https://host/repo\n", "whitespace or control"),
        ("git+https://host/repo@", "nothing after '@'"),
        ("git+https://host/repo@v1..v2", "not a valid tag"),
        ("git+https://host/repo@HEAD~1", "not a valid tag"),
        ("git+https://host/repo#../../etc", "must stay inside"),
        ("git+https://host/repo#/etc", "must stay inside"),
        ({"git": "https://h/r", "path": "a/../../b"}, "must stay inside"),
        ("git+https://user:secret@host/repo", "contains a password"),
        ("git+", "no repository URL"),
        ("pkg:../evil", "entry point name"),
        ("pkg:ok#../x", "must stay inside"),
        ({"git": "https://h/r", "ref": 1.1}, "must be a string"),
        ({"git": "https://h/r", "python": "p"}, "exactly one"),
        ({"git": "https://h/r", "tag": "v1"}, "unknown key(s) tag"),
        ({"path": "x", "as": "not-a-name"}, "'as: not-a-name'"),
        ("", "empty"),
    ],
)
def test_parse_source_refuses(entry: Any, message: str) -> None:
    with pytest.raises(SourceError, match=None) as caught:
        parse_source(entry)
    assert message in str(caught.value)


def test_importing_sources_does_not_import_git() -> None:
    code = "import sys, goap_engine.sources; print('git' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_refused_url_never_reaches_git(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = PackSource("git", "x", url=f"--upload-pack=touch {marker}", ref="HEAD")
    # A hand-built source bypasses parse_source; '--' still keeps it an argument.
    with pytest.raises(SourceError):
        resolve(source, base=tmp_path, lock=Lockfile(tmp_path / "goap.lock"))
    assert not marker.exists()


# ---------------------------------------------------------------------------
# Lock file and cache location


def test_lock_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "goap.lock"
    assert Lockfile.load(path).entries == {}
    lock = Lockfile(path, {"b": {"url": "u", "ref": "r", "commit": "c", "sha256": "s"}})
    lock.entries["a"] = {"url": "u2", "ref": "r2", "commit": "c2", "sha256": "s2"}
    lock.save()
    text = path.read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["version"] == 1
    assert list(data["packs"]) == ["a", "b"]  # sorted: stable diffs
    assert Lockfile.load(path).entries == lock.entries
    lock.save()
    assert path.read_text() == text  # saving again changes nothing

    path.write_text("{not json")
    with pytest.raises(FileError, match="goap.lock:1:2: error: invalid JSON: .*; fix"):
        Lockfile.load(path)
    path.write_text('{"version": 2, "packs": {}}')
    with pytest.raises(SourceError, match=r"goap.lock: expected .*\"version\": 1"):
        Lockfile.load(path)
    path.write_text('{"version": 1, "packs": {"a": {"commit": 3}}}')
    with pytest.raises(SourceError, match="entry for 'a'"):
        Lockfile.load(path)
    assert lock_path(tmp_path / "goals.d" / "x.yaml") == tmp_path / "goals.d/goap.lock"


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("GOAP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "goap-engine"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # invalid per the XDG spec
    assert cache_dir() == tmp_path / "home" / ".cache" / "goap-engine"


def test_path_and_shipped_sources(tmp_path: Path) -> None:
    lock = Lockfile(tmp_path / "goap.lock")
    assert resolve(parse_source("../x"), base=tmp_path / "g", lock=lock) == (
        tmp_path / "g" / ".." / "x"
    )
    with pytest.raises(SourceError, match="shipped pack"):
        resolve(parse_source("goap:git"), base=tmp_path, lock=lock)
    assert lock.entries == {}


# ---------------------------------------------------------------------------
# git sources


def test_pin_to_a_tag_writes_commit_and_hash(origin: Path, tmp_path: Path) -> None:
    path, lock = pin(origin, tmp_path / "project")
    commit = git(origin, "rev-parse", "v1")
    export = cache_dir() / "trees" / export_name(commit, "packs/git.yaml")
    assert path == export / "packs" / "git.yaml"
    # Only the pack's path is exported, not the rest of the repository.
    assert [p.name for p in export.iterdir()] == ["packs"]
    assert path.read_text() == PACK_V1
    assert load(path).action("tag_it").hook is not None  # a loadable pack

    saved = json.loads((tmp_path / "project" / "goap.lock").read_text())
    entry = saved["packs"][spec_for(origin)]
    assert entry == {
        "url": str(origin),
        "ref": "v1",
        "commit": commit,
        "sha256": tree_digest(path),
    }
    assert len(entry["sha256"]) == 64

    # A folder subpath, HEAD, a branch and a commit id resolve too.
    folder, _ = pin(origin, tmp_path / "p2", f"git+{origin}#packs")
    assert sorted(p.name for p in folder.iterdir()) == ["git.yaml"]
    for ref in ("HEAD", "main", commit, commit[:12]):
        lock = Lockfile(tmp_path / "p3" / "goap.lock")
        resolve(parse_source(spec_for(origin, ref)), base=tmp_path, lock=lock)
        assert lock.entries[spec_for(origin, ref)]["commit"] == commit
    # file:// URLs and paths relative to the goal's folder name the same repository.
    lock = Lockfile(tmp_path / "p4" / "goap.lock")
    source = parse_source(f"git+file://{origin}@v1#packs/git.yaml")
    assert resolve(source, base=tmp_path, lock=lock) == path
    relative = parse_source("git+../origin@v1#packs/git.yaml")
    assert resolve(relative, base=tmp_path / "p5", lock=lock) == path


def test_unknown_ref_and_missing_subpath(origin: Path, tmp_path: Path) -> None:
    lock = Lockfile(tmp_path / "goap.lock")
    with pytest.raises(SourceError, match="has no tag, branch or commit 'v9'"):
        resolve(parse_source(spec_for(origin, "v9")), base=tmp_path, lock=lock)
    with pytest.raises(SourceError, match="'packs/nope.yaml' not found"):
        resolve(
            parse_source(spec_for(origin, sub="packs/nope.yaml")),
            base=tmp_path,
            lock=lock,
        )
    with pytest.raises(SourceError, match="git fetch failed"):
        resolve(parse_source(f"git+{tmp_path}/absent"), base=tmp_path, lock=lock)
    assert lock.entries == {}


def test_pinned_pack_resolves_without_the_origin(origin: Path, tmp_path: Path) -> None:
    path, _ = pin(origin, tmp_path / "project")
    origin.rename(tmp_path / "gone")  # the network is down

    lock = Lockfile.load(lock_path(tmp_path / "project" / "goal.yaml"))
    source = parse_source(spec_for(origin))
    assert resolve(source, base=tmp_path, lock=lock) == path

    # Without the exported tree, the mirror still has the commit: no fetch.
    trees = cache_dir() / "trees"
    subprocess.run(["chmod", "-R", "u+w", str(trees)], check=True)
    subprocess.run(["rm", "-rf", str(trees)], check=True)
    assert resolve(source, base=tmp_path, lock=lock) == path
    assert path.read_text() == PACK_V1

    # Only when neither has it is the origin needed -- and its absence reported.
    subprocess.run(["chmod", "-R", "u+w", str(cache_dir())], check=True)
    subprocess.run(["rm", "-rf", str(cache_dir())], check=True)
    with pytest.raises(SourceError, match="git fetch failed"):
        resolve(source, base=tmp_path, lock=lock)


def test_moved_tag_is_picked_up_only_by_update(origin: Path, tmp_path: Path) -> None:
    path, lock = pin(origin, tmp_path / "project")
    old = lock.entries[spec_for(origin)]
    new_commit = commit_file(origin, "packs/git.yaml", PACK_V2, "pack v2")
    git(origin, "tag", "--force", "v1")
    source = parse_source(spec_for(origin))

    assert resolve(source, base=tmp_path, lock=lock) == path
    assert lock.entries[spec_for(origin)] == old

    updated = resolve(source, base=tmp_path, lock=lock, update=True)
    assert updated.read_text() == PACK_V2
    entry = lock.entries[spec_for(origin)]
    assert entry["commit"] == new_commit != old["commit"]
    assert entry["sha256"] == tree_digest(updated) != old["sha256"]
    # The old commit stays in the mirror for projects that still pin it.
    other = Lockfile(tmp_path / "other.lock", {spec_for(origin): dict(old)})
    subprocess.run(["chmod", "-R", "u+w", str(cache_dir() / "trees")], check=True)
    subprocess.run(["rm", "-rf", str(cache_dir() / "trees")], check=True)
    assert resolve(source, base=tmp_path, lock=other).read_text() == PACK_V1


def test_rewritten_history_is_reported(origin: Path, tmp_path: Path) -> None:
    _, lock = pin(origin, tmp_path / "project")
    subprocess.run(["rm", "-rf", str(cache_dir())], check=True)
    git(origin, "commit", "--amend", "--quiet", "--message", "rewritten")
    git(origin, "tag", "--force", "v1")
    git(origin, "reflog", "expire", "--expire=now", "--all")
    git(origin, "gc", "--quiet", "--prune=now")
    with pytest.raises(SourceError, match="no longer in .* packs update"):
        resolve(parse_source(spec_for(origin)), base=tmp_path, lock=lock)


def test_tampered_cache_is_detected_and_update_repairs_it(
    origin: Path, tmp_path: Path
) -> None:
    path, lock = pin(origin, tmp_path / "project")
    spec = spec_for(origin)
    pinned = lock.entries[spec]["sha256"]
    path.chmod(0o644)
    path.write_text(PACK_V1 + "    env: {INJECTED: yes}\n")

    with pytest.raises(SourceError) as caught:
        resolve(parse_source(spec), base=tmp_path, lock=lock)
    message = str(caught.value)
    assert f"pack '{spec}' changed" in message
    assert f"goap.lock says {pinned[:16]}" in message
    assert "tampered cache or rewritten history" in message
    assert "goap-engine packs update" in message

    # Accepting "the change" re-exports the commit instead of trusting the edit.
    again = resolve(parse_source(spec), base=tmp_path, lock=lock, update=True)
    assert again.read_text() == PACK_V1
    assert lock.entries[spec]["sha256"] == pinned


def test_links_inside_the_pack_are_hashed_by_content(
    origin: Path, tmp_path: Path
) -> None:
    commit_file(origin, "packs/common/shared.yaml", PACK_V1, "shared pack")
    (origin / "packs" / "shared.yaml").symlink_to("common/shared.yaml")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "--message", "link")
    git(origin, "tag", "v2")
    folder, lock = pin(origin, tmp_path / "project", spec_for(origin, "v2", "packs"))
    assert (folder / "shared.yaml").read_text() == PACK_V1
    assert load(folder / "shared.yaml").action("tag_it") is not None

    # The pack read through the link is covered by the hash.
    shared = folder / "common" / "shared.yaml"
    shared.chmod(0o644)
    shared.write_text(PACK_V2)
    with pytest.raises(SourceError, match="changed"):
        resolve(parse_source(spec_for(origin, "v2", "packs")), base=tmp_path, lock=lock)


def test_links_out_of_the_pack_path_are_refused(origin: Path, tmp_path: Path) -> None:
    """A link may stay in the repository yet leave the ``#path`` that is the pack."""
    commit_file(origin, "common/shared.yaml", PACK_V1, "shared pack")
    (origin / "packs" / "shared.yaml").symlink_to("../common/shared.yaml")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "--message", "link")
    lock = Lockfile(tmp_path / "goap.lock")
    spec = f"git+{origin}#packs"
    with pytest.raises(SourceError) as caught:
        resolve(parse_source(spec), base=tmp_path, lock=lock)
    assert str(caught.value) == (
        f"pack '{spec}': packs/shared.yaml is a symbolic link to "
        "'../common/shared.yaml', which leads outside the pack; links in a pack "
        "must lead to a file or folder inside it"
    )
    assert not list((cache_dir() / "trees").iterdir())
    # With the whole repository as the pack, the same link stays inside it.
    whole = resolve(parse_source(f"git+{origin}"), base=tmp_path, lock=lock)
    assert (whole / "packs" / "shared.yaml").read_text() == PACK_V1


def test_links_out_of_the_repository_are_refused(origin: Path, tmp_path: Path) -> None:
    (origin / "packs" / "passwd.yaml").symlink_to("/etc/passwd")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "--message", "escape")
    lock = Lockfile(tmp_path / "goap.lock")
    with pytest.raises(SourceError, match="passwd.yaml is a symbolic link to"):
        resolve(parse_source(f"git+{origin}#packs"), base=tmp_path, lock=lock)
    assert not [p for p in (cache_dir() / "trees").iterdir()]


def test_exported_tree_is_read_only(origin: Path, tmp_path: Path) -> None:
    path, _ = pin(origin, tmp_path / "project")
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0


CONCURRENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from goap_engine.sources import Lockfile, lock_path, parse_source, resolve

    project, spec, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    (project / "ready").touch()
    while not go.exists():
        time.sleep(0.005)
    lock = Lockfile.load(lock_path(project / "goal.yaml"))
    update = sys.argv[4] == "update"
    print(resolve(parse_source(spec), base=project, lock=lock, update=update))
    lock.save()
    """
)


def resolve_in_processes(
    tmp_path: Path, jobs: list[tuple[Path, str, bool]]
) -> list[Path]:
    """Resolve ``(project, spec, update)`` jobs in processes started together."""
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    procs = []
    for project, spec, update in jobs:
        (project / "ready").unlink(missing_ok=True)
        argv = [str(project), spec, str(go), "update" if update else "use"]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CONCURRENT, *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    # Start them at once, when each has imported everything.
    deadline = time.monotonic() + 60
    while not all((project / "ready").exists() for project, _, _ in jobs):
        assert time.monotonic() < deadline, "the resolving processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(jobs), outputs
    return [Path(out.strip()) for out, _ in outputs]


def test_projects_sharing_the_cache_resolve_concurrently(
    origin: Path, tmp_path: Path
) -> None:
    old = git(origin, "rev-parse", "v1")
    specs = [
        spec_for(origin),
        spec_for(origin, "main", "packs"),
        f"git+file://{origin}@v1#packs/git.yaml",  # another mirror, same commit
        f"git+{origin}",
    ]
    projects = [tmp_path / f"project{i}" for i in range(len(specs))]
    for project in projects:
        project.mkdir()

    # Round 1: every project pins at once into an empty cache.
    paths = resolve_in_processes(
        tmp_path, [(p, s, False) for p, s in zip(projects, specs, strict=True)]
    )
    trees = cache_dir() / "trees"
    subpaths = [parse_source(spec).subpath for spec in specs]
    for path, sub in zip(paths, subpaths, strict=True):
        assert path == trees / export_name(old, sub) / sub

    # Round 2: the tag and branch move; half the projects update while the
    # others re-export their pinned commit (its tree was removed).
    new = commit_file(origin, "packs/git.yaml", PACK_V2, "pack v2")
    git(origin, "tag", "--force", "v1")
    subprocess.run(["rm", "-rf", str(cache_dir() / "trees")], check=True)
    updates = [False, True, False, True]
    paths = resolve_in_processes(
        tmp_path, list(zip(projects, specs, updates, strict=True))
    )

    pinned = [
        (new if update else old, sub)
        for update, sub in zip(updates, subpaths, strict=True)
    ]
    assert sorted(p.name for p in trees.iterdir()) == sorted(
        {export_name(commit, sub) for commit, sub in pinned}
    )
    assert (trees / new / "packs" / "git.yaml").read_text() == PACK_V2
    old_pack = trees / export_name(old, "packs/git.yaml") / "packs" / "git.yaml"
    assert old_pack.read_text() == PACK_V1
    for project, spec, update, path, sub in zip(
        projects, specs, updates, paths, subpaths, strict=True
    ):
        commit = new if update else old
        assert path == trees / export_name(commit, sub) / sub
        entry = Lockfile.load(lock_path(project / "goal.yaml")).entries[spec]
        assert entry["commit"] == commit
        assert entry["sha256"] == tree_digest(path)
    mirrors = sorted((cache_dir() / "repos").glob("*.git"))
    assert len(mirrors) == 2  # a path and a file:// URL are different remotes
    leftovers = [p for p in (*trees.iterdir(), *mirrors[0].parent.iterdir())]
    assert not [p for p in leftovers if p.name.startswith(".")]
    for mirror in mirrors:
        git(mirror, "fsck", "--no-progress")


def test_threads_sharing_the_cache(origin: Path, tmp_path: Path) -> None:
    source = parse_source(spec_for(origin))
    locks = [Lockfile(tmp_path / f"lock{i}") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(
            pool.map(lambda lock: resolve(source, base=tmp_path, lock=lock), locks)
        )
    assert len(set(paths)) == 1
    assert len({lock.entries[source.spec]["sha256"] for lock in locks}) == 1


# ---------------------------------------------------------------------------
# python sources


def fake_distribution(site: Path, version: str = "1.0") -> Path:
    """Lay out an installed distribution ``mypack`` (dist-info + package data)."""
    packs = site / "mypack" / "packs"
    packs.mkdir(parents=True)
    (site / "mypack" / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (packs / "extra.yaml").write_text(PACK_V1)
    info = site / f"mypack-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: mypack\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(
        "[goap_engine.packs]\nmypack = mypack:packs\n"
    )
    return packs


def test_python_pack_is_found_hashed_and_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    packs = fake_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    lock = Lockfile(tmp_path / "goap.lock")
    source = parse_source("pkg:mypack")

    # Found without importing the package (its __init__ would raise).
    assert resolve(source, base=tmp_path, lock=lock) == packs
    assert "mypack" not in sys.modules
    entry = lock.entries["pkg:mypack"]
    assert entry["url"] == "mypack:packs"
    assert entry["ref"] == "mypack==1.0"
    assert entry["sha256"] == tree_digest(packs, suffixes=(".yaml", ".yml"))
    sub = parse_source("pkg:mypack#extra.yaml")
    assert resolve(sub, base=tmp_path, lock=lock) == packs / "extra.yaml"

    (packs / "notes.txt").write_text("not a pack: not hashed\n")
    assert resolve(source, base=tmp_path, lock=lock) == packs
    (packs / "extra.yaml").write_text(PACK_V2)
    with pytest.raises(SourceError, match="pack 'pkg:mypack' changed.*installed"):
        resolve(source, base=tmp_path, lock=lock)
    resolve(source, base=tmp_path, lock=lock, update=True)
    assert lock.entries["pkg:mypack"]["sha256"] != entry["sha256"]

    with pytest.raises(SourceError, match=r"no installed distribution.*mypack\)"):
        resolve(parse_source("pkg:other"), base=tmp_path, lock=lock)


INSTALLED = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from goap_engine.sources import Lockfile, SourceError, parse_source, resolve

    lock = Lockfile(Path(sys.argv[1]))
    folder = resolve(parse_source("pkg:mypack"), base=Path.cwd(), lock=lock)
    (folder / "extra.yaml").write_text("version: 1\\n")
    try:
        resolve(parse_source("pkg:mypack"), base=Path.cwd(), lock=lock)
        changed = ""
    except SourceError as exc:
        changed = str(exc)
    print(json.dumps({"folder": str(folder), "entry": lock.entries["pkg:mypack"],
                      "changed": changed, "prefix": sys.prefix}))
    """
)


def test_installed_distribution_provides_a_pack(tmp_path: Path) -> None:
    source = tmp_path / "mypack-src"
    (source / "mypack" / "packs").mkdir(parents=True)
    (source / "mypack" / "__init__.py").write_text("")
    (source / "mypack" / "packs" / "extra.yaml").write_text(PACK_V1)
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "mypack"
            version = "0.3"

            [project.entry-points."goap_engine.packs"]
            mypack = "mypack:packs"

            [tool.setuptools]
            packages = ["mypack"]

            [tool.setuptools.package-data]
            mypack = ["packs/*.yaml"]
            """
        )
    )
    venv = tmp_path / "venv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "venv",
            "--without-pip",
            "--system-site-packages",
            str(venv),
        ],
        check=True,
    )
    python = venv / "bin" / "python"
    # --system-site-packages reaches the base interpreter, not the environment
    # running these tests: link that one in too, so goap_engine, its
    # dependencies and setuptools import in the new environment.
    target_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    here = sysconfig.get_path("purelib")
    Path(target_site, "_outer_env.pth").write_text(
        f"import site; site.addsitedir({here!r})\n"
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    run = subprocess.run(
        [str(python), "-c", INSTALLED, str(tmp_path / "goap.lock")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    folder = Path(result["folder"])
    assert folder.is_relative_to(venv)
    assert folder.name == "packs"
    assert (folder / "extra.yaml").is_file()
    assert result["entry"]["url"] == "mypack:packs"
    assert result["entry"]["ref"] == "mypack==0.3"
    assert "pack 'pkg:mypack' changed" in result["changed"]
    # The engine itself was not installed into the new environment.
    assert not list(Path(target_site).glob("goap_engine*"))


# ---------------------------------------------------------------------------
# init


def test_init_writes_a_valid_goal_and_refuses_to_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "myproject"
    written = scaffold(root)
    goal = root / "goals.d" / "production.yaml"
    pack = root / "actions.d" / "project.yaml"
    assert written == [pack, goal]
    schema = "# yaml-language-server: $schema=https://goap-engine.github.io/schemas/v1/"
    assert pack.read_text().startswith(schema + "pack.schema.json\n")
    assert goal.read_text().startswith(schema + "goal.schema.json\n")

    diagnostics, count = validate_paths([goal])
    assert count == 1
    assert [d for d in diagnostics if d.severity == "error"] == []
    ruleset = load(goal)
    assert ruleset.workdir == root
    assert "changelog_updated" in ruleset.names
    assert [g.name for g in ruleset.subgoals][-1] == "Project"
    assert "myproject" in goal.read_text()

    pack.write_text("# mine\n")
    with pytest.raises(ScaffoldExistsError) as caught:
        scaffold(root)
    assert isinstance(caught.value, FileExistsError | SourceError)
    assert str(pack) in str(caught.value) and str(goal) in str(caught.value)
    assert pack.read_text() == "# mine\n"

    goal.unlink()  # one existing file is enough to write nothing
    with pytest.raises(SourceError, match="project.yaml"):
        scaffold(root)
    assert not goal.exists()

    assert scaffold(root, force=True) == [pack, goal]
    assert pack.read_text().startswith(schema)
