"""structlog set-up shared by every process: one event per line, key=value or JSON."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import structlog

LEVELS = ("debug", "info", "warning", "error")


def add_flags(p: argparse.ArgumentParser) -> None:
    """--log-level and --log-format, as every service takes them."""
    p.add_argument("--log-level", default="info", choices=LEVELS)
    p.add_argument("--log-format", default="text", choices=("text", "json"))


def configure(level: str = "info", json: bool = False, service: str = "") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    # Libraries (urllib3, grpc) log through stdlib logging: same one-line key=value shape.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StdlibFormatter(json, service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.processors.KeyValueRenderer(
            key_order=["ts", "level", "service", "event"], drop_missing=True
        )
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    if service:
        processors.append(_add_service(service))
    processors += [structlog.processors.format_exc_info, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class _StdlibFormatter(logging.Formatter):
    def __init__(self, json: bool, service: str) -> None:
        super().__init__()
        self.json = json
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        import json as jsonlib

        fields = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        if self.json:
            return jsonlib.dumps(fields)
        return " ".join(f"{k}={v!r}" for k, v in fields.items() if v)


def _add_service(service: str) -> Any:
    def add(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return add


def get(name: str = "") -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
