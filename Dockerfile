# One image for the three services; docker-compose.yml picks the command for each.
FROM python:3.11-slim-bookworm
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protos protos
COPY gen gen
COPY services services
COPY cli cli
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /
