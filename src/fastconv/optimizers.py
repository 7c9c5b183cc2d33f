"""Optimizers with Keras' names, defaults and update rules (in place, float32).

As in Keras 3, an optimizer is built on its first step for the weights it is
given, creating its slots for each (Adam's momentum and velocity, SGD's
momentum, RMSprop's velocity), and afterwards updates only those weights: a
step that includes any other weight raises ValueError before anything changes.
Its state (``iterations`` and the slots) is saved with the model.

Fused updates: a step can be applied to a weight by the kernel that computes
the weight's gradient (`fastconv.nn.dense_backward` with ``adam=``), so that
the gradient never goes to memory. `Optimizer.fused_update` gives what such a
kernel needs for the coming step (or None), and the caller then tells `apply`
which weights it updated that way (``apply(params, grads, skip=...)``).
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import nn
from ._checks import c_aligned

__all__ = ["SGD", "Adam", "FusedUpdate", "Optimizer", "RMSprop", "get"]

Array = npt.NDArray[Any]

FusedUpdate = nn.AdamStep
"""What `Optimizer.fused_update` returns: the arguments of a step for a kernel
that applies it as it computes the gradient (Adam's, `fastconv.nn.AdamStep`, is
the one rule fastconv's kernels fuse)."""


_NOTHING: frozenset[int] = frozenset()


class Optimizer:
    """Base class: ``apply(params, grads)`` updates each array of `params` in place.

    Parameters
    ----------
    learning_rate : float
        > 0.

    Attributes
    ----------
    iterations : int
        Steps taken (Keras' ``optimizer.iterations``); saved with the model.
    slot_names : tuple of str
        The state kept per weight, in Keras' names and order.

    Examples
    --------
    >>> import numpy as np
    >>> from fastconv.optimizers import SGD
    >>> p = np.array([1.0, 2.0], np.float32)
    >>> opt = SGD(learning_rate=0.5)
    >>> opt.apply([p], [np.array([1.0, 1.0], np.float32)])
    >>> p, opt.iterations
    (array([0.5, 1.5], dtype=float32), 1)
    """

    def __init__(self, learning_rate: float) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self._variables: list[Array] | None = None  # what build took, in order; None before
        self._known: set[int] = set()                # their ids (the list keeps them alive)
        self._slots: dict[int, list[Array]] = {}     # id(variable) -> its slots

    @property
    def slot_names(self) -> tuple[str, ...]:
        """The arrays kept per weight (Keras' names and order); none by default."""
        return ()

    @property
    def built(self) -> bool:
        """True once the optimizer has taken its weights (its first step, or `build`)."""
        return self._variables is not None

    def build(self, variables: Sequence[Array]) -> None:
        """Take `variables` (the weights to train) and create their slots, zeros
        of each one's shape and dtype, as Keras' ``optimizer.build``. The first
        `apply` calls it for you.

        Raises
        ------
        ValueError
            If the optimizer is already built.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.optimizers import Adam
        >>> opt = Adam()
        >>> opt.build([np.zeros((3, 2), np.float32)])
        >>> opt.slot_names, opt.built
        (('momentum', 'velocity'), True)
        """
        if self._variables is not None:
            raise ValueError(f"{type(self).__name__}: the optimizer is already built for "
                             f"{len(self._variables)} variables; make a new one for other variables")
        self._variables = list(variables)
        self._known = {id(v) for v in self._variables}
        # line-aligned, as the kernels read and write them best (nn._zeros_line_aligned)
        self._slots = {id(v): [nn._zeros_line_aligned(np.shape(v), np.asarray(v).dtype)
                               for _ in self.slot_names] for v in self._variables}

    def __getstate__(self) -> dict[str, object]:
        # the slots by position in the built list, not by id(): a copy (deepcopy,
        # pickle) gets new arrays with new ids, and the copied model's weights are
        # those same new arrays when both are copied together
        state = self.__dict__.copy()
        if self._variables is not None:
            state["_slots"] = [self._slots[id(v)] for v in self._variables]
        del state["_known"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        variables = self._variables
        if variables is None:
            self._known, self._slots = set(), {}
        else:
            slots: list[list[Array]] = state["_slots"]  # type: ignore[assignment]
            self._known = {id(v) for v in variables}
            self._slots = {id(v): s for v, s in zip(variables, slots)}

    def _knows(self, p: Array) -> bool:
        return id(p) in self._known

    def _check_variables_are_known(self, variables: Sequence[Array],
                                   names: Sequence[str] | None = None) -> None:
        """Build for `variables` on the first step; afterwards, Keras' ValueError
        for any variable the optimizer was not built with (nothing is changed)."""
        if self._variables is None:
            self.build(variables)
            return
        for i, v in enumerate(variables):
            if id(v) not in self._known:
                what = (f"<Variable path={names[i]}, shape={v.shape}, dtype={v.dtype}>" if names
                        else f"<array of shape {v.shape}, dtype {v.dtype}>")
                raise ValueError(
                    f"Unknown variable: {what}. This optimizer can only be called for the variables "
                    "it was originally built with. When working with a new set of variables, you "
                    "should recreate a new optimizer instance."
                )

    def _state(self, p: Array) -> list[Array]:
        """The slots of `p`, a variable the optimizer was built with."""
        return self._slots[id(p)]

    def apply(self, params: Sequence[Array], grads: Sequence[Array | None], *,
              skip: Collection[Array] = ()) -> None:
        """One step: updates every array of `params` in place from its gradient
        in `grads`, except those in `skip`; builds the optimizer for `params` on
        the first call.

        Parameters
        ----------
        params : sequence of ndarray
            The weights, updated in place.
        grads : sequence of ndarray or None
            Their gradients, in the same order and shapes; None for a weight in `skip`.
        skip : collection of ndarray, optional
            Weights of `params` whose update for this step a kernel already
            applied with what `fused_update` gave; they count in the step (which
            ``iterations`` counts once) but are left as they are.

        Raises
        ------
        ValueError
            For lists of different lengths, a missing gradient or one of
            another shape, a skipped array not in `params`, or an array the
            optimizer was not built with (Keras' message); then nothing is changed.

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv.optimizers import Adam
        >>> p = np.zeros(2, np.float32)
        >>> Adam(learning_rate=0.1).apply([p], [np.array([1.0, -1.0], np.float32)])
        >>> p.round(4)
        array([-0.1,  0.1], dtype=float32)
        """
        if len(params) != len(grads):
            raise ValueError(f"apply: {len(params)} parameter arrays but {len(grads)} gradients")
        skipped = {id(p) for p in skip} if skip else _NOTHING
        for p, g in zip(params, grads):
            if (g is None and id(p) not in skipped) or (g is not None and g.shape != p.shape):
                what = "no gradient" if g is None else f"a gradient of shape {g.shape}"
                raise ValueError(f"apply: {what} for a parameter of shape {p.shape}")
        if skipped and not skipped <= {id(p) for p in params}:
            raise ValueError("apply: skip names an array that is not one of params")
        self._check_variables_are_known(params)
        self.iterations += 1
        todo = [(p, g) for p, g in zip(params, grads) if id(p) not in skipped]
        for p, g in self._update_many(todo):
            self._update(p, g)

    def fused_update(self, p: Array) -> FusedUpdate | None:
        """The coming step's update of `p` for a kernel that applies it while it
        computes `p`'s gradient (`fastconv.nn.dense_backward`'s ``adam=``), or None
        (the default, and for arrays the fused kernels cannot take) to leave `p`
        to `apply`.

        It changes nothing: whoever applies the update it returns must do so
        once, before this step's `apply`, and pass `p` in ``apply(..., skip=)``.
        The update is the one `apply` would make in the same step, bit for bit;
        exact only because these optimizers update each element from its own
        gradient alone (no clipping by a norm over all gradients). The
        optimizer must already hold `p` (built for it).

        Examples
        --------
        >>> import numpy as np
        >>> from fastconv import nn
        >>> from fastconv.optimizers import Adam, SGD
        >>> kernel, x, gy = np.ones((2, 3), np.float32), np.ones((4, 2), np.float32), np.ones((4, 3), np.float32)
        >>> opt = Adam(learning_rate=0.1)
        >>> opt.build([kernel])
        >>> step = opt.fused_update(kernel)
        >>> _ = nn.dense_backward(gy, x, kernel, output_mask=(False, False, False), adam=step)
        >>> opt.apply([kernel], [None], skip=[kernel])
        >>> kernel[0].round(4), opt.iterations
        (array([0.9, 0.9, 0.9], dtype=float32), 1)
        >>> SGD().fused_update(kernel) is None
        True
        """
        return None

    def _update_many(self, pairs: list[tuple[Array, Any]]) -> list[tuple[Array, Any]]:
        """This step's update of as many (weight, gradient) pairs as can go in one
        call, the same update `_update` makes of each; returns the pairs left
        for `_update` (by default all of them)."""
        return pairs

    def _update(self, p: Array, g: Array) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The class name and constructor arguments, JSON-ready (what a model file keeps).

        Examples
        --------
        >>> from fastconv.optimizers import Adam
        >>> Adam(learning_rate=0.01).get_config()["learning_rate"]
        0.01
        """
        return {"class_name": type(self).__name__, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """``keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``:
    ``m = momentum * m - lr * g``, then ``p += m`` (or ``p += momentum * m - lr * g``
    with Nesterov); ``p -= lr * g`` without momentum (and then no slot).

    Examples
    --------
    >>> from fastconv.optimizers import SGD
    >>> SGD(momentum=0.9).slot_names
    ('momentum',)
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum else ()

    def _update(self, p: Array, g: Array) -> None:
        if self.momentum == 0:
            p -= self.learning_rate * g
            return
        (v,) = self._state(p)
        v *= self.momentum
        v -= self.learning_rate * g
        if self.nesterov:
            p += self.momentum * v - self.learning_rate * g
        else:
            p += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


# Adam's moments below these magnitudes are stored as +0: 2**26 times the smallest
# normal number, so that the next step's products of a moment with 1 - beta_1,
# 1 - beta_2 or alpha (any factor >= 2**-26) stay normal (see
# csrc/ukernels/adam/adam-scalar.h). Other dtypes flush their subnormals.
_MOMENT_FLOOR = {np.dtype(np.float32): 2.0**-100, np.dtype(np.float64): 2.0**-996}


def _flush_tiny(a: Array) -> None:
    """Moments below the dtype's floor in magnitude become +0, as the C Adam kernels
    store them."""
    floor = _MOMENT_FLOOR.get(a.dtype, np.finfo(a.dtype).tiny)
    a[np.abs(a) < floor] = 0


class Adam(Optimizer):
    """``keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)``.

    The moments are Keras' (``m += (g - m) * (1 - beta_1)``, ``v += (g*g - v) * (1 -
    beta_2)``, ``p -= alpha * m / (sqrt(v) + epsilon)``), except that a moment below
    2**-100 in magnitude (2**-996 in float64; the smallest normal number in other
    dtypes) is stored as zero. The moment of a gradient that stays zero (a dead unit's)
    decays geometrically, and below that floor its products with ``1 - beta_1`` and
    ``alpha`` become subnormal, where arithmetic can be a hundred times slower (the
    lecture's training step ran at twice its time while its dead units' moments
    crossed that range), while a step that small moves no weight above 1e-18 at the
    default learning rate and epsilon. TensorFlow's CPU kernels flush subnormals.

    Parameters
    ----------
    learning_rate : float, optional
        The step size, alpha.
    beta_1 : float, optional
        Decay of the first moment (the gradients' running mean).
    beta_2 : float, optional
        Decay of the second moment (the squared gradients' running mean).
    epsilon : float, optional
        Added to the second moment's square root before dividing.

    Examples
    --------
    >>> from fastconv.optimizers import Adam
    >>> opt = Adam()
    >>> opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon
    (0.001, 0.9, 0.999, 1e-07)
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity")

    def _alpha(self, t: int) -> float:
        return self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def fused_update(self, p: Array) -> FusedUpdate | None:
        if p.dtype not in (np.float32, np.float64) or not p.flags.c_contiguous or p.ndim != 2:
            return None
        m, v = self._state(p)
        return nn.AdamStep(m, v, self._alpha(self.iterations + 1), self.beta_1, self.beta_2, self.epsilon)

    def _update_many(self, pairs: list[tuple[Array, Any]]) -> list[tuple[Array, Any]]:
        # the contiguous float weights with gradients of their own dtype, in one
        # call to the kernel `_update` runs for each: the same bits
        if not pairs:
            return pairs
        states = [self._state(p) for p, _ in pairs]
        left = nn._adam_update_many([p for p, _ in pairs], [g for _, g in pairs], states,
                                    self._alpha(self.iterations), self.beta_1, self.beta_2,
                                    self.epsilon)
        return [pairs[i] for i in left]

    def _update(self, p: Array, g: Array) -> None:
        m, v = self._state(p)
        alpha = self._alpha(self.iterations)
        g = c_aligned(g, dtype=p.dtype)
        if p.flags.c_contiguous and p.dtype in (np.float32, np.float64):
            # one fused pass in C instead of ~10 NumPy passes with temporaries
            nn._adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                            alpha, self.beta_1, self.beta_2, self.epsilon)
            return
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        _flush_tiny(m)
        _flush_tiny(v)
        p -= (alpha * m / (np.sqrt(v) + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """``keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-7)`` (Keras'
    default optimizer in ``compile``): ``p -= lr * g / sqrt(v + epsilon)``, as Keras 3.

    Parameters
    ----------
    learning_rate : float, optional
        The step size, lr.
    rho : float, optional
        Decay of the squared gradients' running mean, v.
    epsilon : float, optional
        Added to v before its square root.

    Examples
    --------
    >>> from fastconv.optimizers import RMSprop
    >>> RMSprop().slot_names
    ('velocity',)
    """

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho, self.epsilon = float(rho), float(epsilon)

    @property
    def slot_names(self) -> tuple[str, ...]:
        return ("velocity",)

    def _update(self, p: Array, g: Array) -> None:
        (v,) = self._state(p)
        v *= self.rho
        v += (1 - self.rho) * g * g
        p -= (self.learning_rate * g / np.sqrt(v + self.epsilon)).astype(p.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_BY_NAME: dict[str, type[SGD | Adam | RMSprop]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier: str | Optimizer | dict[str, Any]) -> Optimizer:
    """The optimizer for a name ('adam', 'sgd', 'rmsprop': Keras' defaults), an
    instance (returned as is), or a `get_config` dictionary.

    Parameters
    ----------
    identifier : str, Optimizer or dict
        A name (any case), an `Optimizer` instance, or what an optimizer's
        ``get_config()`` returned.

    Returns
    -------
    Optimizer
        A new optimizer (the instance itself when one was given).

    Raises
    ------
    ValueError
        For any other identifier.

    Examples
    --------
    >>> from fastconv import optimizers
    >>> optimizers.get("adam").learning_rate
    0.001
    >>> optimizers.get({"class_name": "SGD", "learning_rate": 0.1, "momentum": 0.9}).momentum
    0.9
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        cls = {c.__name__: c for c in _BY_NAME.values()}.get(identifier.get("class_name", ""))
        if cls is not None:
            return cls(**{k: v for k, v in identifier.items() if k != "class_name"})
    raise ValueError(f"optimizer must be one of {', '.join(map(repr, _BY_NAME))} or an Optimizer, got {identifier!r}")
