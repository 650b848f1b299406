"""Computation graphs with reverse-mode automatic differentiation (C: ``descent_graph``).

A graph is built once and run many times. Build it from symbolic :class:`Node` objects with
ordinary Python operators, then evaluate any node with :meth:`Graph.forward` or differentiate a
scalar node with :meth:`Graph.backward`::

    import numpy as np
    from descent.graph import Graph

    g = Graph()                                   # float64
    a, b, c = g.param(np.array(5.0)), g.param(np.array(3.0)), g.param(np.array(2.0))
    J = 3 * (a + b * c)                           # u = bc, v = a + u, J = 3v
    assert g.backward(J) == 33.0
    assert [float(g.grad(p)) for p in (a, b, c)] == [3.0, 6.0, 9.0]

Params are NumPy arrays the graph reads in place (zero-copy): an optimizer built over the same
arrays updates what the graph sees. Inputs are fed per run (``feed={x: batch}``); ``None`` in an
input's shape marks the batch axis. Backward writes every param's gradient into one flat buffer
(:attr:`Graph.grad_buffer`), one slice per param.

Operations (functions of this module and :class:`Node` methods): ``+ - * /`` with broadcasting
of a trailing-suffix operand (a bias ``(n,)`` over ``(batch, n)``, a scalar over anything),
:func:`matmul` (``@``) with transposes, :func:`exp`, :func:`log`, :func:`square`,
:func:`sqrt`, :func:`sum`, :func:`mean` (all elements or one axis), the activations
(:func:`sin`, :func:`cos`, :func:`abs`,
:func:`sigmoid`, :func:`tanh`, :func:`relu`, :func:`leaky_relu`, :func:`softmax`), the costs
(:func:`sse`, :func:`quadratic_cost`, :func:`mse`, :func:`bce`, :func:`bce_with_logits`,
:func:`softmax_cross_entropy`, :func:`multiclass_hinge`), :func:`l2_penalty`, :func:`dense`,
:func:`batch_norm` and :func:`dropout`. Formulas: docs/training.md.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from typing import Any, Callable, Optional, Sequence, SupportsFloat, SupportsInt, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._ffi import lib
from ._native import NativeObject
from .nn import INIT_SCHEMES, _activation_code
from .tensor import DTypeLike, FloatArray, Tensor, dtype_code, tensor as _copy_tensor, wrap

#: What an operation accepts as an operand: a node, or a number or array (made a constant).
Operand = Union["Node", float, int, npt.ArrayLike]
#: A symbolic shape: ints, with None on the batch axis.
SymbolicShape = tuple[Optional[int], ...]

__all__ = [
    "Graph", "Node", "matmul", "exp", "log", "square", "sqrt", "sin", "cos", "abs", "sum", "mean", "activation", "sigmoid",
    "tanh", "relu", "leaky_relu", "softmax", "sse", "quadratic_cost", "mse", "bce", "bce_with_logits",
    "softmax_cross_entropy", "multiclass_hinge", "l2_penalty", "dense", "batch_norm", "dropout",
]

_BINARY = {"add": 0, "sub": 1, "mul": 2, "div": 3}
_UNARY = {"exp": 0, "log": 1, "square": 2, "sqrt": 3, "neg": 4, "sin": 5, "cos": 6, "abs": 7}
_REDUCE = {"sum": 0, "mean": 1, "sum_axis": 2, "mean_axis": 3}
_COSTS = {"sse": 0, "quadratic": 1, "mse": 2, "bce": 3, "bce_logits": 4, "softmax_cross_entropy": 5,
          "multiclass_hinge": 6}
_REDUCTIONS = {"mean": 0, "sum": 1}
_INITS = {"zeros": 100, "ones": 101, **INIT_SCHEMES}


def _out_node() -> ctypes.c_int64:
    return ctypes.c_int64()


class Node:
    """A symbolic node of a :class:`Graph`: an input, a param, a constant or an operation.

    Nodes support ``+ - * / @`` and unary ``-`` (numbers become constants), and the methods
    :meth:`exp`, :meth:`log`, :meth:`square`, :meth:`sqrt`, :meth:`sum`, :meth:`mean`. ``index``
    is the C node index; ``shape`` the symbolic shape (None marks the batch axis)."""

    __slots__ = ("graph", "index", "kind", "array", "__weakref__")
    #: The graph the node belongs to.
    graph: Graph
    #: The C node index.
    index: int
    #: What the node is: "input", "labels", "param", "constant" or the operation's name.
    kind: str
    #: A param node's array (read and updated in place); None for other nodes.
    array: Optional[FloatArray]

    def __init__(self, graph: Graph, index: int, kind: str, array: Optional[FloatArray] = None) -> None:
        self.graph, self.index, self.kind, self.array = graph, index, kind, array

    @property
    def shape(self) -> SymbolicShape:
        """Symbolic shape: a tuple of ints with None on the batch axis."""
        return self.graph.shape(self)

    def __repr__(self) -> str:
        return f"<descent.graph.Node {self.index} {self.kind} shape={self.shape}>"

    # -- operators ---------------------------------------------------------------------------
    def _binary(self, other: Operand, op: str, swap: bool = False) -> Node:
        node = self.graph._node(other)
        return self.graph._binary(op, node, self) if swap else self.graph._binary(op, self, node)

    def __add__(self, other: Operand) -> Node: return self._binary(other, "add")
    def __radd__(self, other: Operand) -> Node: return self._binary(other, "add", swap=True)
    def __sub__(self, other: Operand) -> Node: return self._binary(other, "sub")
    def __rsub__(self, other: Operand) -> Node: return self._binary(other, "sub", swap=True)
    def __mul__(self, other: Operand) -> Node: return self._binary(other, "mul")
    def __rmul__(self, other: Operand) -> Node: return self._binary(other, "mul", swap=True)
    def __truediv__(self, other: Operand) -> Node: return self._binary(other, "div")
    def __rtruediv__(self, other: Operand) -> Node: return self._binary(other, "div", swap=True)
    def __neg__(self) -> Node: return self.graph._unary("neg", self)
    def __pos__(self) -> Node: return self

    def __matmul__(self, other: Operand) -> Node:
        return matmul(self, self.graph._node(other))

    def __rmatmul__(self, other: Operand) -> Node:
        return matmul(self.graph._node(other), self)

    def exp(self) -> Node:
        """e^x elementwise."""
        return exp(self)

    def log(self) -> Node:
        """ln x elementwise."""
        return log(self)

    def square(self) -> Node:
        """x² elementwise."""
        return square(self)

    def sqrt(self) -> Node:
        """sqrt(x) elementwise."""
        return sqrt(self)

    def sin(self) -> Node:
        """sin x elementwise."""
        return sin(self)

    def cos(self) -> Node:
        """cos x elementwise."""
        return cos(self)

    def __abs__(self) -> Node:
        return abs(self)

    def sum(self, axis: Optional[int] = None) -> Node:
        """Sum of all elements (axis=None) or along `axis`."""
        return sum(self, axis)

    def mean(self, axis: Optional[int] = None) -> Node:
        """Mean of all elements (axis=None) or along `axis`."""
        return mean(self, axis)

    def __bool__(self) -> bool:
        raise TypeError("a graph Node has no truth value (it is symbolic); evaluate it with graph.forward(node)")

    __hash__ = object.__hash__


class Graph(NativeObject):
    """A computation graph of one dtype (float64 by default, or float32).

    Build with :meth:`input`, :meth:`labels`, :meth:`param`, :meth:`constant` and the operations
    of this module; run with :meth:`forward` / :meth:`backward`. The graph keeps every param
    array and fed input alive while it needs them."""

    _FREE = "descent_graph_free"
    _KIND = "graph"

    def __init__(self, dtype: DTypeLike = np.float64) -> None:
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        code = dtype_code(self.dtype)
        handle = ctypes.c_uint64()
        lib.descent_graph_new(code, ctypes.byref(handle))
        self._handle = handle.value
        self._code = code
        self._params: list[Node] = []        # param nodes in creation order
        self._keep: list[Tensor] = []        # tensors the graph reads (params, constants)
        # node index -> (value fed, tensor bound, whether it is read in place)
        self._fed: dict[int, tuple[object, Tensor, bool]] = {}
        self._batches: dict[int, int] = {}   # input/labels node index -> batch size of what is bound
        self._sizes: dict[int, int] = {}     # node index -> element count of its last forward

    # -- building ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        self._handle  # raises ClosedError after close()

    def _add(self, function: Callable[..., Any], *arguments: Any, kind: str,
             array: Optional[FloatArray] = None) -> Node:
        self._check_open()
        out = _out_node()
        function(self._handle, *arguments, ctypes.byref(out))
        return Node(self, int(out.value), kind, array)

    def _node(self, value: object) -> Node:
        """`value` as a node of this graph (numbers and arrays become constants)."""
        if isinstance(value, Node):
            if value.graph is not self:
                raise errors.InvalidArgumentError("the node belongs to another graph")
            return value
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return self._add(lib.descent_graph_scalar, float(value), kind="constant")
        if isinstance(value, (np.ndarray, list, tuple)):
            return self.constant(value)
        raise TypeError(f"cannot use {type(value).__name__} as a graph node")

    def input(self, shape: Union[int, Sequence[Optional[int]]], name: Optional[str] = None) -> Node:
        """A float input of `shape`; None (or -1) marks the batch axis, e.g. ``(None, 784)``."""
        extents: Sequence[object] = (shape,) if isinstance(shape, (int, np.integer)) else shape
        if not isinstance(extents, (tuple, list)):
            raise TypeError(f"shape must be a tuple of ints and None, got {type(shape).__name__}")
        if len(extents) > 8:
            raise errors.ShapeError(f"rank {len(extents)} is above 8")
        dims: list[int] = []
        for d in extents:
            if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))):
                raise TypeError(f"shape extents must be ints or None, got {type(d).__name__}")
            dims.append(-1 if d is None else int(d))
            if not -1 <= dims[-1] < 2 ** 31:
                raise errors.ShapeError(f"extent {d} is outside 0...2^31-1 (None or -1 marks the batch axis)")
        array = (ctypes.c_int64 * max(len(dims), 1))(*dims)
        return self._add(lib.descent_graph_input, len(dims), array, kind="input")

    def labels(self) -> Node:
        """An input of integer class labels (one per sample) for the classification costs."""
        return self._add(lib.descent_graph_labels, kind="labels")

    def param(self, array: npt.ArrayLike, trainable: bool = True, init: Optional[str] = None,
              gain: SupportsFloat = 1.0) -> Node:
        """A param read in place from `array` (a writeable C-contiguous ndarray of the graph's
        dtype; a scalar or list is copied into a new array, kept as ``node.array``). ``init``
        (``"zeros"``, ``"ones"``, ``"he_normal"``, ``"xavier_uniform"``, ...; with ``gain``)
        is how :meth:`init_params` and random restarts re-initialize it. trainable=False freezes it."""
        if not isinstance(array, np.ndarray):
            array = np.array(array, dtype=self.dtype)
        assert isinstance(array, np.ndarray)
        if array.dtype != self.dtype:
            raise errors.DTypeError(f"param is {array.dtype}, the graph is {self.dtype}")
        if not (array.flags.c_contiguous and array.flags.writeable and array.flags.aligned):
            raise errors.InvalidArgumentError(
                "a param must be a writeable, aligned, C-contiguous array because the graph reads and an "
                "optimizer updates it in place; pass np.ascontiguousarray(a) and keep using that array")
        tensor = wrap(array)
        node = self._add(lib.descent_graph_param, tensor.handle, 1 if trainable else 0, kind="param", array=array)
        self._keep.append(tensor)
        self._params.append(node)
        if init is not None:
            self.set_init(node, init, gain)
        return node

    def set_init(self, node: Node, init: Optional[str], gain: SupportsFloat = 1.0) -> None:
        """Sets param `node`'s initializer (see :meth:`param`; None clears it); gain defaults to 1.0."""
        code = 0 if init is None else _INITS.get(init)
        if code is None:
            raise errors.InvalidArgumentError(f"unknown init {init!r}; expected one of {sorted(_INITS)}")
        lib.descent_graph_param_init(self._handle, self._node(node).index, code, float(gain))

    def constant(self, value: npt.ArrayLike) -> Node:
        """A constant holding a copy of `value` (converted to the graph's dtype)."""
        array = np.ascontiguousarray(value, dtype=self.dtype)
        tensor = _copy_tensor(array)
        try:
            return self._add(lib.descent_graph_constant, tensor.handle, kind="constant")
        finally:
            tensor.close()

    def _binary(self, op: str, a: Node, b: Node) -> Node:
        return self._add(lib.descent_graph_binary, _BINARY[op], a.index, b.index, kind=op)

    def _unary(self, op: str, x: Node) -> Node:
        return self._add(lib.descent_graph_unary, _UNARY[op], x.index, kind=op)

    # -- queries -----------------------------------------------------------------------------
    @property
    def params(self) -> list[Node]:
        """The param nodes in creation order (the library's own list, descent_graph_param_node)."""
        self._check_open()
        count = ctypes.c_int64()
        lib.descent_graph_param_count(self._handle, ctypes.byref(count))
        by_index = {node.index: node for node in self._params}
        node = ctypes.c_int64()
        ordered: list[Node] = []
        for position in range(count.value):
            lib.descent_graph_param_node(self._handle, position, ctypes.byref(node))
            ordered.append(by_index[node.value])
        return ordered

    def parameters(self) -> list[FloatArray]:
        """The param arrays in creation order (the arrays an optimizer should update)."""
        return [node.array for node in self._params if node.array is not None]

    def shape(self, node: Node) -> SymbolicShape:
        """Symbolic shape of `node` (None on the batch axis)."""
        self._check_open()
        rank = ctypes.c_int64()
        dims = (ctypes.c_int64 * 8)()
        lib.descent_graph_shape(self._handle, self._node(node).index, ctypes.byref(rank), dims, 8)
        return tuple(None if dims[i] == -1 else int(dims[i]) for i in range(rank.value))

    def __len__(self) -> int:
        self._check_open()
        count = ctypes.c_int64()
        lib.descent_graph_node_count(self._handle, ctypes.byref(count))
        return int(count.value)

    @property
    def training(self) -> bool:
        """True (default): batch norm uses batch statistics and dropout drops; False: evaluation."""
        training: bool = getattr(self, "_training", True)
        return training

    @training.setter
    def training(self, value: bool) -> None:
        self._check_open()
        lib.descent_graph_set_training(self._handle, 1 if value else 0)
        self._training = bool(value)

    # -- feeding and running -----------------------------------------------------------------
    def feed(self, feed: Mapping[Node, npt.ArrayLike]) -> None:
        """Binds inputs: ``{input_node: array, labels_node: int_array}``. Float arrays of the
        graph's dtype that are C-contiguous are read in place (zero-copy; feeding the same array
        again is free); others are copied on every feed. Labels are 1-d integer arrays."""
        self._check_open()
        if not isinstance(feed, Mapping):
            raise TypeError(f"feed must be a dict {{node: array}}, got {type(feed).__name__}")
        for key, value in feed.items():
            node = self._node(key)
            if node.kind == "labels":
                labels: npt.NDArray[Any] = np.asarray(value)
                if labels.dtype.kind not in "iu":
                    raise errors.DTypeError(f"labels must be integers, got {labels.dtype}")
                if labels.ndim != 1:
                    raise errors.ShapeError(f"labels must be 1-d (one per sample), got shape {labels.shape}")
                labels = np.ascontiguousarray(labels, dtype=np.int64)
                lib.descent_graph_set_labels(self._handle, node.index, labels.ctypes.data, labels.size)
                self._batches[node.index] = labels.size
                continue
            if node.kind != "input":
                raise errors.InvalidArgumentError(f"node {node.index} is a {node.kind} node; only inputs are fed")
            previous = self._fed.get(node.index)
            if previous is not None and previous[0] is value and previous[2]:
                continue  # the same array, still bound and read in place
            array: Any = value
            in_place = isinstance(array, np.ndarray) and array.dtype == self.dtype and array.flags.c_contiguous \
                and array.flags.writeable and array.flags.aligned
            if not in_place:
                array = np.array(value, dtype=self.dtype, order="C", copy=True)
            bound = wrap(array)
            try:
                lib.descent_graph_set_input(self._handle, node.index, bound.handle)
            except BaseException:
                bound.close()
                raise
            if previous is not None:
                previous[1].close()
            self._fed[node.index] = (value, bound, in_place)
            shape = self.shape(node)
            batches = [array.shape[axis] for axis, extent in enumerate(shape) if extent is None]
            if batches:
                self._batches[node.index] = batches[0]
            else:
                self._batches.pop(node.index, None)

    def _rebound(self, nodes: Sequence[Optional[Node]], batch_size: int) -> None:
        """The library bound other data (a loader's batches, at most `batch_size` rows) to these
        input/labels nodes: the next feed binds again, and forward sizes its buffer for them."""
        for node in nodes:
            if node is None:
                continue
            entry = self._fed.get(node.index)
            if entry is not None:
                self._fed[node.index] = (entry[0], entry[1], False)   # kept alive, never reused
            self._batches[node.index] = int(batch_size)

    def forward(self, node: Node, feed: Optional[Mapping[Node, npt.ArrayLike]] = None) -> FloatArray:
        """Evaluates `node` (after binding `feed`) and returns its value as a new array."""
        self._check_open()
        if feed is not None:
            self.feed(feed)
        node = self._node(node)
        symbolic = self.shape(node)
        known = 1
        for d in symbolic:
            known *= 1 if d is None else d
        # One evaluation: a training-mode run has side effects (batch norm's running statistics),
        # so the buffer is sized before the run: exactly for a static shape, else for the largest
        # batch bound (or this node's last size).
        capacity = known
        if None in symbolic:
            capacity = max(known * max(self._batches.values(), default=0), self._sizes.get(node.index, 0))
        out: FloatArray = np.empty(capacity, dtype=self.dtype)
        count = ctypes.c_int64()  # per call: Python threads may run the same graph concurrently
        try:
            lib.descent_graph_forward(self._handle, node.index, self._code, out.ctypes.data if out.size else None,
                                      out.size, ctypes.byref(count))
        except errors.BufferTooSmallError:
            count.value = -1
        if count.value < 0 or count.value > out.size:
            # Only when inputs were bound behind feed()'s back with more rows than it knows of: the
            # run happened, copy its result without running again.
            lib.descent_graph_value(self._handle, node.index, self._code, None, 0, ctypes.byref(count))
            out = np.empty(count.value, dtype=self.dtype)
            lib.descent_graph_value(self._handle, node.index, self._code, out.ctypes.data if out.size else None,
                                    out.size, ctypes.byref(count))
        size = int(count.value)
        shape: tuple[int, ...] = tuple(0 if d is None else d for d in symbolic)
        if None in symbolic:
            self._sizes[node.index] = size
            batch = size // known if known else 0
            shape = tuple(batch if d is None else d for d in symbolic)
        return out[:size].reshape(shape)

    def backward(self, loss: Node, feed: Optional[Mapping[Node, npt.ArrayLike]] = None) -> float:
        """Evaluates the scalar node `loss` and writes the gradient of every trainable param
        (read them with :meth:`grad` or :attr:`grad_buffer`). Returns the loss."""
        self._check_open()
        if feed is not None:
            self.feed(feed)
        value = ctypes.c_double()
        lib.descent_graph_backward(self._handle, self._node(loss).index, ctypes.byref(value))
        return float(value.value)

    def grad(self, param: Node) -> FloatArray:
        """A copy of param node `param`'s gradient from the last :meth:`backward`."""
        self._check_open()
        node = self._node(param)
        if node.kind != "param" or node.array is None:
            raise errors.InvalidArgumentError(f"node {node.index} is a {node.kind} node, not a param")
        out: FloatArray = np.empty(node.array.shape, dtype=self.dtype)
        lib.descent_graph_grad(self._handle, node.index, self._code, out.ctypes.data, out.size)
        return out

    @property
    def grad_buffer(self) -> FloatArray:
        """The flat gradient buffer as a NumPy view (every param's gradient in param order; valid
        until a param is added). Writing to it changes the gradients an optimizer will use."""
        self._check_open()
        data = ctypes.c_void_p()
        size = ctypes.c_int64()
        lib.descent_graph_grad_buffer(self._handle, ctypes.byref(data), ctypes.byref(size))
        count = size.value
        if count == 0:
            return np.zeros(0, dtype=self.dtype)
        buffer = (ctypes.c_char * (count * self.dtype.itemsize)).from_address(data.value or 0)
        view: FloatArray = np.frombuffer(memoryview(buffer), dtype=self.dtype, count=count)
        return view

    @property
    def param_buffer(self) -> FloatArray:
        """Every param's values as one flat NumPy view, in param order, without copying (C
        ``descent_graph_param_buffer``): writing it writes the params. Needs params that lie back
        to back in memory, as an :class:`~descent.models.MLP`'s do (views of one array);
        InvalidArgumentError otherwise. Valid while the param arrays live."""
        self._check_open()
        data = ctypes.c_void_p()
        size = ctypes.c_int64()
        lib.descent_graph_param_buffer(self._handle, ctypes.byref(data), ctypes.byref(size))
        count = size.value
        buffer = (ctypes.c_char * (count * self.dtype.itemsize)).from_address(data.value or 0)
        view: FloatArray = np.frombuffer(memoryview(buffer), dtype=self.dtype, count=count)
        return view

    def grads(self) -> list[FloatArray]:
        """Views of each param's gradient (slices of :attr:`grad_buffer`), in param order."""
        flat, grads, offset = self.grad_buffer, [], 0
        for node in self._params:
            assert node.array is not None
            size = node.array.size
            grads.append(flat[offset:offset + size].reshape(node.array.shape))
            offset += size
        return grads

    def init_params(self, seed: SupportsInt) -> None:
        """Re-initializes every trainable param from its initializer (param k from seed
        ``SplitMix64(seed).output(k)``) and resets batch-norm running statistics."""
        self._check_open()
        lib.descent_graph_init_params(self._handle, int(seed))

    def running_stats(self, node: Node) -> tuple[FloatArray, FloatArray]:
        """(running_mean, running_var) copies of batch-norm node `node`."""
        self._check_open()
        node = self._node(node)
        features = self.shape(node)[1] or 0
        mean: FloatArray = np.empty(features, self.dtype)
        var: FloatArray = np.empty(features, self.dtype)
        lib.descent_graph_running_stats(self._handle, node.index, self._code, mean.ctypes.data, var.ctypes.data,
                                        features, 0)
        return mean, var

    def set_running_stats(self, node: Node, mean: npt.ArrayLike, var: npt.ArrayLike) -> None:
        """Sets batch-norm node `node`'s running mean and variance."""
        self._check_open()
        node = self._node(node)
        means = np.ascontiguousarray(mean, dtype=self.dtype)
        variances = np.ascontiguousarray(var, dtype=self.dtype)
        if means.shape != variances.shape or means.ndim != 1:
            raise errors.ShapeError("mean and var must be 1-d arrays of the same length")
        lib.descent_graph_running_stats(self._handle, node.index, self._code, means.ctypes.data,
                                        variances.ctypes.data, means.size, 1)

    def close(self) -> None:
        """Frees the graph and the tensors it holds. Safe to call more than once."""
        for entry in self._fed.values():
            entry[1].close()
        self._fed = {}
        super().close()
        for tensor in self._keep:
            tensor.close()
        self._keep = []


# -- operations ----------------------------------------------------------------------------------

def _as_node(value: object, role: str) -> Node:
    """`value` if it is a graph Node, else TypeError."""
    if not isinstance(value, Node):
        raise TypeError(f"{role} must be a descent.graph Node (from Graph.input, Graph.param or an operation), "
                        f"got {type(value).__name__}")
    return value


def _graph_of(*values: object) -> Graph:
    for value in values:
        if isinstance(value, Node):
            return value.graph
    raise TypeError("at least one operand must be a graph Node")


def matmul(a: Operand, b: Operand, trans_a: bool = False, trans_b: bool = False) -> Node:
    """``op(a) @ op(b)`` for rank-2 nodes (op = transpose when asked); BLAS gemm."""
    g = _graph_of(a, b)
    left, right = g._node(a), g._node(b)
    return g._add(lib.descent_graph_matmul, left.index, right.index, int(bool(trans_a)), int(bool(trans_b)),
                  kind="matmul")


def exp(x: Node) -> Node:
    """e^x elementwise (backward: g e^x)."""
    node = _as_node(x, "x")
    return node.graph._unary("exp", node)


def log(x: Node) -> Node:
    """ln x elementwise (backward: g / x)."""
    node = _as_node(x, "x")
    return node.graph._unary("log", node)


def square(x: Node) -> Node:
    """x² elementwise (backward: 2 x g)."""
    node = _as_node(x, "x")
    return node.graph._unary("square", node)


def sqrt(x: Node) -> Node:
    """sqrt(x) elementwise (backward: g / (2 sqrt x))."""
    node = _as_node(x, "x")
    return node.graph._unary("sqrt", node)


def sin(x: Node) -> Node:
    """sin x elementwise (backward: g cos x)."""
    node = _as_node(x, "x")
    return node.graph._unary("sin", node)


def cos(x: Node) -> Node:
    """cos x elementwise (backward: -g sin x)."""
    node = _as_node(x, "x")
    return node.graph._unary("cos", node)


def abs(x: Node) -> Node:  # noqa: A001 (mirrors numpy.abs)
    """|x| elementwise (backward: g sign(x), 0 at x = 0)."""
    node = _as_node(x, "x")
    return node.graph._unary("abs", node)


def _reduce(x: Node, op: str, axis: Optional[int]) -> Node:
    node = _as_node(x, "x")
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, np.integer))):
        raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
    if axis is None:
        return node.graph._add(lib.descent_graph_reduce, _REDUCE[op], node.index, 0, kind=op)
    return node.graph._add(lib.descent_graph_reduce, _REDUCE[op + "_axis"], node.index, int(axis), kind=op)


def sum(x: Node, axis: Optional[int] = None) -> Node:  # noqa: A001 (mirrors numpy.sum)
    """Sum of all elements (a scalar) or along `axis` (accumulated in float64)."""
    return _reduce(x, "sum", axis)


def mean(x: Node, axis: Optional[int] = None) -> Node:
    """Mean of all elements (a scalar) or along `axis`."""
    return _reduce(x, "mean", axis)


def activation(x: Node, kind: str, negative_slope: SupportsFloat = 0.01) -> Node:
    """``f(x)`` for kind in identity, sigmoid, tanh, relu, leaky_relu, softmax (last axis)."""
    node = _as_node(x, "x")
    return node.graph._add(lib.descent_graph_activation, _activation_code(kind), float(negative_slope), node.index,
                           kind=kind)


def sigmoid(x: Node) -> Node:
    """σ(x) = 1/(1+e^-x)."""
    return activation(x, "sigmoid")


def tanh(x: Node) -> Node:
    """tanh x."""
    return activation(x, "tanh")


def relu(x: Node) -> Node:
    """max(0, x) (derivative 0 at x = 0)."""
    return activation(x, "relu")


def leaky_relu(x: Node, negative_slope: SupportsFloat = 0.01) -> Node:
    """x if x > 0 else negative_slope·x."""
    return activation(x, "leaky_relu", negative_slope)


def softmax(x: Node) -> Node:
    """Softmax along the last axis (stable)."""
    return activation(x, "softmax")


def _cost(name: str, prediction: Node, target: Operand, reduction: str = "mean",
          parameter: SupportsFloat = 0.0) -> Node:
    g = _graph_of(prediction)
    target_node = g._node(target)
    try:
        code = _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise errors.InvalidArgumentError(f"reduction must be 'mean' or 'sum', got {reduction!r}") from None
    return g._add(lib.descent_graph_cost, _COSTS[name], prediction.index, target_node.index, code,
                  float(parameter), kind=name)


def sse(prediction: Node, target: Operand) -> Node:
    """E = ½ Σ (y - ŷ)² over every element (a scalar)."""
    return _cost("sse", prediction, target)


def quadratic_cost(prediction: Node, target: Operand) -> Node:
    """C = 1/(2n) Σ_x ‖y(x) - a(x)‖², n = the batch (first extent)."""
    return _cost("quadratic", prediction, target)


def mse(prediction: Node, target: Operand) -> Node:
    """(1/N) Σ (ŷ - y)² over all N elements."""
    return _cost("mse", prediction, target)


def bce(probabilities: Node, target: Operand, eps: SupportsFloat = 1e-12, reduction: str = "mean") -> Node:
    """Binary cross-entropy of probabilities (clamped to [eps, 1-eps])."""
    return _cost("bce", probabilities, target, reduction, eps)


def bce_with_logits(logits: Node, target: Operand, reduction: str = "mean") -> Node:
    """Binary cross-entropy of logits, stable for every finite logit."""
    return _cost("bce_logits", logits, target, reduction)


def softmax_cross_entropy(logits: Node, labels: Node, reduction: str = "mean") -> Node:
    """Softmax cross-entropy of (batch, classes) logits against a labels node."""
    return _cost("softmax_cross_entropy", logits, labels, reduction)


def multiclass_hinge(scores: Node, labels: Node, margin: SupportsFloat = 1.0, reduction: str = "mean") -> Node:
    """Multiclass SVM loss Σ_{j≠y} max(0, s_j - s_y + margin) against a labels node."""
    return _cost("multiclass_hinge", scores, labels, reduction, margin)


def l2_penalty(w: Node, lam: SupportsFloat, m: SupportsInt = 1) -> Node:
    """λ/(2m) ‖w‖² (gradient (λ/m) w)."""
    node = _as_node(w, "w")
    return node.graph._add(lib.descent_graph_l2_penalty, node.index, float(lam), int(m), kind="l2_penalty")


def dense(x: Node, weights: Operand, bias: Optional[Operand] = None, activation: str = "identity",
          negative_slope: SupportsFloat = 0.01) -> Node:
    """A dense layer ``f(x Wᵀ + b)``: x (batch, in), weights (out, in), bias (out,) or None.
    The input gradient is skipped when x does not depend on params."""
    g = _graph_of(x)
    w = g._node(weights)
    b = -1 if bias is None else g._node(bias).index
    return g._add(lib.descent_graph_dense, x.index, w.index, b, _activation_code(activation),
                  float(negative_slope), kind="dense")


def batch_norm(x: Node, gamma: Operand, beta: Operand, momentum: SupportsFloat = 0.1,
               eps: SupportsFloat = 1e-5) -> Node:
    """Batch normalization over the batch axis of x (batch, features) with per-feature gamma and
    beta nodes (PyTorch's conventions; the graph keeps the running statistics)."""
    g = _graph_of(x)
    return g._add(lib.descent_graph_batchnorm, x.index, g._node(gamma).index, g._node(beta).index,
                  float(momentum), float(eps), kind="batch_norm")


def dropout(x: Node, p: SupportsFloat, seed: SupportsInt = 0) -> Node:
    """Inverted dropout with drop probability p (identity in evaluation mode)."""
    node = _as_node(x, "x")
    return node.graph._add(lib.descent_graph_dropout, node.index, float(p), int(seed), kind="dropout")

