"""When to try a registry request again, and how long to wait first."""

from __future__ import annotations

from dataclasses import dataclass

# Statuses that say "not now" rather than "no": overload, gateway trouble, rate limits.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    # Tries in all, the first included.
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1-based).

        Exponential backoff; a server's Retry-After is honoured when longer, up to max_delay.
        """
        backoff = min(self.base_delay * (2 ** (failures - 1)), self.max_delay)
        if retry_after is not None and retry_after > backoff:
            return min(retry_after, self.max_delay)
        return backoff

    def should_retry(self, failures: int) -> bool:
        return failures < self.attempts


def retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from registries; it is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
