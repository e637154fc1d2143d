"""release_mapped: a read-only shared mapping gives its resident pages back, data intact."""
from __future__ import annotations

import mmap
import sys

import pytest

from shoal.docstore.mapped_pages import ReleaseBudget, release_mapped

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")


def _rss_kb(path) -> int:
    """Resident kB of this process' mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping header line
                inside = len(head) >= 6 and head[5] == str(path)
            elif inside and head[0] == "Rss:":
                total += int(head[1])
    return total


@pytest.fixture
def mapped(tmp_path):
    path = tmp_path / "data.mdb"
    path.write_bytes(bytes(range(256)) * (4 << 12))  # 4 MB
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    yield path, m
    m.close()


def test_release_drops_resident_pages_and_keeps_the_data(mapped):
    path, m = mapped
    checksum = sum(m[i] for i in range(0, len(m), 4096))  # touch every page
    assert _rss_kb(path) >= 1024
    assert release_mapped(str(path)) >= len(m)
    assert _rss_kb(path) < 256
    assert sum(m[i] for i in range(0, len(m), 4096)) == checksum


def test_budget_releases_only_big_files_and_only_when_spent(mapped):
    path, m = mapped
    sum(m[i] for i in range(0, len(m), 4096))
    small = ReleaseBudget(str(path), every=10, min_bytes=64 << 20)
    small.read(100)
    assert _rss_kb(path) >= 1024  # under min_bytes: left mapped
    big = ReleaseBudget(str(path), every=10, min_bytes=1 << 20)
    big.read(5)
    assert _rss_kb(path) >= 1024  # budget not spent yet
    big.read(5)
    assert _rss_kb(path) < 256


def test_unmapped_file_is_a_no_op(tmp_path):
    assert release_mapped(str(tmp_path / "nothing")) == 0
