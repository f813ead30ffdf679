#!/usr/bin/env bash
# Run the seed's production goal on a temporary copy of examples/tiny-cats,
# fully offline: a local bare repository stands in for GitHub, the test suite
# for CI, a registry folder for the Hugging Face Hub, and MLflow logs to a
# local store.  The example itself is never modified.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${GOAP_BIN:-$here/../.venv/bin}"
work="$(mktemp -d "${TMPDIR:-/tmp}/goap-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cp -R "$here/tiny-cats" "$work/tiny-cats"
git init --quiet --bare --initial-branch=main "$work/origin.git"
cd "$work/tiny-cats"
export GIT_AUTHOR_NAME="goap demo" GIT_AUTHOR_EMAIL="demo@example.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git init --quiet --initial-branch=main
git add README.md .gitignore goals.d ci frontend model reports tests
git commit --quiet --message "chore: project before the deployment work"
git remote add origin "$work/origin.git"
git push --quiet origin main
# Hooks such as `python -m pytest` must find the engine's environment.
export PATH="$bin:$PATH"
# No tokens: the planner takes the offline routes (local CI, local registry).
unset GITHUB_TOKEN HF_TOKEN MODAL_TOKEN_ID MODAL_TOKEN_SECRET || true
export NO_COLOR=1

echo "== goap-engine plan goals.d/production.yaml"
goap-engine plan goals.d/production.yaml
echo
echo "== goap-engine run goals.d/production.yaml --yes"
status=0
goap-engine run goals.d/production.yaml --yes || status=$?
echo
echo "== git log --oneline origin/feature/production-deployment-2026"
git log --oneline "origin/feature/production-deployment-2026" 2>/dev/null || true
echo "== published: $(find registry -name manifest.json 2>/dev/null | head -1)"
echo "== goap-engine history goals.d/production.yaml"
goap-engine history goals.d/production.yaml
exit "$status"
