"""Keras-style layers on fastconv's kernels: channels-last (NHWC), float32.

Each layer stores and checks its hyperparameters in ``__init__``, creates its
weights once in ``build(input_shape)`` (shapes without the batch axis), runs
the forward pass in ``call(x, training)`` keeping what the backward pass needs,
and returns the input gradient from ``backward(grad)`` while leaving the weight
gradients in ``self.grads`` beside the weights (same order; None for a weight
the optimizer already updated inside the backward pass, see Dense).

A new layer is a subclass with those methods (and `weight_shapes` and
`compute_output_shape`): a Sequential model trains it through its own ``call``
and ``backward`` (``fastconv._training``'s generic step), with the optimizer
updating the weights it lists in ``weights`` from ``grads``. The layers reach
fastconv's kernels only through `fastconv.nn`.

As in Keras, ``layer.weights`` lists the layer's weight arrays (kernel, then
bias), ``get_weights()`` returns copies of them and ``set_weights()`` replaces
their values after checking every shape; names are numbered per class in the
order the layers are made (``conv2d``, ``conv2d_1``, ...), and a layer whose
output would be empty raises at build time with Keras' message.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import activations, initializers, nn, utils
from ._checks import c_aligned, pair, positive_int

__all__ = ["Activation", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPooling2D", "ReLU"]

DTYPE = np.float32

Shape = tuple[int, ...]
Weight = npt.NDArray[np.float32]
Array = npt.NDArray[Any]  # activations and gradients: float32 in a model, float64 allowed alone


class Layer:
    """Base class of the layers: a name, weights built once, a config round trip.

    Parameters
    ----------
    name : str, optional
        Unique within a model; by default the class name in snake case,
        numbered as Keras numbers it (``dense``, ``dense_1``, ...).
    input_shape : tuple of int or int, optional
        The shape of one sample (no batch axis), for a model's first layer;
        an int is taken as a 1-D shape (Keras 3 wants a tuple).
    trainable : bool, optional
        False freezes the weights: the optimizer leaves them alone.

    Attributes
    ----------
    name : str
    trainable : bool
    built : bool
        True once `build` created the weights.
    input_shape : tuple of int or None
        The ``input_shape`` argument, then the shape the layer was built for
        (without the batch axis). fastconv's own: Keras 3 layers have neither
        ``input_shape`` nor ``output_shape``; `compute_output_shape` gives the
        latter.
    grads : list of ndarray or None
        The last backward pass's weight gradients, in the order of `weights`.

    Examples
    --------
    >>> from fastconv.layers import Dense
    >>> layer = Dense(3)
    >>> layer.build((4,))
    >>> [w.shape for w in layer.weights], layer.count_params()
    ([(4, 3), (3,)], 15)
    """

    _count: ClassVar[dict[str, int]] = {}

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | int | None = None,
                 trainable: bool = True) -> None:
        prefix = _snake(type(self).__name__)
        if name is None:
            Layer._count[prefix] = Layer._count.get(prefix, 0) + 1
            n = Layer._count[prefix]
            name = prefix if n == 1 else f"{prefix}_{n - 1}"
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}: name must be a non-empty str, got {name!r}")
        self.name = name
        self.trainable = bool(trainable)
        self.input_shape: Shape | None = _shape_argument(input_shape, type(self).__name__)
        self._weights: list[Weight] = []
        self.grads: list[Array | None] = []
        self.built = False
        self.need_input_grad = True  # False for the first layer: nothing upstream to feed

    # ---- weights ---------------------------------------------------------------------------

    @property
    def weights(self) -> list[Weight]:
        """The layer's weight arrays, Keras' order (kernel, then bias); empty until built.

        The arrays themselves, not copies: writing into one changes the layer
        (as assigning a Keras variable does). The list is new on every access.

        Examples
        --------
        >>> from fastconv.layers import Conv2D
        >>> conv = Conv2D(4, 3)
        >>> conv.build((8, 8, 2))
        >>> [w.shape for w in conv.weights]
        [(3, 3, 2, 4), (4,)]
        """
        return list(self._weights)

    @property
    def trainable_weights(self) -> list[Weight]:
        """`weights` if the layer is trainable, else empty (what the optimizer updates).

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> layer = Dense(2)
        >>> layer.build((3,))
        >>> layer.trainable = False
        >>> len(layer.trainable_weights), len(layer.non_trainable_weights)
        (0, 2)
        """
        return list(self._weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Weight]:
        """`weights` if the layer is frozen (``trainable=False``), else empty.

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> layer = Dense(2)
        >>> layer.build((3,))
        >>> layer.non_trainable_weights
        []
        """
        return [] if self.trainable else list(self._weights)

    def get_weights(self) -> list[Weight]:
        """Copies of the weights, Keras' order and shapes (Conv2D kernel
        (kh, kw, in_channels / groups, filters), Dense kernel (in, units), bias).

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> layer = Dense(2, bias_initializer="ones")
        >>> layer.build((3,))
        >>> layer.get_weights()[1]
        array([1., 1.], dtype=float32)
        """
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[npt.ArrayLike]) -> None:
        """Replace the weights' values with `weights` (e.g. a Keras layer's
        ``get_weights()``), as float32.

        All or nothing: the count and every shape are checked, and every array
        converted, before any weight changes. `weights` are not modified.

        Raises
        ------
        ValueError
            For a list of another length, an array of another shape (the
            message names the layer and both shapes), or values that are not
            numbers.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import Dense
        >>> layer = Dense(2)
        >>> layer.build((3,))
        >>> layer.set_weights([np.ones((3, 2)), np.zeros(2)])
        >>> layer(np.ones((1, 3)))
        array([[3., 3.]], dtype=float32)
        """
        new = _converted(weights, [(self.name, w, n) for w, n in zip(self._weights, self._weight_names())],
                         owner=self.name)
        for cur, w in zip(self._weights, new):
            cur[...] = w

    def _weight_names(self) -> list[str]:
        """Keras' names of the weights ('kernel', 'bias'), in their order."""
        return [f"weight_{i}" for i in range(len(self._weights))]

    def count_params(self) -> int:
        """The number of weight values (trainable or not).

        Raises
        ------
        ValueError
            If the layer is not built yet, as in Keras.

        Examples
        --------
        >>> from fastconv.layers import Conv2D
        >>> conv = Conv2D(28, 3)
        >>> conv.build((28, 28, 1))
        >>> conv.count_params()
        280
        """
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(w.size for w in self._weights))

    # ---- building and running ----------------------------------------------------------------

    def build(self, input_shape: Sequence[int]) -> None:
        """Create the weights for inputs of `input_shape` (one sample's shape,
        without the batch axis), once; a model calls it for you.

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> layer = Dense(5)
        >>> layer.build((3,))
        >>> layer.built, layer.kernel.shape
        (True, (3, 5))
        """
        self.input_shape = tuple(input_shape)
        self.built = True

    def _build_for_loading(self, input_shape: Shape) -> None:
        """`build` with weights that need no random draws (load_model reads them)."""
        self.build(input_shape)

    def weight_shapes(self, input_shape: Sequence[int]) -> list[Shape]:
        """Shapes of the weights `build(input_shape)` creates, without creating them.

        Examples
        --------
        >>> from fastconv.layers import Conv2D
        >>> Conv2D(8, (3, 2), use_bias=False).weight_shapes((10, 10, 3))
        [(3, 2, 3, 8)]
        """
        return []

    def call(self, x: Array, training: bool = False) -> Array:
        """The forward pass on a batch `x` (float32 or float64); with `training`,
        keeps what `backward` needs (and Dropout drops).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import Flatten
        >>> Flatten().call(np.zeros((2, 3, 4, 5), np.float32)).shape
        (2, 60)
        """
        raise NotImplementedError

    def backward(self, grad: Array) -> Array | None:
        """The gradient of the loss with respect to the input of the last
        training `call`, from `grad`, the gradient with respect to its output;
        leaves the weight gradients in `grads`. None where the layer's input
        needs no gradient (a model's first layer).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import Flatten
        >>> layer = Flatten()
        >>> y = layer.call(np.zeros((2, 3, 4), np.float32), training=True)
        >>> layer.backward(np.ones_like(y)).shape
        (2, 3, 4)
        """
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Sequence[int]) -> Shape:
        """The output's shape for inputs of `input_shape` (both without the batch axis).

        Raises
        ------
        ValueError
            Where the layer cannot take such inputs: the wrong number of axes,
            or an output that would be empty (Keras' messages).

        Examples
        --------
        >>> from fastconv.layers import Conv2D, MaxPooling2D
        >>> Conv2D(28, 3).compute_output_shape((28, 28, 1))
        (26, 26, 28)
        >>> MaxPooling2D(2).compute_output_shape((26, 26, 28))
        (13, 13, 28)
        """
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-ready, by their Keras names.

        Examples
        --------
        >>> from fastconv.layers import Dropout
        >>> Dropout(0.5, name="drop").get_config()
        {'name': 'drop', 'trainable': True, 'rate': 0.5}
        """
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer from `get_config`'s dictionary (unbuilt, no weights).

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> Dense.from_config(Dense(4, name="d").get_config()).units
        4
        """
        return cls(**config)

    def __call__(self, x: npt.ArrayLike, training: bool = False) -> Array:
        """`call` on `x` as float32, building the layer for ``x.shape[1:]`` first
        if needed.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.layers import MaxPooling2D
        >>> MaxPooling2D(2)(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
        """
        x = np.asarray(x, dtype=DTYPE)
        if not self.built:
            if x.ndim == 0:
                raise ValueError(f"{self.name}: expects a batch of inputs, got a scalar")
            try:
                self.compute_output_shape(x.shape[1:])  # Keras' build-time errors
            except ValueError as err:  # with the batch's shape where Keras' message gives one
                raise ValueError(str(err).replace(f"received: {(None, *x.shape[1:])}",
                                                  f"received: {x.shape}")) from None
            self.build(x.shape[1:])
        return self.call(x, training=training)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name: str) -> str:
    """Keras' ``to_snake_case``: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _shape_argument(input_shape: Any, layer: str) -> Shape | None:
    """The ``input_shape`` argument as a tuple of positive ints (an int: a 1-D shape)."""
    if input_shape is None:
        return None
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        dims = tuple(operator.index(d) for d in input_shape)
        if any(isinstance(d, (bool, np.bool_)) for d in input_shape) or any(d < 1 for d in dims):
            raise TypeError
    except TypeError:
        raise ValueError(f"{layer}: input_shape must be a tuple of positive ints such as (28, 28, 1), "
                         f"got {input_shape!r}") from None
    return dims


def _converted(weights: Sequence[npt.ArrayLike], targets: list[tuple[str, Weight, str]],
               owner: str) -> list[Weight]:
    """`weights` as float32 arrays of the shapes of `targets` ((layer, array, weight
    name) each), every one checked and converted before the caller assigns any;
    Keras' messages, naming the layer and both shapes. Arrays that overlap a
    target are copied, so that assigning in order cannot read a changed value."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        weights = list(weights)  # a generator, or an array of arrays: one per first-axis entry
    if len(weights) != len(targets):
        raise ValueError(
            f"You called `set_weights(weights)` on layer '{owner}' with a weight list of length "
            f"{len(weights)}, but the layer was expecting {len(targets)} weights."
        )
    out = []
    for i, (w, (layer, cur, wname)) in enumerate(zip(weights, targets)):
        where = f"weight {i}, {layer}/{wname}" if layer != owner else f"its {wname}"
        try:
            arr = np.asarray(w)
        except (ValueError, TypeError) as err:
            raise ValueError(f"set_weights: {where} could not be read as an array ({err}); "
                             "nothing was changed") from None
        if arr.shape != cur.shape:
            raise ValueError(
                f"Layer {layer} weight shape {cur.shape} is not compatible with provided weight "
                f"shape {arr.shape} ({where}); nothing was changed."
            )
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"set_weights: {where} has dtype {arr.dtype}; weights are numbers "
                             "(stored as float32); nothing was changed")
        converted = arr.astype(DTYPE, copy=False)
        if any(np.may_share_memory(converted, t) for _, t, _ in targets):
            converted = converted.copy()
        out.append(converted)
    return out


def _padding(padding: Any, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _image_shape(layer: Layer, input_shape: Sequence[int]) -> tuple[int, int, int]:
    """`input_shape` as (H, W, C), else Keras' input-spec error (its shapes with the batch axis)."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"Input 0 of layer '{layer.name}' is incompatible with the layer: expected ndim=4, "
            f"found ndim={len(shape) + 1}. Full shape received: {(None, *shape)}; "
            f"{type(layer).__name__} takes images of shape (H, W, C) (input_shape without the batch axis)"
        )
    return shape[0], shape[1], shape[2]


def _need_4d(x: Array, layer: Layer) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{layer.name}: expects a batch of images (N, H, W, C), got an array of shape {x.shape}"
        )


# ---- Conv2D ----------------------------------------------------------------------------------


class _KernelLayer(Layer):
    """A layer with a kernel and an optional bias (Conv2D, Dense): their initialisers,
    seed and activation, and the weights built from `weight_shapes`."""

    use_bias: bool

    def _init_weights(self, activation: Any, use_bias: bool, kernel_initializer: Any,
                      bias_initializer: Any, seed: int | None) -> None:
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed

    def build(self, input_shape: Sequence[int]) -> None:
        shapes = self.weight_shapes(input_shape)
        weights = [self.kernel_initializer(shapes[0], DTYPE, self.seed)]
        if self.use_bias:
            weights.append(self.bias_initializer(shapes[1], DTYPE))
        # line-aligned, as the kernels read and write them best (nn._zeros_line_aligned)
        self._weights = [nn._line_aligned(w) if type(w) is np.ndarray else w for w in weights]
        self.grads = [None] * len(self._weights)
        super().build(input_shape)

    def _build_for_loading(self, input_shape: Shape) -> None:
        self._weights = [nn._zeros_line_aligned(tuple(s), DTYPE) for s in self.weight_shapes(input_shape)]
        self.grads = [None] * len(self._weights)
        Layer.build(self, input_shape)

    def _weight_names(self) -> list[str]:
        return ["kernel", "bias"][:len(self._weights)]

    def _activate(self, x: Array, z: Array, training: bool) -> Array:
        """The activation of `z`, the layer's output before it; in training, keeps
        (x, z, activation) for `backward`."""
        a: Array = self.activation.forward(z)
        if training:
            self._cache: Any = (x, z, a)
        return a

    def _take_cache(self, grad: Array, grad_is_preactivation: bool) -> tuple[Array, Array]:
        """(the input `_activate` kept, the gradient before the activation), the
        cache released."""
        x, z, a = self._cache
        self._cache = None
        gz: Array = grad if grad_is_preactivation else self.activation.backward(grad, z, a)
        return x, gz

    @property
    def preactivation(self) -> Array:
        """The last training call's output before the activation."""
        z: Array = self._cache[1]
        return z

    @property
    def kernel(self) -> Weight:
        """The kernel: the array the layer computes with (writing into it changes
        the layer; `get_weights` gives copies). Keras' layout.

        Raises
        ------
        AttributeError
            Before the layer is built, as in Keras.

        Examples
        --------
        >>> from fastconv.layers import Conv2D
        >>> conv = Conv2D(4, 3)
        >>> conv.build((9, 9, 2))
        >>> conv.kernel.shape
        (3, 3, 2, 4)
        """
        if not self.built:
            raise AttributeError("You must build the layer before accessing `kernel`.")
        return self._weights[0]

    @property
    def bias(self) -> Weight | None:
        """The bias (the layer's own array, as `kernel`), or None with ``use_bias=False``.

        Raises
        ------
        AttributeError
            Before the layer is built.

        Examples
        --------
        >>> from fastconv.layers import Dense
        >>> layer = Dense(3, use_bias=False)
        >>> layer.build((2,))
        >>> layer.bias is None
        True
        """
        if not self.built:
            raise AttributeError("You must build the layer before accessing `bias`.")
        return self._weights[1] if self.use_bias else None


class Conv2D(_KernelLayer):
    """2-D convolution over channels-last images, as ``keras.layers.Conv2D``:
    ``activation(conv2d(x, kernel) + bias)``.

    The kernel is (kh, kw, C / groups, filters), Keras' layout, so weights
    copied from a Keras model give the same outputs.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or (int, int)
    strides : int or (int, int), optional
    padding : {'valid', 'same'}, optional
        'same' pads so that the output has ceil(H / stride) rows, as TensorFlow.
    data_format : None or 'channels_last', optional
    dilation_rate : int or (int, int), optional
    groups : int, optional
        Must divide `filters` and the input channels.
    activation : str, callable or None, optional
        'relu', 'softmax', 'linear' (None), ``fastconv.nn.relu`` or ``fastconv.nn.softmax``.
    use_bias : bool, optional
    kernel_initializer, bias_initializer : str or Initializer, optional
        Glorot uniform and zeros by default, as Keras.
    seed : int, optional
        Seeds the kernel's initialiser; by default the shared generator
        (`fastconv.utils.set_random_seed`) draws it.
    **kwargs
        `name`, `input_shape`, `trainable` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Conv2D
    >>> conv = Conv2D(2, kernel_size=3, kernel_initializer="ones")
    >>> conv(np.ones((1, 5, 5, 1))).shape
    (1, 3, 3, 2)
    >>> float(conv(np.ones((1, 5, 5, 1)))[0, 0, 0, 0])
    9.0
    """

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = (1, 1),
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: int | Sequence[int] = (1, 1), groups: int = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", "Conv2D")
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = pair(strides, "strides", "Conv2D")
        self.padding = _padding(padding, "Conv2D")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Conv2D: only data_format='channels_last' is supported, got {data_format!r}")
        self.dilation_rate = pair(dilation_rate, "dilation_rate", "Conv2D")
        self.groups = positive_int(groups, "groups", "Conv2D")
        if self.filters % self.groups:
            raise ValueError(f"Conv2D: groups={self.groups} must divide filters={self.filters}")
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer, seed)

    def weight_shapes(self, input_shape: Sequence[int]) -> list[Shape]:
        _, _, c = _image_shape(self, input_shape)
        if c % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} must divide the {c} input channels")
        kernel = (*self.kernel_size, c // self.groups, self.filters)
        return [kernel, (self.filters,)] if self.use_bias else [kernel]

    def _options(self) -> dict[str, Any]:
        return {"stride": self.strides, "padding": self.padding, "dilation": self.dilation_rate,
                "groups": self.groups, "layout": "NHWC"}

    def call(self, x: Array, training: bool = False) -> Array:
        _need_4d(x, self)
        z = nn.conv2d(x, self._weights[0], self._weights[1] if self.use_bias else None, **self._options())
        return self._activate(x, z, training)

    def backward(self, grad: Array, grad_is_preactivation: bool = False) -> Array | None:
        x, gz = self._take_cache(grad, grad_is_preactivation)
        gx, gw, gb = nn.conv2d_backward(gz, x, self._weights[0], **self._options(),
                                        output_mask=(self.need_input_grad, True, self.use_bias))
        self.grads = [gw, gb] if self.use_bias else [gw]
        return gx

    def compute_output_shape(self, input_shape: Sequence[int]) -> Shape:
        h, w, _ = _image_shape(self, input_shape)
        kernel = self.weight_shapes(input_shape)[0]
        out = []
        for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate):
            out.append(nn._same_padding(n, k, s, d, self.name)[2] if self.padding == "same"
                       else (n - d * (k - 1) - 1) // s + 1)
        if min(out) <= 0:
            raise ValueError(
                f"{self.name}: Computed output size would be zero or negative. Received "
                f"`inputs shape={(None, *input_shape)}`, `kernel shape={kernel}`, "
                f"`dilation_rate={self.dilation_rate}`, `strides={self.strides}`, "
                f"`padding={self.padding}`."
            )
        return (out[0], out[1], self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": self.activation.name, "use_bias": self.use_bias}


# ---- MaxPooling2D ----------------------------------------------------------------------------


class MaxPooling2D(Layer):
    """2-D max pooling over channels-last images, as ``keras.layers.MaxPooling2D``
    (``padding='same'`` gives ceil(H / stride) outputs, the odd pad at the end).

    Parameters
    ----------
    pool_size : int or (int, int), optional
        (2, 2) by default.
    strides : int or (int, int), optional
        `pool_size` by default.
    padding : {'valid', 'same'}, optional
    data_format : None or 'channels_last', optional
    **kwargs
        `name`, `input_shape`, `trainable` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import MaxPooling2D
    >>> MaxPooling2D(pool_size=2, padding="same")(np.ones((1, 5, 5, 3))).shape
    (1, 3, 3, 3)
    """

    def __init__(self, pool_size: int | Sequence[int] = (2, 2), strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = pair(pool_size, "pool_size", "MaxPooling2D")
        self.strides = self.pool_size if strides is None else pair(strides, "strides", "MaxPooling2D")
        self.padding = _padding(padding, "MaxPooling2D")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"MaxPooling2D: only data_format='channels_last' is supported, got {data_format!r}")

    def _plan(self, h: int, w: int) -> tuple[dict[str, Any], tuple[int, int, int, int] | None]:
        """Keras' output grid as PyTorch-style arguments (symmetric padding of the
        TensorFlow start pad, ceil_mode where the last window hangs over the end),
        or, where no such arguments give that grid, explicit -inf padding
        (top, bottom, left, right) around a 'valid' pooling."""
        if self.padding == "valid":
            return {"padding": 0, "ceil_mode": False}, None
        pads, totals, outs, ceil = [], [], [], False
        for n, k, s in zip((h, w), self.pool_size, self.strides):
            pad, total, out = nn._same_padding(n, k, s, 1, self.name)
            pads.append(pad)
            totals.append(total)
            outs.append(out)
            ceil = ceil or (n + 2 * pad - k) // s + 1 < out
        opts = {"padding": tuple(pads), "ceil_mode": ceil}
        shape = [nn._pool_out(n, k, s, p, 1, ceil)  # type: ignore[attr-defined]
                 for n, k, s, p in zip((h, w), self.pool_size, self.strides, pads)]
        if shape == outs:
            return opts, None
        (th, tw) = totals
        return {"padding": 0, "ceil_mode": False}, (th // 2, th - th // 2, tw // 2, tw - tw // 2)

    def call(self, x: Array, training: bool = False) -> Array:
        _need_4d(x, self)
        opts, pad = self._plan(x.shape[1], x.shape[2])
        src = x
        if pad is not None:
            top, bottom, left, right = pad
            src = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-np.inf)
        y, idx = nn.max_pool2d(src, self.pool_size, self.strides, layout="NHWC", return_indices=True, **opts)
        if training:
            self._cache: Any = (src, idx, opts, pad)
        return y

    def backward(self, grad: Array) -> Array | None:
        src, idx, opts, pad = self._cache
        self._cache = None
        if not self.need_input_grad:
            return None
        g = nn.max_pool2d_backward(grad, src, idx, self.pool_size, self.strides, layout="NHWC", **opts)
        if pad is not None:
            top, bottom, left, right = pad
            g = g[:, top:g.shape[1] - bottom, left:g.shape[2] - right]
        return g

    def compute_output_shape(self, input_shape: Sequence[int]) -> Shape:
        h, w, c = _image_shape(self, input_shape)
        if self.padding == "same":
            out = tuple(nn._same_padding(n, k, st, 1, self.name)[2]
                        for n, k, st in zip((h, w), self.pool_size, self.strides)) + (c,)
        else:
            out = ((h - self.pool_size[0]) // self.strides[0] + 1,
                   (w - self.pool_size[1]) // self.strides[1] + 1, c)
        if min(out) <= 0:
            raise ValueError(
                f"{self.name}: Computed output size would be zero or negative. Received: "
                f"`inputs.shape={(None, h, w, c)}`, `pool_size={self.pool_size}`, "
                f"`strides={self.strides}`, `padding={self.padding}`."
            )
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


# ---- Flatten, Dense, Dropout, Activation -------------------------------------------------------


class Flatten(Layer):
    """Flattens each sample in row-major (channels-last) order, as ``keras.layers.Flatten``.

    Parameters
    ----------
    name : str, optional
        The layer's name; by default ``flatten``, ``flatten_1``, ... within a model.
    input_shape : tuple of int or int, optional
        The shape of one sample, when this is the model's first layer.
    trainable : bool, optional
        Kept for Keras' signature: Flatten has no weights.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Flatten
    >>> Flatten()(np.arange(8).reshape(2, 2, 2)).tolist()
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """

    def call(self, x: Array, training: bool = False) -> Array:
        if training:
            self._cache: Any = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad: Array) -> Array | None:
        shape, self._cache = self._cache, None
        return grad.reshape(shape) if self.need_input_grad else None

    def compute_output_shape(self, input_shape: Sequence[int]) -> Shape:
        return (int(np.prod(input_shape)),)


class Dense(_KernelLayer):
    """Fully connected layer, ``activation(x @ kernel + bias)``, kernel (in, units),
    as ``keras.layers.Dense`` (on inputs of more axes, it acts on the last).

    The three products (forward, input and kernel gradients) are
    `fastconv.nn.dense` and `fastconv.nn.dense_backward`, on GEMM microkernels
    that read the kernel in place and pack only the small batch-sized operand.
    While a Sequential model trains with Adam, backward applies the kernel's
    update itself (``backward(..., adam=optimizer.fused_update(kernel))``), in
    one sweep over the kernel's rows with the two gradient products (the same
    arithmetic as the optimizer's own pass); the kernel's entry in `grads` is
    then None, as its gradient never left the cache.

    Parameters
    ----------
    units : int
        Output features.
    activation : str, callable or None, optional
        'relu', 'softmax', 'linear' (None), ``fastconv.nn.relu`` or ``fastconv.nn.softmax``.
    use_bias : bool, optional
    kernel_initializer, bias_initializer : str or Initializer, optional
        Glorot uniform and zeros by default, as Keras.
    seed : int, optional
        Seeds the kernel's initialiser.
    **kwargs
        `name`, `input_shape`, `trainable` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Dense
    >>> layer = Dense(2, kernel_initializer="ones", bias_initializer="ones")
    >>> layer(np.array([[1.0, 2.0, 3.0]]))
    array([[7., 7.]], dtype=float32)
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", "Dense")
        self._init_weights(activation, use_bias, kernel_initializer, bias_initializer, seed)
        self._kernel_grad: Weight | None = None

    def weight_shapes(self, input_shape: Sequence[int]) -> list[Shape]:
        kernel = (int(input_shape[-1]), self.units)
        return [kernel, (self.units,)] if self.use_bias else [kernel]

    def call(self, x: Array, training: bool = False) -> Array:
        kernel = self._weights[0]
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{self.name}: expects {kernel.shape[0]} input features, got shape {x.shape}"
            )
        x2 = c_aligned(x.reshape(-1, x.shape[-1]))
        z = np.empty((len(x2), self.units), dtype=kernel.dtype)
        nn._dense(x2, kernel, self._weights[1] if self.use_bias else None, z)
        return self._activate(x2, z.reshape(*x.shape[:-1], self.units), training)

    def backward(self, grad: Array, grad_is_preactivation: bool = False, *,
                 adam: nn.AdamStep | None = None) -> Array | None:
        """`Layer.backward`; with `adam` (what ``optimizer.fused_update(layer.kernel)``
        gives), the optimizer's step is applied to the kernel in the same sweep over
        its rows that computes the kernel's gradient, which then stays in cache:
        the kernel's entry in `grads` is None (give the kernel to the optimizer's
        ``apply(..., skip=)``). With `grad_is_preactivation`, `grad` is the gradient
        with respect to the output before the activation."""
        x2, gz = self._take_cache(grad, grad_is_preactivation)
        g2 = c_aligned(gz.reshape(-1, self.units), dtype=DTYPE)
        kernel = self._weights[0]
        gx = np.empty(x2.shape, dtype=kernel.dtype) if self.need_input_grad else None
        kernel_grad: Weight | None
        if adam is not None:
            # the optimizer's step on the kernel in the same sweep over its rows; the
            # kernel gradient stays in cache (grads holds None for it this step)
            nn._dense_backward(g2, x2, kernel, gx, None, adam)
            kernel_grad = None
        else:
            # the kernel gradient is as large as the kernel: reuse one buffer rather
            # than allocating (and page-faulting) megabytes every step
            if self._kernel_grad is None or self._kernel_grad.shape != kernel.shape:
                self._kernel_grad = np.empty(kernel.shape, dtype=kernel.dtype)
            nn._dense_backward(g2, x2, kernel, gx, self._kernel_grad, None)
            kernel_grad = self._kernel_grad
        self.grads = [kernel_grad] + ([g2.sum(axis=0)] if self.use_bias else [])
        return None if gx is None else gx.reshape(*gz.shape[:-1], x2.shape[-1])

    def compute_output_shape(self, input_shape: Sequence[int]) -> Shape:
        if len(input_shape) == 0:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             "expected min_ndim=2, found ndim=1. Full shape received: (None,)")
        return (*(int(d) for d in input_shape[:-1]), self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias}


class Dropout(Layer):
    """Zeroes a fraction `rate` of the inputs while training, scaling the rest by
    1 / (1 - rate); the identity at inference, as ``keras.layers.Dropout``.

    Each training call takes one 64-bit word from the generator to seed the
    mask's own counter-based stream (a C kernel: each element dropped with
    probability `rate`, in steps of 2**-24), so a seed gives the same masks
    at any thread count. Float32 and float64 inputs keep their dtype.

    Parameters
    ----------
    rate : float
        In [0, 1).
    noise_shape : None, optional
        Only None (a mask element per input element).
    seed : int, optional
        A generator of the layer's own; by default the shared one
        (`fastconv.utils.set_random_seed`).
    **kwargs
        `name`, `input_shape`, `trainable` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Dropout
    >>> drop = Dropout(0.5, seed=0)
    >>> sorted(set(drop(np.ones((1, 100)), training=True).ravel().tolist()))
    [0.0, 2.0]
    >>> drop(np.ones((1, 3))).tolist()
    [[1.0, 1.0, 1.0]]
    """

    def __init__(self, rate: float, noise_shape: None = None, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported")
        self.rate = float(rate)
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0:
            self._cache: Any = None
            return x
        out, self._cache = nn._dropout(x, self._seed(), self.rate)
        return out

    def _seed(self) -> int:
        """The next training call's seed: one 64-bit draw from the layer's
        generator (else the shared one) seeds the kernel's own stream for the
        whole mask."""
        gen = self._rng or utils.rng()
        return int(gen.bit_generator.random_raw())

    def backward(self, grad: Array) -> Array | None:
        mask, self._cache = self._cache, None
        if not self.need_input_grad:
            return None
        return grad if mask is None else grad * mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


class Activation(Layer):
    """Applies an activation, as ``keras.layers.Activation``.

    Parameters
    ----------
    activation : str or callable
        'relu', 'softmax', 'linear', ``fastconv.nn.relu`` or ``fastconv.nn.softmax``.
    **kwargs
        `name`, `input_shape`, `trainable` (see `Layer`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import Activation
    >>> Activation("softmax")(np.zeros((1, 4))).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x: Array, training: bool = False) -> Array:
        a = self.activation.forward(x)
        if training:
            self._cache: Any = (x, a)
        return a

    @property
    def preactivation(self) -> Array:
        """The last training call's input."""
        z: Array = self._cache[0]
        return z

    def backward(self, grad: Array, grad_is_preactivation: bool = False) -> Array | None:
        x, a = self._cache
        self._cache = None
        if not self.need_input_grad:
            return None
        return grad if grad_is_preactivation else self.activation.backward(grad, x, a)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation.name}


class ReLU(Activation):
    """``keras.layers.ReLU()`` with its defaults (no max_value, slope or threshold).

    Parameters
    ----------
    max_value : None, optional
        Keras' cap on the output; only None (no cap) is supported.
    negative_slope : float, optional
        Keras' slope below the threshold; only 0 is supported.
    threshold : float, optional
        Keras' threshold; only 0 is supported.
    **kwargs
        `name`, `input_shape`, `trainable`, as for every layer.

    Raises
    ------
    ValueError
        For any other `max_value`, `negative_slope` or `threshold`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.layers import ReLU
    >>> ReLU()(np.array([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any) -> None:
        if max_value is not None or negative_slope != 0 or threshold != 0:
            raise ValueError("ReLU: only max_value=None, negative_slope=0, threshold=0 are supported")
        super().__init__("relu", **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["activation"]
        return config


LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Activation, ReLU)
}
