"""Settings of a long-running web process, applied once its app is loaded (config/wsgi.py)."""

from __future__ import annotations

import gc

# Allocations between collections of the youngest generation, then how many of those between collections of the next.
# Python's defaults (700, 10, 10) suit small scripts: a slot search reads some 25,000 busy rows (tens of thousands of
# objects alive at once), so the collector ran about 40 times a request and, every few requests, walked every object
# in the process, holding the request up by about 100 ms (bench/bench_slots_api.py: p95 211 ms, p50 108 ms).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collection() -> None:
    """Collect less often, and leave out of every collection the objects alive now (the loaded app: modules, settings,
    URL patterns), which live as long as the process. Garbage with reference cycles waits a little longer; memory
    grows by a few megabytes at most."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
