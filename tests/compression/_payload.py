"""Test helpers: open and rebuild the compressed payload of a model file (format version 3)."""

import zlib

from sbt_sklearn.compression._dictionary import ZDICT_V3


def inflate(payload: bytes) -> bytes:
    """The raw payload (length, JSON document, tensor bytes) of a format-3 ``sbt`` tensor."""
    inflater = zlib.decompressobj(zdict=ZDICT_V3)
    return inflater.decompress(payload) + inflater.flush()


def deflate(raw: bytes) -> bytes:
    """A format-3 ``sbt`` tensor holding ``raw``."""
    deflater = zlib.compressobj(9, zdict=ZDICT_V3)
    return deflater.compress(raw) + deflater.flush()
