"""Near-duplicate images by perceptual hash: `phash` of an image, `hamming` distance between two
hashes, and `find_duplicates` grouping hashes within a distance."""

from __future__ import annotations

# Perceptual hash: DCT hash (imagehash.phash) of 16x16 = 256 bits. The common 64-bit hash cannot
# separate a dataset's own similar shots from copies: for one subject centred on a plain background
# two different images were 6 bits apart while a resized JPEG copy of a photo was 12. At 256 bits,
# resized/re-encoded/brightened copies measured <= 51, different shots and framings >= 70.
HASH_SIZE = 16
HASH_DISTANCE = 56  # of 256 bits


def phash(img) -> str:
    import imagehash

    return str(imagehash.phash(img, hash_size=HASH_SIZE))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def find_duplicates(hashes: dict[str, str], max_distance: int = HASH_DISTANCE) -> list[list[tuple[str, int]]]:
    """Groups of keys whose perceptual hashes are within `max_distance` bits (single linkage).
    Each group lists (key, distance to the group's first key)."""
    keys = list(hashes)
    parent = list(range(len(keys)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ints = [int(hashes[k], 16) for k in keys]
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if (ints[i] ^ ints[j]).bit_count() <= max_distance:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(keys)):
        groups.setdefault(find(i), []).append(i)
    return [[(keys[i], (ints[g[0]] ^ ints[i]).bit_count()) for i in g] for g in groups.values() if len(g) > 1]
