#!/usr/bin/env bash
# A stand-in for Prefect's official image, built from Debian bookworm packages, for machines that cannot pull it:
#
#   scripts/build-standin-base.sh NAME     # builds image NAME unless it already exists
#
# It has what the project's Dockerfile relies on in prefecthq/prefect:<version>-python3.11: Python 3.11 with pip and
# venv at /usr/local/bin (not marked "externally managed"), tini, /opt/prefect/entrypoint.sh that execs its
# arguments behind tini, WORKDIR /opt/prefect, and build-essential (the Dockerfile purges it). Prefect itself is not
# in it: the Dockerfile installs its own, pinned, into /opt/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/container-engine.sh

name=${1:?usage: $0 IMAGE-NAME}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
engine_detect || { echo "$ENGINE_WHY" >&2; exit 1; }

exists() {
  case $ENGINE in
    buildah) buildah inspect --type image "$name" >/dev/null 2>&1 ;;
    *) "${ENGINE_CMD[@]}" image inspect "$name" >/dev/null 2>&1 ;;
  esac
}
if exists; then echo "stand-in base $name: already built"; exit 0; fi
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is needed to build the stand-in base (apt-get install mmdebstrap)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
entrypoint='#!/usr/bin/env bash
set -e
exec "$@"'
mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,python3-venv,tini,build-essential,ca-certificates \
  --customize-hook='for f in python python3 python3.11; do ln -sf /usr/bin/python3.11 "$1/usr/local/bin/$f"; done' \
  --customize-hook='ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"; ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip3"' \
  --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
  --customize-hook="mkdir -p \"\$1/opt/prefect\"; printf '%s\n' '$entrypoint' >\"\$1/opt/prefect/entrypoint.sh\"; chmod 755 \"\$1/opt/prefect/entrypoint.sh\"" \
  bookworm "$work/rootfs.tar" "$mirror" </dev/null

config=(
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  'ENV LANG=C.UTF-8'
  'ENV LC_ALL=C.UTF-8'
  'WORKDIR /opt/prefect'
  'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"]'
)
case $ENGINE in
  buildah)
    container=$(buildah from scratch)
    buildah add "$container" "$work/rootfs.tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
      --env LC_ALL=C.UTF-8 --workingdir /opt/prefect \
      --entrypoint '["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"]' "$container"
    buildah commit --quiet --rm "$container" "$name" >/dev/null ;;
  *)
    changes=(); for c in "${config[@]}"; do changes+=(--change "$c"); done
    [ "$ENGINE" = docker ] || changes+=(--quiet)
    "${ENGINE_CMD[@]}" import "${changes[@]}" "$work/rootfs.tar" "$name" >/dev/null ;;
esac
echo "stand-in base $name: built from Debian bookworm"
