"""A Sequential model's layers as an explicit plan of steps, for training (and
for inference where the one-call pass of `_inference` does not apply).

`plan` turns the model's layers into a list of steps with a small table of
fusion rules, ``RULES``: each rule is (pattern, condition, step), the pattern a
run of layer types matched by exact type (a subclass, or an instance given its
own `call` or `backward`, may change what the layer does, so it gets the
generic step), the condition a check of the layers' places in the model, and
the step the class that runs them. A layer no rule takes runs in `LayerStep`,
through its own ``call`` and ``backward``, so a new layer is one class (see
`fastconv.layers`) and optionally one rule. The loss is turned into the plan's
head the same way (``HEADS``): what gives the loss and the gradient that the
last step's backward starts from.

=====================  =======================================================
Conv2D + MaxPooling2D  `ConvPoolStep`: the fused conv+pool kernel (the conv's
                       output is pooled in cache and never stored) where its
                       windows tile the output, the activation commutes with max
                       and no input gradient is needed; not as the model's last
                       two layers
Dense                  `DenseStep`: the optimizer's step on the kernel applied
                       inside the kernel-gradient sweep when the optimizer
                       offers one (`Optimizer.fused_update`: Adam)
any other layer        `LayerStep`: the layer's call and backward
=====================  =======================================================

Heads: a last layer with a softmax activation and a probability cross-entropy
is differentiated from the logits in one step (`SoftmaxCrossEntropy`: stable,
no division by probabilities); any other loss takes the model's output
(`LossHead`).

The whole training step in one go: where every step is one the C chain knows
(`train_chain`: the fused conv2d + max-pool first, then Flatten, Dense and
Dropout layers, the last a Dense softmax under the cross-entropy head), the
optimizer is Adam and the labels are class indices or exactly one-hot (sample
weights or not), `Plan.train_step` runs forward, loss, backward and Adam's
update of every weight as one sequence of C calls (``_nnfront.TrainChain``),
with no Python between them and its buffers kept from step to step (`fit`
releases them as it returns). It calls the kernels the steps below call, with
the same arguments, in the same order: the same bits
(tests/test_train_chain.py). Anything else, and any step where a piece of the
layer-by-layer path has been replaced (a spy or a patch: ``_STOCK``), runs
layer by layer. The lecture's step at 2 threads: 0.95 -> 0.85 ms (AMD EPYC Zen
4, benchmarks/model_profile.py; the Python between the kernels, and a fresh
600 KB gradient each step).

The fused steps give the unfused chain's results within rounding (the fused
Adam step its bits; tests/test_fused.py). A model keeps its plan (``model._plan()``) until a layer is added or
removed or it is compiled again. Whether a fusion applies to a given input
(its shape, dtype, contiguity; whether training needs the input gradient) is
decided by the step on each call.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import activations, nn
from ._checks import c_aligned
from .losses import CategoricalCrossentropy, _weights
from .layers import Array, Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D
from .optimizers import Adam

__all__ = ["HEADS", "RULES", "ConvPoolStep", "DenseStep", "LayerStep", "Plan", "Rule", "Step", "plan"]


# ---- steps ----------------------------------------------------------------------------------


class Step:
    """One step of a plan: runs its layers forward, keeping what its backward
    needs, and back.

    ``backward(grad, optimizer, skip, preactivation)`` returns the gradient
    with respect to the step's input (None where nothing upstream needs one)
    and leaves the weight gradients in each layer's ``grads``; a step that
    applies the optimizer's update to a weight itself (`Optimizer.fused_update`)
    appends the weight to `skip`, the list the model passes to
    ``optimizer.apply(..., skip=)``. `optimizer` is None for a backward pass that
    updates nothing. With `preactivation` (the last step only, under
    `SoftmaxCrossEntropy`), `grad` is the gradient with respect to the last
    layer's output before its activation."""

    __slots__ = ("layers",)
    name = "step"

    def __init__(self, *layers: Layer) -> None:
        self.layers = layers

    def forward(self, x: Array, training: bool) -> Array:
        raise NotImplementedError

    def backward(self, grad: Any, optimizer: Any, skip: list[Array],
                 preactivation: bool = False) -> Array | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {' + '.join(layer.name for layer in self.layers)}>"


class LayerStep(Step):
    """Any layer, through its own ``call`` and ``backward`` (looked up on every
    call, so a spy or a patch on the instance runs)."""

    __slots__ = ("layer",)

    def __init__(self, layer: Layer) -> None:
        super().__init__(layer)
        self.layer = layer

    @property
    def name(self) -> str:  # type: ignore[override]
        return type(self.layer).__name__.lower()

    def forward(self, x: Array, training: bool) -> Array:
        return self.layer.call(x, training=training)

    def backward(self, grad: Any, optimizer: Any, skip: list[Array],
                 preactivation: bool = False) -> Array | None:
        if preactivation:
            return self.layer.backward(grad, grad_is_preactivation=True)  # type: ignore[call-arg]
        return self.layer.backward(grad)


class DenseStep(LayerStep):
    """A Dense layer whose backward applies the optimizer's step to the kernel in
    the sweep that computes the kernel's gradient, when the optimizer offers
    one for it (``optimizer.fused_update(kernel)``, Adam's) and the layer is
    trainable; the kernel then goes to `skip`."""

    __slots__ = ()
    name = "dense"

    def backward(self, grad: Any, optimizer: Any, skip: list[Array],
                 preactivation: bool = False) -> Array | None:
        layer: Any = self.layer
        kernel = layer.kernel
        adam = optimizer.fused_update(kernel) if optimizer is not None and layer.trainable else None
        gx: Array | None = layer.backward(grad, preactivation, adam=adam)
        if adam is not None:
            skip.append(kernel)
        return gx


class ConvPoolStep(Step):
    """Conv2D then MaxPooling2D. Where `conv_pool_plan` gives a plan for the
    input (the pool's windows tile the conv's output without overlap or padding,
    the activation commutes with max, and training needs no input gradient),
    they run as one kernel (``nn._conv2d_maxpool``) whose conv output is pooled
    in cache and never stored, and backward gives the conv's weight gradients
    from the pooled output's gradient and each output's window code; otherwise
    the two layers run one after the other.

    Attributes
    ----------
    fused : bool
        Whether the last forward pass ran the fused kernel.
    """

    __slots__ = ("_cache", "_geometry", "conv", "fused", "pool")
    name = "conv2d+maxpool"

    def __init__(self, conv: Layer, pool: Layer) -> None:
        super().__init__(conv, pool)
        self.conv: Any = conv
        self.pool: Any = pool
        self.fused = False
        self._cache: Any = None
        self._geometry: dict[Any, Any] = {}  # conv_pool_plan's plans, per input shape

    def forward(self, x: Array, training: bool) -> Array:
        conv, pool = self.conv, self.pool
        plan = conv_pool_plan(conv, pool, x, training, self._geometry)
        self.fused = plan is not None
        if plan is None:
            self._cache = None
            return pool.call(conv.call(x, training=training), training=training)  # type: ignore[no-any-return]
        kernel = c_aligned(conv.kernel)
        bias = c_aligned(conv.bias) if conv.use_bias else None
        zp, codes = nn._conv2d_maxpool(plan, x, kernel, bias, return_codes=training)  # type: ignore[attr-defined]
        a: Array = conv.activation.forward(zp)
        self._cache = (x, zp, a, plan, codes) if training else None
        return a

    def backward(self, grad: Any, optimizer: Any, skip: list[Array],
                 preactivation: bool = False) -> Array | None:
        conv, pool = self.conv, self.pool
        if self._cache is None:  # ran as two layers
            return conv.backward(pool.backward(grad))  # type: ignore[no-any-return]
        x, zp, a, plan, codes = self._cache
        self._cache = None
        gz = conv.activation.backward(grad, zp, a)
        gw, gb = nn._conv2d_maxpool_backward(plan, gz, x, codes, conv.kernel.shape,  # type: ignore[attr-defined]
                                             conv.use_bias)
        conv.grads = [gw, gb] if conv.use_bias else [gw]
        return None  # the fused backward gives the weight gradients only: nothing flows further


def conv_pool_plan(conv: Any, pool: Any, x: Array, training: bool,
                   cache: dict[Any, Any]) -> Any:
    """The plan for running `conv` and `pool` on `x` as one fused kernel
    (``nn._conv2d_maxpool_plan``), or None where that does not apply: `pool` must
    be a MaxPooling2D whose windows tile the output without overlap or padding,
    the activation must commute with max (linear or relu: relu(max z) = max
    relu(z), and the gradients agree), and training must not need the conv's
    input gradient (the fused backward gives the weight gradients only). The
    geometry depends only on shapes and options: worked out once per shape, in
    `cache`."""
    kernel = conv.kernel
    if (not isinstance(pool, MaxPooling2D) or pool.padding != "valid"
            or pool.strides != pool.pool_size or (training and conv.need_input_grad)
            or conv.activation not in (activations.linear, activations.relu)
            or x.ndim != 4 or not (x.flags.c_contiguous and x.flags.aligned)
            or x.dtype != kernel.dtype):
        return None
    key = (x.shape, kernel.shape, pool.pool_size, conv.strides, conv.padding, conv.dilation_rate,
           conv.groups)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = nn._conv2d_maxpool_plan(x, kernel, conv.strides, conv.padding,  # type: ignore[attr-defined]
                                             conv.dilation_rate, conv.groups, pool.pool_size)
    return cache[key]


# ---- heads: the loss and the gradient the last step starts from -------------------------------


class LossHead:
    """The loss of the model's output, and its gradient with respect to that output."""

    __slots__ = ("loss",)

    def __init__(self, loss: Any, last: Layer) -> None:
        self.loss = loss

    def __call__(self, y: Any, out: Array, sample_weight: Any) -> tuple[float, Array, bool, int | None]:
        """(loss, gradient, whether the gradient is the last layer's preactivation's,
        the number of samples whose output's argmax is their label where the head
        counted them, else None)."""
        loss = self.loss.value(y, out, sample_weight)
        return loss, self.loss.gradient(y, out, sample_weight), False, None


class SoftmaxCrossEntropy(LossHead):
    """A final softmax with a probability cross-entropy, differentiated as one
    step from the logits (the last layer's preactivation): stable, and no
    division by probabilities. With class indices (`class_indices`: the sparse
    loss's integer labels, or a categorical cross-entropy's exactly one-hot
    rows), the loss, its gradient and the count of right answers come from one
    C call (``fc_*_softmax_xent``), whose probabilities are the softmax
    kernel's bits; anything else (soft or float labels, a label out of range,
    which the loss then words) goes through the loss's NumPy formulas."""

    __slots__ = ("last",)

    def __init__(self, loss: Any, last: Layer) -> None:
        super().__init__(loss, last)
        self.last: Any = last

    def __call__(self, y: Any, out: Array, sample_weight: Any) -> tuple[float, Array, bool, int | None]:
        z = self.last.preactivation
        labels = class_indices(self.loss, y, z.shape)
        if labels is not None and z.size:
            rows = z.size // z.shape[-1]  # the loss's rows: one per sample and output position
            w = None if sample_weight is None else _weights(sample_weight, rows, z.dtype)
            got = nn._softmax_xent(z, labels, w, out)
            if got is not None:
                total, grad, correct = got
                # the mean in the logits' dtype, as the loss's own formula gives it
                return float(z.dtype.type(total) / z.dtype.type(rows)), grad, True, correct
        loss, grad = self.loss.value_and_gradient_from_logits(y, z, sample_weight)
        return loss, grad, True, None

    @staticmethod
    def applies(loss: Any, last: Layer) -> bool:
        return not loss.from_logits and getattr(last, "activation", None) is activations.softmax


def class_indices(loss: Any, y: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """`y` as class indices for the softmax cross-entropy kernel, for a model
    output of `shape`: the sparse loss's labels as given (an array; the kernel
    checks them), or the index of the 1 in each row of a categorical
    cross-entropy's labels where every row is exactly one-hot (a single nonzero,
    equal to 1: their loss and gradient are the sparse loss's for that index);
    None for anything else."""
    if loss.sparse:
        return y if isinstance(y, np.ndarray) else None
    if (type(loss) is not CategoricalCrossentropy or type(y) is not np.ndarray or y.ndim != 2
            or y.shape != tuple(shape) or y.dtype.kind not in "biuf"):
        return None
    labels = y.argmax(axis=-1)
    # one nonzero per row on average, and each row's largest is a 1: exactly one each
    if np.count_nonzero(y) != len(y) or not (y[np.arange(len(y)), labels] == 1).all():
        return None
    return labels


# ---- the rule table -----------------------------------------------------------------------------


class Rule(NamedTuple):
    """Layers ``layers[i:i + len(pattern)]`` of exactly the pattern's types, none
    with its own `call` or `backward` on the instance, run as ``step(*those
    layers)`` if ``condition(layers, i)``."""

    pattern: tuple[type[Layer], ...]
    condition: Callable[[Sequence[Layer], int], bool]
    step: Callable[..., Step]


def _not_last_two(layers: Sequence[Layer], i: int) -> bool:
    return i + 2 < len(layers)


def _anywhere(layers: Sequence[Layer], i: int) -> bool:
    return True


RULES: list[Rule] = [
    Rule((Conv2D, MaxPooling2D), _not_last_two, ConvPoolStep),
    Rule((Dense,), _anywhere, DenseStep),
]

# (condition(loss, last layer), head class), tried in order; LossHead otherwise
HEADS: list[tuple[Callable[[Any, Layer], bool], type[LossHead]]] = [
    (SoftmaxCrossEntropy.applies, SoftmaxCrossEntropy),
]


def _own_methods(layer: Layer) -> bool:
    """The layer runs its class's call and backward (nothing set on the instance)."""
    return "call" not in vars(layer) and "backward" not in vars(layer)


def _match(rule: Rule, layers: Sequence[Layer], i: int) -> bool:
    window = layers[i:i + len(rule.pattern)]
    return (len(window) == len(rule.pattern)
            and all(type(layer) is kind and _own_methods(layer) for layer, kind in zip(window, rule.pattern))
            and rule.condition(layers, i))


class Plan:
    """A model's steps and the head for its loss (None before compile).

    Attributes
    ----------
    steps : tuple of Step
    head : LossHead or None
    """

    __slots__ = ("_chains", "head", "steps")

    def __init__(self, steps: Sequence[Step], head: LossHead | None) -> None:
        self.steps = tuple(steps)
        self.head = head
        self._chains: dict[tuple[int, ...], Any] = {}  # train_chain's, per sample shape

    @property
    def ops(self) -> tuple[str, ...]:
        """The steps' names, in order (``conv2d+maxpool``, ``dense``, ``flatten``, ...)."""
        return tuple(step.name for step in self.steps)

    def forward(self, x: Array, training: bool) -> Array:
        for step in self.steps:
            x = step.forward(x, training)
        return x

    def backward(self, y: Any, out: Array, sample_weight: Any,
                 optimizer: Any) -> tuple[float, list[Array], int | None]:
        """The loss of the last training `forward` (whose output was `out`) and the
        backward pass through every step; returns the loss, the weights a step
        already updated (for ``optimizer.apply(..., skip=)``) and the head's count of
        right answers (None where the head did not count them)."""
        assert self.head is not None, "the plan has no loss: compile the model"
        loss, first, preactivation, correct = self.head(y, out, sample_weight)
        grad: Array | None = first
        skip: list[Array] = []
        steps = self.steps
        for i in range(len(steps) - 1, -1, -1):
            grad = steps[i].backward(grad, optimizer, skip, preactivation)
            preactivation = False
        return loss, skip, correct

    def train_step(self, x: Array, y: Any, sample_weight: Any,
                   optimizer: Any) -> tuple[float, Array, int] | None:
        """The whole training step on a batch, forward, loss, backward and Adam's
        step on every weight, as one sequence of C calls (`train_chain`): (the
        loss, the model's output, the count of right answers); or None, with
        nothing drawn or changed, where the chain does not take the step (the
        caller then runs ``forward``, ``backward`` and ``optimizer.apply``, to the
        same bits)."""
        head: Any = self.head
        if (type(optimizer) is not Adam or not optimizer.built
                or type(x) is not np.ndarray or x.dtype != np.float32
                or not all(getattr(owner, name, None) is f for owner, name, f in _STOCK)
                or any(name in vars(optimizer) for name in _OPTIMIZER_METHODS)
                or not all(_own_methods(layer) for step in self.steps for layer in step.layers)):
            return None
        shape = x.shape[1:]
        chain = self._chains.get(shape, False)
        if chain is False:
            if len(self._chains) > 8:
                self._chains.clear()
            chain = self._chains[shape] = train_chain(self, x)
        if chain is None:
            return None
        last: Any = self.steps[-1].layers[-1]  # the Dense softmax the chain ends in
        labels = class_indices(head.loss, y, (len(x), last.units))
        if labels is None:
            return None
        w = None
        if sample_weight is not None:  # as the head takes them (one per sample, the logits' dtype)
            try:
                w = _weights(sample_weight, len(x), np.float32)
            except (TypeError, ValueError):  # the layer-by-layer step words it
                return None
        got = chain.run(x, labels, w, optimizer._slots, optimizer._alpha(optimizer.iterations + 1),
                        optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
        if got is None:
            return None
        total, probs, correct, status = got
        if status:  # a kernel failed (the weights may have changed, as the layer-by-layer step's would)
            nn._check_status(status, "fit", (x.shape, np.shape(y)))  # type: ignore[attr-defined]
        optimizer.iterations += 1
        first = self.steps[0]
        if isinstance(first, ConvPoolStep):
            first.fused = True
        # the mean in the logits' dtype, as the loss's own formula gives it
        return float(np.float32(total) / np.float32(len(x))), probs, correct

    def release(self) -> None:
        """Drops the buffers the chains keep from step to step (`fit`, as it returns)."""
        for chain in self._chains.values():
            if chain is not None:
                chain.release()


def _stock() -> tuple[tuple[Any, str, Any], ...]:
    """(owner, name, function) of every piece of the layer-by-layer step that
    the chain stands in for: where one is replaced (a spy, a patch on a class
    or on fastconv.nn), the step runs layer by layer, through the replacement."""
    pieces = {
        Dense: ("call", "backward", "_activate", "_take_cache"),
        Dropout: ("call", "backward"), Flatten: ("call", "backward"),
        type(activations.linear): ("forward", "backward"),
        type(activations.relu): ("forward", "backward"),
        type(activations.softmax): ("forward", "backward"),
        ConvPoolStep: ("forward", "backward"), DenseStep: ("backward",),
        LayerStep: ("forward", "backward"), Plan: ("forward", "backward"),
        SoftmaxCrossEntropy: ("__call__",),
        Adam: ("fused_update", "_update_many", "_update", "apply"),
        nn: ("relu", "_conv2d_maxpool", "_conv2d_maxpool_backward", "_dense", "_dense_backward",
             "_dropout", "_softmax", "_softmax_xent", "_relu_backward", "_adam_update_many"),
    }
    return tuple((owner, name, getattr(owner, name)) for owner, names in pieces.items() for name in names)


_OPTIMIZER_METHODS = ("apply", "fused_update", "_update_many", "_update", "_alpha")

# step kinds of _nnfront.TrainChain
_CH_CONVPOOL, _CH_DENSE, _CH_DROPOUT, _CH_RESHAPE = range(4)
# fc_activation (csrc/include/fastconv/fastconv.h), the code of each activation the
# C chains run: the training chain's and the inference pass's (_inference)
ACT_CODES = {id(activations.linear): 0, id(activations.relu): 1, id(activations.softmax): 2}


def train_chain(plan: Plan, x: Array) -> Any:
    """The ``_nnfront.TrainChain`` of the plan for samples like x's (float32), or None
    where its steps are not all ones the chain runs: the fused conv2d + max-pool
    first (as `ConvPoolStep` would fuse it for x), then Flatten, Dense and Dropout
    layers of exactly those types, the last a Dense softmax under the (sparse or
    one-hot) cross-entropy head, every activation linear or relu. That no layer has
    methods of its own is checked by `Plan.train_step`, and which weights, moments
    and labels each call binds by the chain, on every call."""
    head = plan.head
    if not (isinstance(head, SoftmaxCrossEntropy) and plan.steps
            and (head.loss.sparse or type(head.loss) is CategoricalCrossentropy)):
        return None
    specs: list[tuple[Any, ...]] = []
    for i, step in enumerate(plan.steps):
        layer: Any = step.layers[0]
        need = bool(layer.need_input_grad)
        act = ACT_CODES.get(id(getattr(layer, "activation", None)))
        if isinstance(step, ConvPoolStep):
            geometry = conv_pool_plan(step.conv, step.pool, x, True, step._geometry)
            if i != 0 or geometry is None or act == 2:
                return None
            specs.append((_CH_CONVPOOL, act, False, layer, geometry.conv.dims, geometry.conv.opts,
                          geometry.pdims, geometry.popts, 0, 0))
        elif isinstance(step, DenseStep) and act is not None and layer.built:
            k, m = layer.kernel.shape
            specs.append((_CH_DENSE, act, need, layer, None, None, None, None, k, m))
        elif type(step) is LayerStep and type(layer) in (Dropout, Flatten):
            kind = _CH_DROPOUT if type(layer) is Dropout else _CH_RESHAPE
            specs.append((kind, 0, need, layer, None, None, None, None, 0, 0))
        else:
            return None
    try:
        return nn._train_chain(specs, tuple(x.shape[1:]))  # type: ignore[attr-defined]
    except ValueError:  # the steps do not chain (the forward pass will say how)
        return None


def plan(layers: Sequence[Layer], loss: Any) -> Plan:
    """The steps for `layers` from ``RULES`` (first matching rule at each place,
    else `LayerStep`), and the head for `loss` from ``HEADS`` (None without a loss)."""
    steps: list[Step] = []
    i = 0
    while i < len(layers):
        for rule in RULES:
            if _match(rule, layers, i):
                steps.append(rule.step(*layers[i:i + len(rule.pattern)]))
                i += len(rule.pattern)
                break
        else:
            steps.append(LayerStep(layers[i]))
            i += 1
    head: LossHead | None = None
    if loss is not None and layers:
        kind = next((cls for applies, cls in HEADS if applies(loss, layers[-1])), LossHead)
        head = kind(loss, layers[-1])
    return Plan(steps, head)


_STOCK = _stock()
