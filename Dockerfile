# One image for the three services; docker-compose.yml picks the command for each.
FROM python:3.11-slim-bookworm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protos protos
COPY gen gen
COPY services services
COPY cli cli
# The per-container monitor is C (see services/executor/monitor.c); tini is --init.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev tini libseccomp2 \
    && cc -O2 -Wall -Wextra -o /usr/local/bin/caisson-monitor services/executor/monitor.c \
    && pip install --no-cache-dir . && rm -rf /src \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
WORKDIR /
