# syntax=docker/dockerfile:1
#
# The one image of the project: the Prefect worker runs it, and so does every flow-run Job (one pod per file).
#
#   docker build -t registry.example.com/data-processor:0.1.0 .
#   docker run --rm registry.example.com/data-processor:0.1.0                 # prints `data-processor --help`
#
# Stage 1 (build) installs the runtime dependencies, pinned by requirements.lock, and the project into a virtualenv.
# Stage 2 (runtime) copies that virtualenv and the project files; no compiler reaches it, and it runs as uid 10001.
# tests/deploy/test_dockerfile.py checks the invariants stated in the comments below.

# Prefect's official image: the Python, tini and entrypoint Prefect's workers expect.
# Keep the tag equal to the prefect pin in requirements.lock.
ARG PREFECT_IMAGE=prefecthq/prefect:3.8.8-python3.11

# ---------------------------------------------------------------------------------------------------------------------
FROM ${PREFECT_IMAGE} AS build

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The same uv as the Makefile, whatever version the base image ships.
RUN python -m pip install --no-cache-dir uv==0.13.9 \
    && python -m venv /opt/venv

WORKDIR /src

# Dependencies first (a layer that changes only with the lock): the runtime extras of pyproject.toml, every version
# taken from requirements.lock. The test-only tools in the lock (pytest, helm-python-sdk, ...) stay out.
COPY requirements.lock pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /opt/venv/bin/python --constraint requirements.lock \
        --requirement pyproject.toml --extra postgres --extra mariadb --extra s3 --extra flows

# Then the project itself (its dependencies are already there).
COPY data_processor/ data_processor/
COPY flows/ flows/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /opt/venv/bin/python --no-deps .

# ---------------------------------------------------------------------------------------------------------------------
FROM ${PREFECT_IMAGE} AS runtime

LABEL org.opencontainers.image.title="data-processor" \
      org.opencontainers.image.description="Load a folder of CSV files into one SQL table (engine + Prefect flows)."

# Prefect's image ships build-essential; nothing here compiles at run time, so the compilers go (and the build fails
# if one is left). apt's autoremove keeps what an installed package only suggests (apt suggests dpkg-dev, which
# keeps make and, through libdpkg-perl, gcc), so that rule is off for this purge. Then the unprivileged user the pods
# run as: uid/gid 10001, home /tmp (the only writable path when the root filesystem is read-only).
RUN apt-get purge -y --auto-remove build-essential -o APT::AutoRemove::SuggestsImportant=false \
    && rm -rf /var/lib/apt/lists/* \
    && if command -v gcc || command -v cc || command -v make; then echo "compilers left in the image" >&2; exit 1; fi \
    && groupadd --system --gid 10001 dataproc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin dataproc

COPY --from=build /opt/venv /opt/venv

# Must equal prefect.yaml's pull step `set_working_directory`: flow runs import their entrypoints from here.
WORKDIR /opt/data-processor

# Owned by root, read-only for the runtime user. logging.yml: the JSON logging config (PREFECT_LOGGING_CONFIG_PATH).
COPY prefect.yaml logging.yml ./
COPY data_processor/ data_processor/
COPY flows/ flows/

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    PREFECT_HOME=/tmp/.prefect \
    PREFECT_LOGGING_CONFIG_PATH=/opt/data-processor/logging.yml

# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001

# ENTRYPOINT is the base image's (tini -> /opt/prefect/entrypoint.sh -> exec "$@"). The worker and the Jobs pass
# their own arguments (`prefect worker start ...`, `prefect flow-run execute`).
CMD ["data-processor", "--help"]
