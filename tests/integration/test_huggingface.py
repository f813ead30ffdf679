"""The ``hf.*`` built-ins: huggingface_hub against a local fake Hub, and the
local registry used without a token."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import hook_context, serving
from fakes.hf_server import FakeHub

from goap_engine.integrations import IntegrationError
from goap_engine.integrations import huggingface as hf

TOKEN = "hf-test-token"
REPO = "acme/tiny-model"


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with serving(FakeHub(token=TOKEN)) as fake:
        yield fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    (model / "tokenizer").mkdir(parents=True)
    (model / "model.onnx").write_bytes(b"\x08\x01onnx-weights" * 50)
    (model / "config.json").write_text('{"layers": 2}\n')
    (model / "tokenizer" / "vocab.json").write_text('{"cat": 0}\n')
    (model / "scratch.tmp").write_text("not for publishing\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "card.md").write_text("---\nlicense: mit\n---\n# Tiny\n")
    return tmp_path


@pytest.fixture
def make(hub: FakeHub, project: Path):
    """Build a context for the fake Hub; ``env`` defaults to the token."""

    def _make(env: dict[str, str] | None = None, **args: Any) -> Any:
        base: dict[str, Any] = {
            "repo_id": REPO,
            "folder": "model",
            "allow_patterns": ["*.onnx", "*.json"],
            "card": "docs/card.md",
            "endpoint": hub.url,
        }
        base.update(args)
        return hook_context(project, base, {"HF_TOKEN": TOKEN} if env is None else env)

    return _make


def test_upload_creates_the_repo_and_commits_files_and_card(
    hub: FakeHub, make, project: Path
) -> None:
    assert hf.repo_exists(make()) is False
    assert hf.uploaded(make()) is False
    ctx = make()
    oid = hf.upload(ctx)
    repo = hub.repo(REPO)
    assert oid == repo.sha
    assert oid in ctx.lines[-1]
    assert sorted(repo.files) == [
        ".gitattributes",
        "README.md",
        "config.json",
        "model.onnx",
        "tokenizer/vocab.json",
    ]
    assert repo.files["README.md"] == (project / "docs" / "card.md").read_bytes()
    assert repo.files["model.onnx"] == (project / "model" / "model.onnx").read_bytes()
    assert len(repo.commits) == 2  # the repository's first commit, then ours
    assert repo.private is False
    assert hf.repo_exists(make()) is True
    assert hf.uploaded(make()) is True


def test_uploading_identical_files_again_makes_no_commit(hub: FakeHub, make) -> None:
    first = hf.upload(make())
    posts = len(hub.calls("POST", "/commit/"))
    ctx = make()
    assert hf.upload(ctx) == first
    assert len(hub.repo(REPO).commits) == 2
    assert len(hub.calls("POST", "/commit/")) == posts
    assert "already holds these 4 files" in ctx.lines[-1]


def test_the_library_upload_folder_skips_unchanged_files_too(
    hub: FakeHub, make, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake's preupload oids let huggingface_hub's own no-op check work."""
    from huggingface_hub import HfApi, constants

    # The fake speaks LFS, not Xet (see fakes/README.md).
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)

    hf.upload(make(card=None))
    before = hub.repo(REPO).sha
    api = HfApi(endpoint=hub.url, token=TOKEN)
    info = api.upload_folder(
        repo_id=REPO, folder_path=project / "model", allow_patterns=["*.onnx", "*.json"]
    )
    assert info.oid == before
    assert len(hub.repo(REPO).commits) == 2


def test_a_changed_file_is_the_only_one_uploaded(
    hub: FakeHub, make, project: Path
) -> None:
    hf.upload(make())
    (project / "model" / "config.json").write_text('{"layers": 3}\n')
    assert hf.uploaded(make()) is False
    oid = hf.upload(make())
    commit = hub.repo(REPO).commits[-1]
    assert commit.oid == oid
    assert commit.added == ["config.json"]
    assert hf.uploaded(make()) is True


def test_private_repositories_need_the_token_to_be_seen(hub: FakeHub, make) -> None:
    hf.upload(make(private=True))
    assert hub.repo(REPO).private is True
    assert hf.repo_exists(make()) is True
    assert hf.repo_exists(make(env={})) is False
    assert hf.uploaded(make(env={})) is False


def test_the_endpoint_comes_from_hf_endpoint_and_other_repo_types_work(
    hub: FakeHub, make
) -> None:
    env = {"HF_TOKEN": TOKEN, "HF_ENDPOINT": hub.url}
    oid = hf.upload(make(env=env, endpoint=None, repo_type="dataset"))
    assert hub.repo(REPO, "dataset").sha == oid
    assert hf.uploaded(make(env=env, endpoint=None, repo_type="dataset")) is True
    assert hf.repo_exists(make(env=env, endpoint=None)) is False  # no model repo


def test_upload_without_a_token_fails_before_any_request(hub: FakeHub, make) -> None:
    with pytest.raises(IntegrationError, match="HF_TOKEN is not set"):
        hf.upload(make(env={}))
    with pytest.raises(IntegrationError, match="HUB_WRITE is not set"):
        hf.upload(make(token_env="HUB_WRITE"))
    assert hub.requests == []


def test_a_wrong_token_is_reported_without_echoing_it(make) -> None:
    secret = "hf-wrong-token"
    with pytest.raises(
        IntegrationError,
        match="creating acme/tiny-model failed: the token in HF_TOKEN was refused",
    ) as info:
        hf.upload(make(env={"HF_TOKEN": secret}))
    assert secret not in str(info.value)


def test_a_missing_card_or_empty_selection_is_an_error(hub: FakeHub, make) -> None:
    with pytest.raises(IntegrationError, match="model card 'docs/nope.md'"):
        hf.upload(make(card="docs/nope.md"))
    with pytest.raises(IntegrationError, match="no file in 'model' matches"):
        hf.upload(make(card=None, allow_patterns=["*.safetensors"]))
    assert hf.uploaded(make(folder="missing")) is False
    assert hub.requests == []


# -- local registry ----------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_local_writes_a_versioned_folder_with_a_manifest(
    make, project: Path
) -> None:
    ctx = make(env={}, registry="registry")
    assert hf.published_local(ctx) is False
    target = Path(hf.publish_local(ctx))
    assert target.parent == project / "registry" / "acme" / "tiny-model"
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["repo_id"] == REPO
    assert manifest["version"] == target.name
    assert sorted(manifest["files"]) == [
        "README.md",
        "config.json",
        "model.onnx",
        "tokenizer/vocab.json",
    ]
    for path, entry in manifest["files"].items():
        assert entry["sha256"] == _sha256(target / path)
        assert entry["size"] == (target / path).stat().st_size
    assert not (target / "scratch.tmp").exists()
    assert hf.published_local(make(env={})) is True


def test_publish_local_is_idempotent_and_content_addressed(make, project: Path) -> None:
    first = hf.publish_local(make(env={}))
    ctx = make(env={})
    assert hf.publish_local(ctx) == first
    assert ctx.lines == [f"already published: {first}"]
    versions = project / "registry" / "acme" / "tiny-model"
    assert [p.name for p in versions.iterdir()] == [Path(first).name]

    (project / "model" / "model.onnx").write_bytes(b"new weights")
    assert hf.published_local(make(env={})) is False
    second = hf.publish_local(make(env={}))
    assert second != first
    # Only the two versions: no staging folder is left behind.
    assert sorted(p.name for p in versions.iterdir()) == sorted(
        [Path(first).name, Path(second).name]
    )


def test_an_explicit_version_is_never_overwritten(make) -> None:
    target = hf.publish_local(make(env={}, version="1.0.0"))
    assert target.endswith("/1.0.0")
    assert hf.publish_local(make(env={}, version="1.0.0")) == target
    with pytest.raises(IntegrationError, match="already holds different files"):
        hf.publish_local(make(env={}, version="1.0.0", card=None))


def test_publish_local_writes_only_inside_the_project(
    make, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere")
    (project / "linked").symlink_to(outside)
    for registry in (str(outside), "../" + outside.name, "linked"):
        with pytest.raises(IntegrationError) as caught:
            hf.publish_local(make(env={}, registry=registry))
        assert "is outside the project" in str(caught.value)
        assert "'policy: {allow_outside: true}'" in str(caught.value)
    assert list(outside.iterdir()) == []
    allowed = make(env={}, registry=str(outside))
    allowed.extra["allow_outside"] = True
    assert Path(hf.publish_local(allowed)).parent.parent.parent == outside
