#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs one live migration of a real etcd
# cluster between two emulated seeds (docs/lab.md), printing the steps as they happen and a
# summary. Arguments go to seedhop-lab (try --help: size, strategy, write rate, faults, --json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
echo "== building (first time: a few minutes)"
bash scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release --target seedhop-lab >/dev/null
exec build/release/test/lab/seedhop-lab "$@"
