#!/usr/bin/env bash
# Builds the SWE sandbox images offline (Debian via debootstrap + docker import, pip from the package index only):
#   docker/build.sh base                  the base image (skipped when its recipe hash is unchanged)
#   docker/build.sh repo DIR [DIR ...]    one image per prepared repository (a git work tree + requirements.txt)
#   docker/build.sh adopt IMAGE           make a SWE-bench-style image usable by the docker backend
# See docker/build.py for the options.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
exec "$PYTHON" "$(dirname "$0")/build.py" "$@"
