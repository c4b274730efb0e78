#!/usr/bin/env bash
# The container tool of this machine, with the flags it needs here. Sourced by the other scripts, or run:
#
#   scripts/container-engine.sh --which        # prints podman, docker or buildah; exit 1 with the reason if none
#   scripts/container-engine.sh run --rm IMG   # runs the engine (podman or docker) with these arguments
#
# A tool counts only if it works: a docker CLI without a reachable engine is skipped. podman comes first, then docker,
# then buildah (build only); CONTAINER_ENGINE=docker (or podman, buildah) allows only that one.
# On VMs with cgroups in hybrid mode and no crun support for rlimits, podman/buildah need runc, the cgroupfs manager
# and a containers.conf without default ulimits; this writes that file (once) unless CONTAINERS_CONF is set.

engine_conf() {
  local conf="${XDG_CACHE_HOME:-$HOME/.cache}/data-processor/containers.conf"
  mkdir -p "$(dirname "$conf")"
  [ -s "$conf" ] || printf '[containers]\ndefault_ulimits = []\n' >"$conf"
  echo "$conf"
}

engine_allowed() { [ -z "${CONTAINER_ENGINE:-}" ] || [ "$CONTAINER_ENGINE" = "$1" ]; }

# Sets ENGINE (podman, docker or buildah) and ENGINE_CMD (the command with its global flags), or returns 1 with
# ENGINE_WHY set to the reason.
engine_detect() {
  ENGINE="" ENGINE_CMD=() ENGINE_WHY=""
  local global=()
  if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && command -v runc >/dev/null; then
    global=(--runtime runc --cgroup-manager cgroupfs)  # cgroups v1/hybrid: crun refuses them
  fi
  if command -v podman >/dev/null || command -v buildah >/dev/null; then
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$(engine_conf)}"
  fi
  if engine_allowed podman && command -v podman >/dev/null && podman "${global[@]}" info >/dev/null 2>&1; then
    ENGINE=podman ENGINE_CMD=(podman "${global[@]}")
  elif engine_allowed docker && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    ENGINE=docker ENGINE_CMD=(docker)
  elif engine_allowed buildah && command -v buildah >/dev/null && buildah info >/dev/null 2>&1; then
    ENGINE=buildah ENGINE_CMD=(buildah)
  else
    ENGINE_WHY="no working ${CONTAINER_ENGINE:-podman, docker or buildah} (docker needs a running engine; install podman buildah runc)"
    command -v docker >/dev/null && ENGINE_WHY="$ENGINE_WHY; docker: $(docker info 2>&1 | grep -m1 -i 'cannot\|error')"
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  engine_detect || { echo "$ENGINE_WHY" >&2; exit 1; }
  if [ "${1:-}" = "--which" ]; then echo "$ENGINE"; exit 0; fi
  [ "$ENGINE" != buildah ] || { echo "buildah builds images but cannot run them: install podman" >&2; exit 1; }
  exec "${ENGINE_CMD[@]}" "$@"
fi
