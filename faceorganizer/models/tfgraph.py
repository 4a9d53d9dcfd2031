"""Read the float constants of a frozen TensorFlow GraphDef without TensorFlow.

A GraphDef is a protobuf message; weights are ``Const`` nodes whose ``value``
attribute holds a tensor. Only the few fields needed are decoded, straight from
the wire format (field numbers from TensorFlow's .proto files)::

    GraphDef.node = 1
    NodeDef.name = 1, op = 2, attr = 5 (map entry: key = 1, value = 2)
    AttrValue.tensor = 8
    TensorProto.dtype = 1, tensor_shape = 2, tensor_content = 4, float_val = 5
    TensorShapeProto.dim = 2; Dim.size = 1
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from faceorganizer.models.protowire import LEN, fields

DT_FLOAT = 1



class GraphFormatError(ValueError):
    """The bytes are not a GraphDef this reader understands."""


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    return fields(buf, GraphFormatError)


def _shape(buf: memoryview) -> tuple[int, ...]:
    dims: list[int] = []
    for number, _, value in _fields(buf):
        if number == 2:  # dim
            assert isinstance(value, memoryview)
            size = 0
            for dnum, _, dval in _fields(value):
                if dnum == 1:
                    assert isinstance(dval, int)
                    size = dval
            dims.append(size)
    return tuple(dims)


def _tensor(buf: memoryview) -> np.ndarray | None:
    """Decode a TensorProto of floats; None for any other dtype."""
    dtype = 0
    shape: tuple[int, ...] = ()
    content: bytes | None = None
    floats: list[float] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            assert isinstance(value, int)
            dtype = value
        elif number == 2:
            assert isinstance(value, memoryview)
            shape = _shape(value)
        elif number == 4:
            assert isinstance(value, memoryview)
            content = bytes(value)
        elif number == 5:
            if wire == LEN:  # packed
                assert isinstance(value, memoryview)
                floats.extend(struct.unpack(f"<{len(value) // 4}f", value))
            else:
                assert isinstance(value, memoryview)
                floats.append(struct.unpack("<f", value)[0])
    if dtype != DT_FLOAT:
        return None
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        array = np.frombuffer(content, dtype="<f4").astype(np.float32)
        if array.size != count:
            raise GraphFormatError(f"tensor has {array.size} values for shape {shape}")
        return array.reshape(shape)
    if len(floats) == 1:  # a single value fills the whole shape
        return np.full(shape, floats[0], dtype=np.float32)
    if len(floats) != count:
        raise GraphFormatError(f"tensor has {len(floats)} values for shape {shape}")
    return np.asarray(floats, dtype=np.float32).reshape(shape)


def _const_value(node: memoryview) -> tuple[str, np.ndarray | None] | None:
    name = op = ""
    tensor: np.ndarray | None = None
    attrs: list[memoryview] = []
    for number, _, value in _fields(node):
        if number == 1:
            assert isinstance(value, memoryview)
            name = bytes(value).decode()
        elif number == 2:
            assert isinstance(value, memoryview)
            op = bytes(value).decode()
        elif number == 5:
            assert isinstance(value, memoryview)
            attrs.append(value)
    if op != "Const":
        return None
    for entry in attrs:
        key = ""
        attr_value: memoryview | None = None
        for number, _, value in _fields(entry):
            if number == 1:
                assert isinstance(value, memoryview)
                key = bytes(value).decode()
            elif number == 2:
                assert isinstance(value, memoryview)
                attr_value = value
        if key == "value" and attr_value is not None:
            for number, _, value in _fields(attr_value):
                if number == 8:
                    assert isinstance(value, memoryview)
                    tensor = _tensor(value)
    return name, tensor


def float_constants(data: bytes) -> dict[str, np.ndarray]:
    """Every float32 ``Const`` node of a serialised GraphDef, by node name."""
    constants: dict[str, np.ndarray] = {}
    nodes = 0
    for number, _, value in _fields(memoryview(data)):
        if number != 1:
            continue
        nodes += 1
        assert isinstance(value, memoryview)
        found = _const_value(value)
        if found is not None and found[1] is not None:
            constants[found[0]] = found[1]
    if nodes == 0:
        raise GraphFormatError("no nodes: not a TensorFlow GraphDef")
    return constants
