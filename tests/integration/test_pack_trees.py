"""Packs stay in their tree: links, FIFOs, devices, sizes and counts.

Git packs come from real repositories made with the git CLI in tmp_path; local
and installed packs are real folders.  Cases that could hang (a link to
/dev/zero or to a FIFO) run the engine as a process with a timeout, so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from goap_engine.errors import InputError, SourceError
from goap_engine.loader import load
from goap_engine.packtree import (
    MAX_PACK_BYTES,
    MAX_PACK_ENTRIES,
    MAX_PACK_FILE_BYTES,
    check_local_pack,
    digest,
    tree_digest,
)
from goap_engine.sources import Lockfile, cache_dir, export_name, parse_source, resolve

pytest.importorskip("git")

PACK = """\
version: 1
state:
  tagged: bool
actions:
  tag_it:
    effects: {tagged: true}
    run: echo tagged
"""
MIB = 1024 * 1024


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, input=stdin
    )
    return result.stdout.strip()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep git and the cache away from the real home."""
    for key in list(os.environ):
        if key.startswith("GIT_") or key in ("XDG_CACHE_HOME", "GOAP_CACHE_DIR"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GOAP_CACHE_DIR", str(tmp_path / "cache"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Pack Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Return an empty repository whose packs/git.yaml is a valid pack."""
    path = tmp_path / "origin"
    (path / "packs").mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch", "main")
    (path / "packs" / "git.yaml").write_text(PACK)
    return path


def commit(repo: Path, links: dict[str, str] | None = None) -> None:
    """Add ``links`` (path -> target) to the work tree and commit everything."""
    for rel, target in (links or {}).items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "packs")


def exports() -> list[str]:
    trees = cache_dir() / "trees"
    return sorted(p.name for p in trees.iterdir()) if trees.exists() else []


def refused(spec: str, tmp_path: Path) -> str:
    """Return the message resolving ``spec`` fails with; nothing is left cached."""
    lock = Lockfile(tmp_path / "goap.lock")
    before = exports()
    with pytest.raises(SourceError) as caught:
        resolve(parse_source(spec), base=tmp_path, lock=lock)
    assert lock.entries == {}
    assert exports() == before
    return str(caught.value)


# ---------------------------------------------------------------------------
# Links in git packs

# Eleven folders deep, ``up`` climbs exactly back to the repository's root, so
# each link reads as inside the repository; followed, ``x.yaml`` climbs on
# from there up to / and reaches /etc/hostname.
DEEP = "deep/a/b/c/d/e/f/g/h/i"
CLIMB = "/".join([".."] * 10)


@pytest.mark.parametrize(
    ("sub", "links", "culprit", "target", "where"),
    [
        pytest.param(
            "",
            {f"{DEEP}/up": CLIMB, f"{DEEP}/x.yaml": f"up/{CLIMB}/etc/hostname"},
            f"{DEEP}/x.yaml",
            f"up/{CLIMB}/etc/hostname",
            "outside the pack",
            id="chain-to-etc",
        ),
        pytest.param(
            "packs",
            {"packs/sub": "..", "packs/a.yaml": "sub/../README.md"},
            "packs/a.yaml",
            "sub/../README.md",
            "outside the pack",
            id="a-sub-dotdot",
        ),
        pytest.param(
            "",
            {"packs/inner/y": "../..", "packs/inner/x.yaml": "y/../../README.md"},
            "packs/inner/x.yaml",
            "y/../../README.md",
            "outside the pack",
            id="x-y-dotdot",
        ),
        pytest.param(
            "packs",
            {"packs/host.yaml": "/etc/hostname"},
            "packs/host.yaml",
            "/etc/hostname",
            "outside the pack",
            id="absolute",
        ),
        pytest.param(
            "packs",
            {"packs/gone.yaml": "missing.yaml"},
            "packs/gone.yaml",
            "missing.yaml",
            "to nothing",
            id="dangling",
        ),
    ],
)
def test_links_that_leave_the_pack_are_refused(
    repo: Path,
    tmp_path: Path,
    sub: str,
    links: dict[str, str],
    culprit: str,
    target: str,
    where: str,
) -> None:
    (repo / "README.md").write_text("not a pack\n")
    (repo / "packs" / "inner" / "deeper").mkdir(parents=True)
    (repo / "packs" / "inner" / "deeper" / "keep.txt").write_text("")
    for rel in links:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    commit(repo, links)
    spec = f"git+{repo}" + (f"#{sub}" if sub else "")
    assert refused(spec, tmp_path) == (
        f"pack '{spec}': {culprit} is a symbolic link to '{target}', which leads "
        f"{where}; links in a pack must lead to a file or folder inside it"
    )


def test_link_loops_are_refused(repo: Path, tmp_path: Path) -> None:
    commit(repo, {"packs/a.yaml": "b.yaml", "packs/b.yaml": "a.yaml"})
    message = refused(f"git+{repo}#packs", tmp_path)
    assert message.startswith(
        f"pack 'git+{repo}#packs': packs/a.yaml is a symbolic link loop ("
    )


def test_a_path_that_is_a_link_is_refused(repo: Path, tmp_path: Path) -> None:
    commit(repo, {"current": "packs"})
    assert refused(f"git+{repo}#current", tmp_path) == (
        f"pack 'git+{repo}#current': 'current' is a symbolic link to 'packs'; "
        "name the file or folder it leads to instead"
    )


def test_links_inside_the_pack_are_followed_once(repo: Path, tmp_path: Path) -> None:
    """A second name for a file, and a link back up the tree, are fine."""
    commit(repo, {"packs/latest.yaml": "git.yaml", "packs/nested/top": ".."})
    lock = Lockfile(tmp_path / "goap.lock")
    folder = resolve(parse_source(f"git+{repo}#packs"), base=tmp_path, lock=lock)
    assert load(folder / "latest.yaml").action("tag_it").hook is not None
    assert lock.entries[f"git+{repo}#packs"]["sha256"] == tree_digest(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "git.yaml",
        "latest.yaml",
        "nested",
    ]


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_plan_with_a_pack_linking_to_a_device_or_fifo_ends(
    repo: Path, tmp_path: Path, h: SimpleNamespace, kind: str
) -> None:
    """A link into /dev or to a FIFO hung ``plan``: it is refused, unopened."""
    outside = "/dev/zero"
    if kind == "fifo":
        outside = str(tmp_path / "pipe")
        os.mkfifo(outside)
    commit(repo, {"packs/evil.yaml": outside})
    spec = f"git+{repo}#packs"
    goal = tmp_path / "project" / "goal.yaml"
    goal.parent.mkdir()
    goal.write_text(f"version: 1\nuses: ['{spec}']\ngoal: [tagged]\n")
    result = h.run("plan", goal, cwd=goal.parent, env=h.env())
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"goal.yaml:2:8: error: uses: pack '{spec}': packs/evil.yaml is a symbolic "
        f"link to '{outside}', which leads outside the pack; links in a pack must "
        "lead to a file or folder inside it\n"
    )


def test_a_pack_uses_only_paths_inside_itself(repo: Path, tmp_path: Path) -> None:
    """A fetched pack's own ``uses: ../..`` cannot reach files its hash misses."""
    (repo / "packs" / "git.yaml").write_text(PACK + "uses: [../outside.yaml]\n")
    # A path inside the pack is fine.
    (repo / "packs" / "inside.yaml").write_text("version: 1\nuses: [git.yaml]\n")
    (repo / "outside.yaml").write_text(PACK)
    commit(repo)
    spec = f"git+{repo}#packs"
    goal = tmp_path / "goal.yaml"
    goal.write_text(f"version: 1\nuses: ['{spec}']\ngoal: [tagged]\n")
    with pytest.raises(InputError) as caught:
        load(goal)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        "/packs/git.yaml:8:8: error: uses: '../outside.yaml' leads outside pack "
        f"'{spec}': a pack from git or an installed distribution may use only its "
        "own files, shipped packs and other sources"
    )


# ---------------------------------------------------------------------------
# Sizes and counts


def test_a_big_blob_outside_the_path_is_not_read(repo: Path, tmp_path: Path) -> None:
    """Only ``#path`` is exported; a blob over every limit elsewhere is ignored."""
    (repo / "data").mkdir()
    (repo / "data" / "big.bin").write_bytes(os.urandom(20 * MIB))
    commit(repo)
    lock = Lockfile(tmp_path / "goap.lock")
    spec = f"git+{repo}#packs"
    folder = resolve(parse_source(spec), base=tmp_path, lock=lock)
    export = cache_dir() / "trees" / export_name(lock.entries[spec]["commit"], "packs")
    assert folder == export / "packs"
    assert [p.relative_to(export).as_posix() for p in sorted(export.rglob("*"))] == [
        "packs",
        "packs/git.yaml",
    ]
    # The whole repository as a pack does read it, and the limit refuses it.
    assert refused(f"git+{repo}", tmp_path) == (
        f"pack 'git+{repo}': data/big.bin is 20.0 MiB (20,971,520 bytes); a pack "
        "file may hold at most 8.0 MiB"
    )


def test_a_file_over_the_limit_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "packs" / "big.yaml").write_bytes(b"#" * (MAX_PACK_FILE_BYTES + 1))
    commit(repo)
    assert refused(f"git+{repo}#packs", tmp_path) == (
        f"pack 'git+{repo}#packs': packs/big.yaml is 8.0 MiB (8,388,609 bytes); "
        "a pack file may hold at most 8.0 MiB"
    )


def test_a_pack_over_the_total_limit_is_refused(repo: Path, tmp_path: Path) -> None:
    each = MAX_PACK_FILE_BYTES - 1
    count = MAX_PACK_BYTES // each + 1
    for i in range(count):
        (repo / "packs" / f"part{i}.bin").write_bytes(bytes([i]) * each)
    commit(repo)
    message = refused(f"git+{repo}#packs", tmp_path)
    assert message.startswith(
        f"pack 'git+{repo}#packs': its files hold more than 64.0 MiB ("
    )
    assert message.endswith(" bytes so far); a pack may hold at most 64.0 MiB")


def test_a_pack_with_too_many_files_is_refused(repo: Path, tmp_path: Path) -> None:
    # One blob listed under many names: a big tree without writing the files.
    blob = git(repo, "hash-object", "-w", "--stdin", stdin="x\n")
    listing = "".join(
        f"100644 blob {blob}\tf{i:05}.txt\n" for i in range(MAX_PACK_ENTRIES + 1)
    )
    many = git(repo, "mktree", stdin=listing)
    top = git(repo, "mktree", stdin=f"040000 tree {many}\tpacks\n")
    head = git(repo, "commit-tree", top, "-m", "many")
    git(repo, "update-ref", "refs/heads/main", head)
    assert refused(f"git+{repo}#packs", tmp_path) == (
        f"pack 'git+{repo}#packs': more than 10,000 files and folders; a pack may "
        "hold at most 10,000 (name a smaller folder with '#path')"
    )


# ---------------------------------------------------------------------------
# Folders on disk: tree_digest and local packs


def test_tree_digest_never_opens_a_fifo_or_device(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "ok.yaml").write_text(PACK)
    os.mkfifo(pack / "pipe.yaml")
    for follow in (True, False):
        with pytest.raises(SourceError) as caught:
            tree_digest(pack, follow_links=follow, pack="p", shown="pack")
        assert str(caught.value) == (
            "pack 'p': pack/pipe.yaml is a FIFO; a pack holds only regular files "
            "and folders"
        )
    (pack / "pipe.yaml").unlink()
    (pack / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(
        SourceError, match="zero.yaml is a symbolic link to '/dev/zero'"
    ):
        tree_digest(pack, pack="p")
    # Not followed, the link is hashed by its target's name.
    assert tree_digest(pack, follow_links=False) == digest(
        [
            ("ok.yaml", "f", hashlib.sha256(PACK.encode()).hexdigest()),
            ("zero.yaml", "l", hashlib.sha256(b"/dev/zero").hexdigest()),
        ]
    )
    # A device named directly is refused too.
    with pytest.raises(SourceError, match="is a character device"):
        tree_digest(Path("/dev/null"), pack="p")


def test_local_pack_checks_only_what_the_loader_reads(tmp_path: Path) -> None:
    pack = tmp_path / "actions.d"
    (pack / "shared").mkdir(parents=True)
    (pack / "shared" / "build.txt").write_text(PACK)
    (pack / "build.yaml").symlink_to("shared/build.txt")
    (pack / "notes.txt").symlink_to("/etc/hostname")  # not a pack file: not read
    check_local_pack(pack, "actions.d", (".yaml",))
    check_local_pack(pack / "build.yaml", "actions.d/build.yaml", (".yaml",))
    check_local_pack(tmp_path / "absent", "absent", (".yaml",))  # loader reports it

    (pack / "host.yaml").symlink_to("/etc/hostname")
    with pytest.raises(SourceError) as caught:
        check_local_pack(pack, "actions.d", (".yaml",))
    assert str(caught.value) == (
        "pack 'actions.d': actions.d/host.yaml is a symbolic link to "
        "'/etc/hostname', which leads outside the pack; links in a pack must "
        "lead to a file or folder inside it"
    )


def test_installed_pack_links_are_confined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    packs = site / "linkpack" / "packs"
    packs.mkdir(parents=True)
    (site / "linkpack" / "__init__.py").write_text("")
    (packs / "extra.yaml").symlink_to("../../../outside.yaml")
    (tmp_path / "outside.yaml").write_text(PACK)
    info = site / "linkpack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: linkpack\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[goap_engine.packs]\nlinkpack = linkpack:packs\n"
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(SourceError) as caught:
        resolve(
            parse_source("pkg:linkpack"), base=tmp_path, lock=Lockfile(tmp_path / "l")
        )
    assert str(caught.value) == (
        "pack 'pkg:linkpack': extra.yaml is a symbolic link to "
        "'../../../outside.yaml', which leads outside the pack; links in a pack "
        "must lead to a file or folder inside it"
    )


def test_a_cached_export_is_never_read_through_a_fifo_or_link(
    repo: Path, tmp_path: Path
) -> None:
    """The pinned export is hashed without git; an edited one cannot hang it."""
    commit(repo)
    spec = f"git+{repo}#packs"
    lock = Lockfile(tmp_path / "goap.lock")
    folder = resolve(parse_source(spec), base=tmp_path, lock=lock)
    (folder / "git.yaml").unlink()
    os.mkfifo(folder / "git.yaml")
    with pytest.raises(SourceError) as caught:
        resolve(parse_source(spec), base=tmp_path, lock=lock)
    assert str(caught.value) == (
        f"pack '{spec}': packs/git.yaml is a FIFO; a pack holds only regular "
        "files and folders"
    )
    export = folder.parent
    os.rename(folder, export / "moved")
    folder.symlink_to("/etc")
    with pytest.raises(SourceError) as caught:
        resolve(parse_source(spec), base=tmp_path, lock=lock)
    assert str(caught.value) == (
        f"pack '{spec}': {folder} is a symbolic link; remove {export} to have it "
        "exported again"
    )
