#!/usr/bin/env python3
"""How long the storage under DIR takes to make one 4-KiB page durable.

    python3 benches/fsync_probe.py DIR        # prints e.g. "p50 0.09 ms, p99 0.23 ms"

Writes one page of a scratch file in DIR and fdatasyncs it, COUNT times
(default 200), and prints the median and 99th percentile. Why: Bulkhead commits
with synchronous=FULL, so its W3 (creates) waits for one sync per group commit,
and on these shared virtual disks that wait varies between runs (a group
commit's fsync was traced at about 0.8 ms in a slow W3 run; this probe read
0.07-0.15 ms on another machine of the same kind). The benchmark reports record
it beside their figures so that a W3 result can be read against the disk it
was measured on.
"""
import os
import sys
import time

PAGE = 4096


def probe(directory, count=200):
    path = os.path.join(directory, f".fsync-probe-{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        page = b"\0" * PAGE
        waits = []
        for i in range(count):
            # a few distinct pages, as a WAL's frames are, not one rewritten
            os.pwrite(fd, page, (i % 64) * PAGE)
            start = time.perf_counter()
            os.fdatasync(fd)
            waits.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    waits.sort()
    return waits[len(waits) // 2] * 1e3, waits[min(len(waits) - 1, len(waits) * 99 // 100)] * 1e3


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: fsync_probe.py DIR [COUNT]")
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 200
    p50, p99 = probe(sys.argv[1], count)
    print(f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
