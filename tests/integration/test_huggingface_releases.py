"""Releases on the Hub: the LFS path of a large binary, branches, tags, files
deleted from the folder, Spaces and a model card written from the metrics."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes import hook_context, serving
from fakes.hf_server import LFS_THRESHOLD, FakeHub

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
    model.mkdir()
    (model / "config.json").write_text('{"layers": 2}\n')
    (model / "labels.txt").write_text("cat\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "evaluation.json").write_text(
        json.dumps({"accuracy": 0.93, "fid": 41.2, "per_breed": {"siamese": 0.9}})
    )
    return tmp_path


@pytest.fixture
def make(hub: FakeHub, project: Path):
    def _make(**args: Any) -> Any:
        base: dict[str, Any] = {"repo_id": REPO, "folder": "model", "endpoint": hub.url}
        base.update(args)
        return hook_context(project, base, {"HF_TOKEN": TOKEN})

    return _make


def test_a_binary_over_10_mb_goes_through_the_lfs_path(
    hub: FakeHub, make, project: Path
) -> None:
    weights = os.urandom(LFS_THRESHOLD + 4096)
    (project / "model" / "model.onnx").write_bytes(weights)
    oid = hf.upload(make())
    order = [
        (r.method, r.path.split("/")[-1] if "lfs-storage" in r.path else r.path)
        for r in hub.requests
        if "preupload" in r.path
        or ".git/info/lfs" in r.path
        or "lfs-storage" in r.path
        or "/commit/" in r.path
    ]
    sha256 = hf.local_files(make())["model.onnx"].sha256
    assert order == [
        ("POST", f"/api/models/{REPO}/preupload/main"),
        ("POST", f"/{REPO}.git/info/lfs/objects/batch"),
        ("PUT", sha256),
        ("POST", f"/{REPO}.git/info/lfs/objects/verify"),
        ("POST", f"/api/models/{REPO}/commit/main"),
    ]
    assert not [r for r in hub.requests if "xet" in r.path]
    batch = hub.calls("POST", "/info/lfs/objects/batch")[0]
    assert batch.headers["accept"] == "application/vnd.git-lfs+json"
    assert batch.json()["objects"] == [{"oid": sha256, "size": len(weights)}]
    assert hub.calls("PUT", "/lfs-storage/")[0].body == weights
    commit = [
        json.loads(line) for line in hub.calls("POST", "/commit/")[0].body.splitlines()
    ]
    assert {
        "key": "lfsFile",
        "value": {
            "path": "model.onnx",
            "algo": "sha256",
            "oid": sha256,
            "size": len(weights),
        },
    } in commit
    repo = hub.repo(REPO)
    assert repo.sha == oid
    assert repo.files["model.onnx"] == weights
    assert repo.branches["main"].lfs == {"model.onnx"}
    assert hf.uploaded(make()) is True
    # The same bytes again: the LFS store already holds them, nothing is sent.
    (project / "model" / "config.json").write_text('{"layers": 3}\n')
    hf.upload(make())
    assert len(hub.calls("PUT", "/lfs-storage/")) == 1
    assert hub.repo(REPO).commits[-1].added == ["config.json"]


def test_a_missing_revision_branch_is_created_from_main(hub: FakeHub, make) -> None:
    ctx = make(revision="release")
    oid = hf.upload(ctx)
    assert ctx.lines[0] == f"created branch release of {REPO}"
    repo = hub.repo(REPO)
    assert repo.branches["release"].head == oid
    assert sorted(repo.branches["release"].files) == [
        ".gitattributes",
        "config.json",
        "labels.txt",
    ]
    assert sorted(repo.files) == [".gitattributes"]  # main is untouched
    assert hf.uploaded(make(revision="release")) is True
    assert hf.uploaded(make()) is False
    again = make(revision="release")
    assert hf.upload(again) == oid
    assert not any("created branch" in line for line in again.lines)


def test_a_tag_names_the_uploaded_commit_and_never_moves(
    hub: FakeHub, make, project: Path
) -> None:
    oid = hf.upload(make(tag="v1.0"))
    assert hub.repo(REPO).tags == {"v1.0": oid}
    ctx = make(tag="v1.0")
    assert hf.upload(ctx) == oid
    assert ctx.lines[-1] == f"tag v1.0 already names {oid}"
    (project / "model" / "config.json").write_text('{"layers": 3}\n')
    commits = len(hub.repo(REPO).commits)
    with pytest.raises(IntegrationError) as caught:
        hf.upload(make(tag="v1.0"))
    assert str(caught.value) == (
        f"tag 'v1.0' of {REPO} already names commit {oid}, not these files: "
        "tags are not moved, release under a new tag"
    )
    assert len(hub.repo(REPO).commits) == commits
    new = hf.upload(make(tag="v1.1"))
    assert hub.repo(REPO).tags == {"v1.0": oid, "v1.1": new}


def test_files_gone_from_the_folder_are_deleted_from_the_hub(
    hub: FakeHub, make, project: Path
) -> None:
    (project / "model" / "old.onnx").write_bytes(b"stale weights")
    hf.upload(make())
    (project / "model" / "old.onnx").unlink()
    assert hf.uploaded(make()) is False
    ctx = make()
    oid = hf.upload(ctx)
    commit = hub.repo(REPO).commits[-1]
    assert (commit.oid, commit.added, commit.deleted) == (oid, [], ["old.onnx"])
    assert "deleted 1 (old.onnx)" in ctx.lines[-1]
    assert sorted(hub.repo(REPO).files) == [
        ".gitattributes",
        "config.json",
        "labels.txt",
    ]
    assert hf.uploaded(make()) is True


def test_delete_missing_false_keeps_remote_files_and_ignores_them(
    hub: FakeHub, make, project: Path
) -> None:
    hf.upload(make())
    (project / "model" / "labels.txt").unlink()
    assert hf.uploaded(make(delete_missing=False)) is True
    commits = len(hub.repo(REPO).commits)
    hf.upload(make(delete_missing=False))
    assert len(hub.repo(REPO).commits) == commits
    assert "labels.txt" in hub.repo(REPO).files


def test_only_files_of_the_selection_are_deleted(
    hub: FakeHub, make, project: Path
) -> None:
    hf.upload(make())
    (project / "model" / "labels.txt").unlink()
    hf.upload(make(allow_patterns=["*.json"]))
    assert "labels.txt" in hub.repo(REPO).files


def test_a_space_needs_its_sdk(hub: FakeHub, make) -> None:
    with pytest.raises(IntegrationError) as caught:
        hf.upload(make(repo_type="space"))
    assert str(caught.value) == (
        "repo_type 'space' needs 'space_sdk' (gradio, streamlit, docker, static): "
        "the Hub creates a Space for one SDK"
    )
    assert hub.requests == []
    oid = hf.upload(make(repo_type="space", space_sdk="gradio"))
    space = hub.repo(REPO, "space")
    assert (space.sdk, space.sha) == ("gradio", oid)
    assert hf.uploaded(make(repo_type="space")) is True


def _card(hub: FakeHub) -> tuple[dict[str, Any], str]:
    text = hub.repo(REPO).files["README.md"].decode()
    _, matter, body = text.split("---\n", 2)
    return yaml.safe_load(matter), body


def test_a_card_is_generated_from_the_metrics(hub: FakeHub, make) -> None:
    hf.upload(make(metrics="reports/evaluation.json", task="image-classification"))
    front, body = _card(hub)
    assert front == {
        "model-index": [
            {
                "name": "tiny-model",
                "results": [
                    {
                        "task": {"type": "image-classification"},
                        "dataset": {"name": "evaluation", "type": "evaluation"},
                        "metrics": [
                            {"type": "accuracy", "value": 0.93, "name": "accuracy"},
                            {"type": "fid", "value": 41.2, "name": "fid"},
                            {
                                "type": "per_breed.siamese",
                                "value": 0.9,
                                "name": "per_breed.siamese",
                            },
                        ],
                    }
                ],
            }
        ]
    }
    assert "| accuracy | 0.93 |" in body
    same = make(metrics="reports/evaluation.json", task="image-classification")
    assert hf.uploaded(same) is True


def test_the_metrics_go_into_a_given_card_keeping_the_rest(
    hub: FakeHub, make, project: Path
) -> None:
    (project / "card.md").write_text(
        "---\nlicense: mit\npipeline_tag: image-classification\n---\n# Tiny\n"
    )
    hf.upload(make(card="card.md", metrics="reports/evaluation.json", dataset="cats"))
    front, body = _card(hub)
    assert front["license"] == "mit"
    result = front["model-index"][0]["results"][0]
    assert result["task"] == {"type": "image-classification"}
    assert result["dataset"] == {"name": "cats", "type": "cats"}
    assert body == "\n# Tiny\n"
    (project / "reports" / "evaluation.json").write_text('{"accuracy": 0.95}')
    assert hf.uploaded(make(card="card.md", metrics="reports/evaluation.json")) is False


def test_a_bad_metrics_report_is_an_error_before_any_request(
    hub: FakeHub, make, project: Path
) -> None:
    (project / "reports" / "words.json").write_text('{"verdict": "good"}')
    for report, message in (
        (
            "reports/none.json",
            "metrics report 'reports/none.json' does not exist or is not a regular",
        ),
        ("reports/words.json", "metrics report 'reports/words.json' holds no number"),
    ):
        with pytest.raises(IntegrationError, match=message):
            hf.upload(make(metrics=report))
    assert hub.requests == []
