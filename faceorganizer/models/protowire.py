"""The protobuf wire format, read by hand (bounds-checked), for the model files faceorganizer
reads without their frameworks: a TensorFlow GraphDef (``tfgraph``) and an ONNX model
(``onnxgraph``). Each reader passes its own error class, so that its callers catch one."""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def varint(buf: memoryview, pos: int, error: type[ValueError]) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise error("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise error("varint too long")


def fields(buf: memoryview, error: type[ValueError]) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) for each field of one message: an int for a
    varint, the bytes for the others. Nothing is read past the end of ``buf``."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = varint(buf, pos, error)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise error("field number 0")
        if wire == VARINT:
            value, pos = varint(buf, pos, error)
            yield number, wire, value
            continue
        if wire == LEN:
            size, pos = varint(buf, pos, error)
        elif wire == FIXED64:
            size = 8
        elif wire == FIXED32:
            size = 4
        else:
            raise error(f"unsupported wire type {wire}")
        if pos + size > end:
            raise error("truncated field")
        yield number, wire, buf[pos:pos + size]
        pos += size
