"""Qdrant's slice condition: `{"slice": {"total": t, "index": i}}` holds for the points whose
id hashes to i modulo t, for parallel scans and reproducible samples.

The hash is Qdrant's public contract (clients may predict membership): SipHash-2-4 with a zero
key over 8 little-endian bytes for an integer id, the 16 RFC 4122 bytes for a UUID. Here it
runs over whole columns of ids at once, each step a numpy operation on uint64 arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Words = npt.NDArray[np.uint64]
# a segment's ids as columns: integer ids and their offsets, UUIDs (16 bytes) and theirs
IdColumns = tuple[Words, npt.NDArray[np.int64], npt.NDArray[np.bytes_], npt.NDArray[np.int64]]

_INIT = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def siphash24(messages: npt.NDArray[np.uint8], key: bytes = bytes(16)) -> Words:
    """SipHash-2-4 of each row of an (n, length) uint8 matrix, all of one length."""
    n, length = messages.shape
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    k0, k1 = (np.uint64(int.from_bytes(key[i : i + 8], "little")) for i in (0, 8))
    v = [np.full(n, np.uint64(c), dtype=np.uint64) for c in _INIT]
    v[0] ^= k0
    v[1] ^= k1
    v[2] ^= k0
    v[3] ^= k1
    whole = length // 8 * 8
    words = np.ascontiguousarray(messages[:, :whole]).view("<u8").reshape(n, -1)
    tail = np.zeros((n, 8), dtype=np.uint8)
    tail[:, : length - whole] = messages[:, whole:]
    tail[:, 7] = length & 0xFF
    for m in (*words.T, tail.view("<u8").reshape(n)):
        m = m.astype(np.uint64)
        v[3] ^= m
        _rounds(v, 2)
        v[0] ^= m
    v[2] ^= np.uint64(0xFF)
    _rounds(v, 4)
    out: Words = v[0] ^ v[1] ^ v[2] ^ v[3]
    return out


def _rotl(x: Words, bits: int) -> Words:
    rotated: Words = (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))
    return rotated


def _rounds(v: list[Words], count: int) -> None:
    for _ in range(count):
        v[0] += v[1]
        v[1] = _rotl(v[1], 13) ^ v[0]
        v[0] = _rotl(v[0], 32)
        v[2] += v[3]
        v[3] = _rotl(v[3], 16) ^ v[2]
        v[0] += v[3]
        v[3] = _rotl(v[3], 21) ^ v[0]
        v[2] += v[1]
        v[1] = _rotl(v[1], 17) ^ v[2]
        v[2] = _rotl(v[2], 32)


def slice_mask(total: int, index: int, columns: IdColumns, size: int) -> npt.NDArray[np.bool_]:
    """Which of `size` offsets hold an id in slice `index` of `total`."""
    nums, num_offsets, uuids, uuid_offsets = columns
    num_hashes, uuid_hashes = id_hashes(nums, uuids)
    mask = np.zeros(size, dtype=np.bool_)
    for hashes, offsets in ((num_hashes, num_offsets), (uuid_hashes, uuid_offsets)):
        mask[offsets[hashes % np.uint64(total) == np.uint64(index)]] = True
    return mask


def id_hashes(nums: Words, uuids: npt.NDArray[np.bytes_]) -> tuple[Words, Words]:
    """The slice hashes of integer ids and of UUIDs (16 raw bytes each)."""
    as_bytes = np.ascontiguousarray(nums, dtype="<u8").view(np.uint8).reshape(-1, 8)
    raw = np.frombuffer(np.ascontiguousarray(uuids, dtype="S16").tobytes(), dtype=np.uint8)
    return siphash24(as_bytes), siphash24(raw.reshape(-1, 16))
