#!/usr/bin/env bash
# Build the project's Dockerfile, unchanged, with whatever works on this machine (podman, docker or buildah):
#
#   scripts/build-image.sh [IMAGE]                 # default data-processor:dev
#   PREFECT_IMAGE=registry/prefect:tag scripts/build-image.sh   # build on that base, no pull attempt
#
# The base is the official image the Dockerfile pins (prefecthq/prefect:<version>-python3.11). When it cannot be
# pulled (no Docker Hub here), a stand-in is built from Debian bookworm once (scripts/build-standin-base.sh) and
# passed as the build argument PREFECT_IMAGE. With podman/buildah the host's CA bundle is mounted into the build's
# RUN steps, with a uv config that trusts it, so HTTPS to PyPI works behind a TLS-inspecting proxy; neither file
# ends up in the image.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/container-engine.sh

image=${1:-data-processor:dev}
engine_detect || { echo "$ENGINE_WHY" >&2; exit 1; }

official=$(sed -n 's/^ARG PREFECT_IMAGE=//p' Dockerfile)
[ -n "$official" ] || { echo "Dockerfile: no ARG PREFECT_IMAGE=<default>" >&2; exit 2; }
standin="localhost/prefect-standin:${official##*:}"

has_image() {
  case $ENGINE in
    buildah) buildah inspect --type image "$1" >/dev/null 2>&1 ;;
    *) "${ENGINE_CMD[@]}" image inspect "$1" >/dev/null 2>&1 ;;
  esac
}

base=${PREFECT_IMAGE:-}
if [ -z "$base" ]; then
  [ "$ENGINE" = docker ] && ref=$official || ref=docker.io/$official
  if has_image "$ref" || timeout 120 "${ENGINE_CMD[@]}" pull --quiet "$ref" >/dev/null 2>&1; then
    base=$ref
  else
    echo "cannot pull $official: building on a stand-in ($standin)"
    scripts/build-standin-base.sh "$standin"
    base=$standin
  fi
fi

args=(--tag "$image" --build-arg "PREFECT_IMAGE=$base" --file Dockerfile)
case $ENGINE in
  docker) DOCKER_BUILDKIT=1 docker build "${args[@]}" . ;;
  *)
    ca=/etc/ssl/certs/ca-certificates.crt
    if [ -s "$ca" ]; then
      uv_toml="$(dirname "$(engine_conf)")/uv-system-certs.toml"
      [ -s "$uv_toml" ] || echo 'system-certs = true' >"$uv_toml"
      args+=(--volume "$ca:$ca:ro" --volume "$uv_toml:/etc/uv/uv.toml:ro")
    fi
    [ "$ENGINE" = podman ] && build=(build) || build=(bud)
    "${ENGINE_CMD[@]}" "${build[@]}" --isolation chroot --layers --pull=false "${args[@]}" . ;;
esac
echo "built $image on $base"
