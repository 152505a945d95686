#!/usr/bin/env bash
# Wheels of the notebook stack (papermill, nbformat, nbclient, ipykernel, jupyter_client, pyzmq, pytest and their
# dependencies; no torch) for the GPU machine, which has torch, timm and OpenCV but no package index.
# Binary wheels for CPython 3.10-3.12 on manylinux x86_64; about 25 MB (the device tool carries at most 64 MiB).
#   benchmarks/build_wheelhouse.sh [DIR]        # default: benchmarks/wheelhouse (ignored by git)
set -euo pipefail
DIR=${1:-"$(dirname "$0")/wheelhouse"}
mkdir -p "$DIR"
for version in 3.10 3.11 3.12; do
  python -m pip download -q -d "$DIR" --only-binary=:all: --implementation cp --python-version "$version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --platform linux_x86_64 papermill nbformat nbclient ipykernel jupyter_client pyzmq pytest
done
du -sh "$DIR"
