"""Read an ONNX model's graph (nodes, attributes, initializers) without the ``onnx`` package.

An ONNX model is a protobuf message. Only the fields needed to rebuild a small
convolutional network in torch are decoded, straight from the wire format (field
numbers from onnx/onnx.proto)::

    ModelProto.ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
        opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2)
    GraphProto.node = 1, name = 2, initializer = 5, input = 11, output = 12
        (ValueInfoProto.name = 1)
    NodeProto.input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7
    AttributeProto.name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, type = 20
    TensorProto.dims = 1, data_type = 2, float_data = 4, int32_data = 5, int64_data = 7,
        name = 8, raw_data = 9, double_data = 10, data_location = 14

Tensors kept outside the file (``data_location = EXTERNAL``) and sparse initializers
are refused: the models read here are self-contained.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from faceorganizer.models.protowire import FIXED32, VARINT, fields, varint

# TensorProto.DataType values this reader decodes.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),   # FLOAT
    2: np.dtype("u1"),    # UINT8
    3: np.dtype("i1"),    # INT8
    6: np.dtype("<i4"),   # INT32
    7: np.dtype("<i8"),   # INT64
    9: np.dtype("?"),     # BOOL
    10: np.dtype("<f2"),  # FLOAT16
    11: np.dtype("<f8"),  # DOUBLE
}


class OnnxFormatError(ValueError):
    """The bytes are not an ONNX model this reader understands."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    return varint(buf, pos, OnnxFormatError)


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    return fields(buf, OnnxFormatError)


def _signed(value: int) -> int:
    """A varint read as int64 (two's complement over 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _bytes(value: int | memoryview) -> memoryview:
    if not isinstance(value, memoryview):
        raise OnnxFormatError("a message or string field holds a number")
    return value


def _int(value: int | memoryview) -> int:
    if not isinstance(value, int):
        raise OnnxFormatError("a number field holds bytes")
    return value


def _text(value: int | memoryview) -> str:
    try:
        return bytes(_bytes(value)).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OnnxFormatError("a name is not UTF-8") from exc


def _packed_varints(wire: int, value: int | memoryview) -> list[int]:
    if wire == VARINT:
        return [_signed(_int(value))]
    buf, pos, out = _bytes(value), 0, []
    while pos < len(buf):
        item, pos = _varint(buf, pos)
        out.append(_signed(item))
    return out


def _packed_fixed(wire: int, value: int | memoryview, fmt: str) -> list[float]:
    buf = _bytes(value)
    size = struct.calcsize(fmt)
    if len(buf) % size:
        raise OnnxFormatError("packed numbers of a wrong length")
    return list(struct.unpack(f"<{len(buf) // size}{fmt}", buf))


def _tensor(buf: memoryview) -> tuple[str, np.ndarray]:
    """Decode a TensorProto to (name, array)."""
    name = ""
    dims: list[int] = []
    dtype = 0
    raw: bytes | None = None
    values: list[float] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims.extend(_packed_varints(wire, value))
        elif number == 2:
            dtype = _int(value)
        elif number == 4:      # float_data
            values.extend(_packed_fixed(wire, value, "f"))
        elif number in (5, 7):  # int32_data, int64_data (varints)
            values.extend(_packed_varints(wire, value))
        elif number == 8:
            name = _text(value)
        elif number == 9:
            raw = bytes(_bytes(value))
        elif number == 10:     # double_data
            values.extend(_packed_fixed(wire, value, "d"))
        elif number == 14 and _int(value) == 1:
            raise OnnxFormatError(f"tensor {name or '?'} keeps its data in an external file")
    if dtype not in _DTYPES:
        raise OnnxFormatError(f"tensor {name or '?'} has unsupported data type {dtype}")
    if any(d < 0 for d in dims):
        raise OnnxFormatError(f"tensor {name or '?'} has a negative dimension")
    count = int(np.prod(dims)) if dims else 1
    dt = _DTYPES[dtype]
    if raw is not None:
        if len(raw) != count * dt.itemsize:
            raise OnnxFormatError(f"tensor {name or '?'} has {len(raw)} bytes for shape {tuple(dims)}")
        array = np.frombuffer(raw, dtype=dt)
    else:
        if len(values) != count:
            raise OnnxFormatError(f"tensor {name or '?'} has {len(values)} values for shape {tuple(dims)}")
        array = np.asarray(values, dtype=dt.newbyteorder("="))
    return name, array.astype(dt.newbyteorder("="), copy=True).reshape(dims)


@dataclass(frozen=True)
class Node:
    """One operator: its type, inputs and outputs (value names) and attributes."""

    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    """The parts of a model needed to run it: nodes in order, constant tensors, I/O names."""

    nodes: list[Node]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]
    producer: str = ""
    opset: int = 0

    def constants(self) -> dict[str, np.ndarray]:
        """Initializers and the values of ``Constant`` nodes, by value name."""
        found = dict(self.initializers)
        for node in self.nodes:
            if node.op_type == "Constant" and isinstance(node.attributes.get("value"), np.ndarray):
                found[node.outputs[0]] = node.attributes["value"]  # type: ignore[assignment]
        return found


def _attribute(buf: memoryview) -> tuple[str, object]:
    name = ""
    kind = 0
    single: dict[int, object] = {}
    floats: list[float] = []
    ints: list[int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            name = _text(value)
        elif number == 2:
            if wire != FIXED32:
                raise OnnxFormatError(f"attribute {name}: a float of the wrong size")
            single[2] = struct.unpack("<f", _bytes(value))[0]
        elif number == 3:
            single[3] = _signed(_int(value))
        elif number == 4:
            single[4] = bytes(_bytes(value))
        elif number == 5:
            single[5] = _tensor(_bytes(value))[1]
        elif number == 7:
            floats.extend(_packed_fixed(wire, value, "f") if wire != FIXED32
                          else struct.unpack("<f", _bytes(value)))
        elif number == 8:
            ints.extend(_packed_varints(wire, value))
        elif number == 20:
            kind = _int(value)
    # AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
    by_kind: dict[int, object] = {1: single.get(2), 2: single.get(3), 3: single.get(4),
                                  4: single.get(5), 6: floats, 7: ints}
    if kind in by_kind:
        return name, by_kind[kind]
    # No type recorded (very old exporters): whichever field is there.
    if single:
        return name, next(iter(single.values()))
    return name, ints or floats


def _node(buf: memoryview) -> Node:
    inputs: list[str] = []
    outputs: list[str] = []
    name = op_type = ""
    attributes: dict[str, object] = {}
    for number, _, value in _fields(buf):
        if number == 1:
            inputs.append(_text(value))
        elif number == 2:
            outputs.append(_text(value))
        elif number == 3:
            name = _text(value)
        elif number == 4:
            op_type = _text(value)
        elif number == 5:
            key, attr = _attribute(_bytes(value))
            attributes[key] = attr
    if not op_type:
        raise OnnxFormatError(f"node {name or '?'} has no operator type")
    return Node(op_type, name, tuple(inputs), tuple(outputs), attributes)


def _value_name(buf: memoryview) -> str:
    for number, _, value in _fields(buf):
        if number == 1:
            return _text(value)
    return ""


def _graph(buf: memoryview) -> tuple[list[Node], dict[str, np.ndarray], list[str], list[str]]:
    nodes: list[Node] = []
    initializers: dict[str, np.ndarray] = {}
    inputs: list[str] = []
    outputs: list[str] = []
    for number, _, value in _fields(buf):
        if number == 1:
            nodes.append(_node(_bytes(value)))
        elif number == 5:
            name, array = _tensor(_bytes(value))
            initializers[name] = array
        elif number == 11:
            inputs.append(_value_name(_bytes(value)))
        elif number == 12:
            outputs.append(_value_name(_bytes(value)))
        elif number == 15:
            raise OnnxFormatError("sparse initializers are not supported")
    return nodes, initializers, inputs, outputs


def read_model(data: bytes) -> Graph:
    """The graph of a serialised ONNX ``ModelProto``. Raises :class:`OnnxFormatError`."""
    graph: tuple[list[Node], dict[str, np.ndarray], list[str], list[str]] | None = None
    producer = ""
    opset = 0
    ir_version = 0
    try:
        for number, _, value in _fields(memoryview(data)):
            if number == 1:
                ir_version = _int(value)
            elif number == 2:
                producer = _text(value)
            elif number == 7:
                if graph is not None:
                    raise OnnxFormatError("two graphs")
                graph = _graph(_bytes(value))
            elif number == 8:
                domain, version = "", 0
                for num, _, val in _fields(_bytes(value)):
                    if num == 1:
                        domain = _text(val)
                    elif num == 2:
                        version = _int(val)
                if domain in ("", "ai.onnx"):
                    opset = version
    except struct.error as exc:  # belt and braces: every read is bounds-checked above
        raise OnnxFormatError(f"damaged number field ({exc})") from exc
    if graph is None or ir_version == 0:
        raise OnnxFormatError("no graph: not an ONNX model")
    nodes, initializers, inputs, outputs = graph
    if not nodes:
        raise OnnxFormatError("the graph has no nodes")
    inputs = [name for name in inputs if name not in initializers]
    return Graph(nodes, initializers, inputs, outputs, producer, opset)
