"""config.json as untrusted data: every field llmmem reads, checked for type and range before any count.

A config can come from anyone (a Hub repo, a file, a share link's model), so nothing in it is trusted:
see check_config.
"""

from __future__ import annotations

# NOTE: the largest real config.json files (id2label tables, long quantization module lists) are a few
# hundred KB; 2 MiB is generous and keeps a hostile file from costing memory or time.
MAX_CONFIG_BYTES = 2 * 1024 * 1024
