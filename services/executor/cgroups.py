"""Which cgroup hierarchy the host has, detected once at start-up.

- "v2": the unified hierarchy alone (cgroup.controllers at /sys/fs/cgroup);
- "hybrid": v1 controllers in /sys/fs/cgroup/<controller> plus cgroup2 at
  /sys/fs/cgroup/unified (no controllers in use there, in practice);
- "v1": v1 controllers only;
- "none": no cgroup filesystem mounted.
"""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def detect_mode(root: str = CGROUP_ROOT) -> str:
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "v2"
    if os.path.exists(os.path.join(root, "unified", "cgroup.controllers")):
        return "hybrid"
    try:
        if any(os.path.isdir(os.path.join(root, n)) for n in os.listdir(root)):
            return "v1"
    except (FileNotFoundError, NotADirectoryError):
        pass
    return "none"
