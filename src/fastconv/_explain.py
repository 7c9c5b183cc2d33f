"""fastconv.explain: the plan a call would run, taken from the decision code the call itself runs."""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _kernels, _planning, signal
from . import nn as _nn_module
from ._checks import as_float_array, c_aligned, output_array
from ._ufunc import relu

__all__ = ["Plan", "explain"]

# fastconv.nn's argument checks and path choices, which its stub (nn.pyi, the
# public surface) does not list
nn: Any = _nn_module


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one call of a fastconv op would run, as `fastconv.explain` returns it.

    Parameters
    ----------
    op : str
        The op's public name ("conv2d", "ndimage.gaussian_filter", ...).
    algorithm : str
        The algorithm's short name ("igemm", "packed-gemm", "fft", "original", ...).
    kernel : str or None
        The microkernel's C name (its ISA is the part after ``__``), or the
        function that computes (``numpy.fft``, ``scipy.signal.correlate2d``).
    tile : (int, int) or None
        The microkernel's register tile, rows x columns of its output block.
    blocking : dict
        How the work is cut: depth per kernel call, rows or pixels per task,
        taps per pass, task count, and flags (as the driver names them).
    threads : int
        Threads the call would run on (fastconv's pool at its current size).
    scratch_bytes : int
        Bytes the C driver would allocate (all threads together).
    isa : str
        The dispatch table in use ("avx512", "avx2", "scalar").
    dtype : str or None
        The dtype computed in.
    reason : str
        Why this algorithm.
    steps : tuple of Plan
        For an op made of several passes (conv2d_backward, a separable filter),
        one plan per pass, in order.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> plan = fastconv.explain(fastconv.conv2d, np.ones((1, 64, 8, 8), np.float32),
    ...                         np.ones((32, 64, 3, 3), np.float32), padding=1)
    >>> plan.op, plan.algorithm, plan.dtype
    ('conv2d', 'igemm', 'float32')
    >>> plan.threads >= 1 and plan.scratch_bytes > 0
    True
    """

    op: str
    algorithm: str
    kernel: str | None = None
    tile: tuple[int, int] | None = None
    blocking: dict[str, Any] = dataclasses.field(default_factory=dict)
    threads: int = 1
    scratch_bytes: int = 0
    isa: str = ""
    dtype: str | None = None
    reason: str = ""
    steps: tuple[Plan, ...] = ()

    def __repr__(self) -> str:
        kernel = "" if self.kernel is None else f", kernel={self.kernel!r}"
        return f"Plan(op={self.op!r}, algorithm={self.algorithm!r}{kernel}, threads={self.threads})"

    def _tile_why(self) -> str:
        """Why an indirect-GEMM tile: a table offers several, and the planner
        takes the autotuner's choice or else the least padded work (near-ties
        to the tile listed first, the widest)."""
        if not self.kernel or "_igemm_ukernel_" not in self.kernel:
            return ""
        if "tuned_tile" in self.blocking.get("flags", ()):
            return ": the autotuner's choice"
        if self.algorithm == "dense-blocked":
            tie = _kernels.COSTS["FC_DENSE_BLOCKED_TIE_PERMILLE"]
            return f": the widest within {tie / 10:g}% of the least padded work"
        return ": least padded work"

    def _clause(self) -> str:
        words = [self.algorithm]
        if self.kernel:
            tile = f" (tile {self.tile[0]}x{self.tile[1]}{self._tile_why()})" if self.tile else ""
            words.append(f"on {self.kernel}{tile}")
        if self.blocking:
            words.append("with " + ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}"
                                             for k, v in self.blocking.items()))
        words.append(f"on {self.threads} thread{'s' if self.threads != 1 else ''}")
        if self.scratch_bytes:
            words.append(f"using {self.scratch_bytes:,} bytes of scratch")
        text = " ".join(words)
        return f"{text} ({self.reason})" if self.reason else text

    def __str__(self) -> str:
        head = f"{self.op}"
        if self.dtype or self.isa:
            head += f" ({', '.join(s for s in (self.dtype, self.isa) if s)})"
        if self.steps:
            parts = "; ".join(f"{i}. {s.op}: {s._clause()}" for i, s in enumerate(self.steps, 1))
            why = f" ({self.reason})" if self.reason else ""
            return (f"{head} runs {len(self.steps)} steps{why}: {parts}; at most {self.threads} "
                    f"thread{'s' if self.threads != 1 else ''} and {self.scratch_bytes:,} bytes "
                    "of scratch in all.")
        return f"{head} runs {self._clause()}."


def _fmt(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        if v and all(isinstance(e, str) for e in v):
            return "(" + ", ".join(v) + ")"
        return "x".join(str(e) for e in v) if v else "none"
    if isinstance(v, dict):
        return "{" + ", ".join(f"axis {k}: {e}" for k, e in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


# ---- plans from the C planners --------------------------------------------------------

_BLOCKING_NAMES = {
    # algorithm -> names of the C plan's depth_block, row_block, tap_block
    "igemm": ("depth per tap", "pixel block", "tap block"),
    "packed-gemm": ("depth block", "pixel block", None),
    "direct": (None, "output rows per task", None),
    "igemm-weight-gradient": ("pixels per row", "output rows per call", None),
    "gemm-col2im": ("depth", "pixel block", None),
    "transposed-conv (igemm)": ("depth per tap", "pixel block", "tap block"),
    "transposed-conv (packed-gemm)": ("depth block", "pixel block", None),
    "elementwise": (None, "elements per task", None),
    "dense-gemv": ("depth block", None, None),
    "dense-gemm": ("depth block", "units per task, at most", None),
    "dense-blocked": ("depth block", None, None),
    "dense-backward-adam": (None, "features per task", None),
    "channel-sum": (None, "values per run", None),
    "rows-per-plane": (None, "rows per task", None),
    "rows-channels-last": (None, "rows per task", None),
    "direct-row-bands": ("columns per task", "rows per task", None),
    "direct-planes": ("columns per task", "rows per task", None),
    "direct-planes-swapped": ("columns per task", "rows per task", None),
    "direct-planes-stacked": ("columns per task", "rows per task", None),
}


def _from_c(op: str, c: dict[str, Any], dtype: np.dtype | None, reason: str = "",
            algorithm: str | None = None) -> Plan:
    """A Plan from a C planner's dict (_kernels.conv2d_data_plan, last_plan, Planned)."""
    alg = algorithm or c.get("algorithm") or "unknown"
    names = _BLOCKING_NAMES.get(c.get("algorithm") or "", ("depth block", "row block", "tap block"))
    blocking: dict[str, Any] = {}
    for key, name in zip(("depth_block", "row_block", "tap_block"), names):
        if name and c.get(key):
            blocking[name] = c[key]
    if c.get("tasks"):
        blocking["tasks"] = c["tasks"]
    if c.get("flags"):
        blocking["flags"] = tuple(c["flags"])
    if c.get("blocking"):
        blocking.update(c["blocking"])
    if c.get("axis") is not None:
        blocking["axis"] = c["axis"]
    why = reason or c.get("reason") or ""
    if c.get("path"):
        why = f"{why}; {c['path']}" if why else c["path"]
    return Plan(op=op, algorithm=alg, kernel=c.get("kernel"), tile=c.get("tile"),
                blocking=blocking, threads=int(c.get("threads") or 1),
                scratch_bytes=int(c.get("scratch_bytes") or 0),
                isa=c.get("isa") or _kernels.current_isa(),
                dtype=None if dtype is None else str(dtype), reason=why)


def _combine(op: str, steps: list[Plan], dtype: np.dtype | None, reason: str = "") -> Plan:
    if len(steps) == 1:
        return dataclasses.replace(steps[0], op=op, reason=steps[0].reason or reason)
    return Plan(op=op, algorithm=" + ".join(s.algorithm for s in steps),
                threads=max((s.threads for s in steps), default=1),
                scratch_bytes=sum(s.scratch_bytes for s in steps), isa=_kernels.current_isa(),
                dtype=None if dtype is None else str(dtype), reason=reason, steps=tuple(steps))


def _nothing(op: str, dtype: np.dtype | None, reason: str) -> Plan:
    return Plan(op=op, algorithm="nothing", isa=_kernels.current_isa(),
                dtype=None if dtype is None else str(dtype), reason=reason)


# why grad_x takes its path, for the rule the C planner names (cg: input
# channels per group; stride: a pair)
_MIN_CHANNELS = _kernels.COSTS["FC_TRANSPOSED_MIN_CHANNELS"]
_INPUT_GRAD_WHY = {
    "few-channels": "C/groups = {cg} < " + f"{_MIN_CHANNELS}: GEMM + col2im",
    "strided": "stride {stride}: GEMM + col2im (no zero-interleaving)",
    "nonfinite-weights": "weights hold inf or NaN: GEMM + col2im (adds only real terms)",
    "rule": "C/groups = {cg} >= " + f"{_MIN_CHANNELS} and stride 1: "
            "transposed convolution on the forward kernels",
    "forced": "forced (tests)",
}


def _conv_reason(g: Any, nhwc: bool, algorithm: str) -> str:
    _n, c, _h, _w, _k, r, s, _oh, _ow = g.dims
    groups = g.opts[6]
    depth = c // groups * r * s
    if algorithm == "direct":
        if nhwc:
            return ("one input channel, 3x3, stride 1, padding of at most 1: a direct kernel an "
                    "output row a call, from the three input rows it reads (a padded copy of "
                    "them where the layer pads), the indirect GEMM's bits")
        return (f"{c} input channel{'s' if c > 1 else ''} (at most 7), 3x3, stride 1, padding of "
                "at most 1: a direct kernel an output row a call, from each channel's three "
                "input rows (read in place for one channel without padding, else a copy with "
                "their zeros), an image's rows a task (fewer where threads would wait), channel "
                "block by channel block; the packed GEMM's bits")
    if nhwc:
        return "channels-last: indirect GEMM, input read in place through row pointers"
    if algorithm == "igemm":
        return (f"depth C/groups*R*S = {c // groups}*{r}*{s} = {depth} >= "
                f"{_kernels.IGEMM_MIN_DEPTH}: indirect GEMM")
    if algorithm == "packed-gemm":
        return (f"depth C/groups*R*S = {c // groups}*{r}*{s} = {depth} < "
                f"{_kernels.IGEMM_MIN_DEPTH}: packed GEMM (im2col panels in L1)")
    return "empty result"


# ---- the nn ops: their own argument checks, then the C planners -----------------------

def _conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
            dilation: Any = 1, groups: Any = 1, *, layout: Any = "NCHW", out: Any = None) -> Plan:
    op = "conv2d"
    x, _weight, _b, g, nhwc = nn._conv2d_args(x, weight, bias, stride, padding, dilation, groups,
                                            layout)
    shape = g.out_shape[1:] if x.ndim == 3 else g.out_shape
    output_array(out, shape, x.dtype, op)  # conv2d's own check of `out` (allocates if None)
    if not np.prod(shape):
        return _nothing(op, x.dtype, "empty result")
    if g.dims[1] == 0:
        return Plan(op=op, algorithm="bias-fill", isa=_kernels.current_isa(), dtype=str(x.dtype),
                    reason="no input channels: the result is the bias")
    # the driver's planner on this call's weights and bias: border or position tiles only
    # where they keep the bits (finite weights, no -0 in the bias)
    c = _kernels.conv2d_data_plan(np.ascontiguousarray(_weight).reshape(-1),
                                  None if _b is None else np.ascontiguousarray(_b), g.dims, g.opts,
                                  nhwc)
    why = _conv_reason(g, nhwc, c["algorithm"])
    if "channels_last_copy" in c["flags"]:
        why += ("; run channels-last: chunks of images copied to NHWC, the NHWC plan run on "
                "them (what follows is its), the results copied back (a pixel's channels read "
                "in one run, not h*w apart; the NHWC call's bits)")
    if "padded_copy" in c["flags"]:
        why += ("; the input's rows copied with their padding first, so one pointer serves a "
                "whole kernel row (a tap of few channels costs more to set up than to multiply)")
    if "border_tiles" in c["flags"]:
        why += "; border tiles: the padding's taps skipped"
        if "panels_inside" in c["flags"]:
            why += ("; each tile by every weight panel in turn (the packed weights fit in half "
                    "the L2), so its input rows are read once")
    elif "position_tiles" in c["flags"]:
        why += ("; position tiles: a tile's rows are images at one output pixel, so a tap in "
                "the padding is padding on every row and is skipped")
    elif c["rule"] == "border-data":
        why += ("; pixel tiles, not border tiles or position tiles: this call's weights hold inf "
                "or NaN or its bias -0, whose bits tiles that skip the padding's taps would "
                "change")
    if "panel_tasks" in c["flags"]:
        why += ("; panel tasks: few pixels by many weights, so a task is a weight panel over "
                "every pixel and each weight is read from memory once, not once a pixel block")
    return _from_c(op, c, x.dtype, why)


def _conv2d_backward(grad_out: Any, x: Any, weight: Any, stride: Any = 1, padding: Any = 0,
                     dilation: Any = 1, groups: Any = 1, *, layout: Any = "NCHW",
                     output_mask: Any = (True, True, True)) -> Plan:
    op = "conv2d_backward"
    gy, x, weight, g, nhwc, (want_x, want_w, want_b) = nn._conv2d_backward_args(
        grad_out, x, weight, stride, padding, dilation, groups, layout, output_mask)
    f32 = x.dtype == np.float32
    _n, c, _h, _w, k, r, s, _oh, _ow = g.dims
    steps = []
    if want_b and gy.size and c:
        plan = _kernels.conv2d_plan(g.dims, g.opts, nhwc, f32, "backward_bias")
        steps.append(_from_c("grad_bias", plan, x.dtype,
                             "grad_out summed over images and pixels, a channel per task"))
    elif want_b:
        steps.append(Plan(op="grad_bias", algorithm="sum", kernel="numpy.sum",
                          isa=_kernels.current_isa(), dtype=str(x.dtype),
                          reason="empty grad_out or no input channels"))
    if want_w:
        if k * (c // max(g.opts[6], 1)) * r * s and c:
            plan = _kernels.conv2d_plan(g.dims, g.opts, nhwc, f32, "backward_weight")
            how = ("each thread takes blocks of the gradient's rows over all pixels (the "
                   "gradient is over half the L2, so no partials to add)"
                   if "split_output" in plan["flags"] else
                   "the tasks in 8 chunks a thread, claimed by whichever thread is free, each "
                   "summed into a partial of its own, the partials added in chunk order")
            steps.append(_from_c("grad_weight", plan, x.dtype,
                                 f"x^T times grad_out over all pixels; at 2 threads or more {how}"))
        else:
            steps.append(_nothing("grad_weight", x.dtype, "empty weight or no input channels"))
    if want_x:
        if x.size and k and gy.size:  # the C planner's choice, as conv2d_backward runs it
            plan = _kernels.conv2d_input_grad_plan(
                c_aligned(weight).reshape(-1), g.dims, g.opts, nhwc,
                _planning.forced_path("conv2d_backward_input"))
            why = _INPUT_GRAD_WHY[plan["rule"]].format(cg=c // g.opts[6], stride=g.opts[:2])
            if "zero_grid" in plan["flags"]:
                why += "; grad_out placed on a zero grid first"
            steps.append(_from_c("grad_x", plan, x.dtype, why))
        else:
            steps.append(_nothing("grad_x", x.dtype, "empty input or grad_out: zeros"))
    if not steps:
        return _nothing(op, x.dtype, "output_mask asks for nothing")
    return _combine(op, steps, x.dtype)


def _dense(x: Any, kernel: Any, bias: Any = None, *, out: Any = None) -> Plan:
    """nn.dense: its own checks, then the dense driver's planner."""
    x, kernel, _b, _y = nn._dense_forward_args(x, kernel, bias, out)
    n, (k, m) = int(np.prod(x.shape[:-1])), kernel.shape
    c = _kernels.dense_plan(n, k, m, x.dtype == np.float32)
    why = _dense_reason(c["algorithm"], n)
    if "owned_rows" in c["flags"]:
        why += (f"; the features shared out in {c['threads']} fixed ranges, one per thread (the "
                "rows of the kernel the training sweep gives the same thread), the later ranges' "
                "block sums added after, in order")
    return _from_c("dense", c, x.dtype, why)


def _dense_reason(algorithm: str, rows: int) -> str:
    if algorithm == "dense-gemv":
        return (f"batch of {rows} rows <= {_kernels.COSTS['FC_DENSE_GEMV_MAX_BATCH']}: GEMV, "
                "the kernel read in place")
    if algorithm == "dense-gemm":
        return "GEMM: units x batch tiles, the kernel read in place, the batch packed"
    if algorithm == "dense-blocked":
        tie = _kernels.COSTS["FC_TILE_TIE_PERMILLE"]
        return ("GEMM: batch x units tiles, x and the kernel read in place, a depth block at a time "
                f"(padded work within {tie / 10:g}% of the units x batch tiles' or less)")
    if algorithm == "bias-fill":
        return "no input features: the result is the bias"
    return "empty product"


def dense_sparse_limit(isa: str | None = None) -> int:
    """The share of nonzero terms (percent) up to which the fused Dense sweep takes
    grad_x by grad_out's nonzero terms under `isa` (default: the one in use); under
    AVX-512, lower where the CPU runs its multiply-adds at twice the AVX2 rate."""
    name = (isa or _kernels.current_isa()).upper()
    if name == "AVX512" and _kernels.avx512_fma_full_rate():
        name = "AVX512_FULL"
    return int(_kernels.COSTS[f"FC_DENSE_SPARSE_MAX_PERCENT_{name}"])


def _dense_backward(grad_out: Any, x: Any, kernel: Any, *, output_mask: Any = (True, True, True),
                    out: Any = None, adam: Any = None) -> Plan:
    """nn.dense_backward: its own checks, then the backward drivers' planners,
    product by product (with `adam`, the one sweep that also steps the kernel)."""
    op = "dense_backward"
    _gy, x, kernel, (want_x, want_k, want_b), _out, adam = nn._dense_backward_args(
        grad_out, x, kernel, output_mask, out, adam)
    n, (k, m), f32 = int(np.prod(x.shape[:-1])), kernel.shape, x.dtype == np.float32
    steps = []
    if want_b:
        steps.append(Plan(op="grad_bias", algorithm="sum", kernel="numpy.sum",
                          isa=_kernels.current_isa(), dtype=str(x.dtype),
                          reason="grad_out summed over the batch"))
    if adam is not None:
        c = _kernels.dense_backward_plan(n, k, m, "adam" if want_x else "adam_no_grad_x", f32)
        gx_how = ""
        if want_x and _gy.size:
            limit = dense_sparse_limit()
            nonzero = np.count_nonzero(_gy)  # as the driver counts: NaN is nonzero, -0.0 is not
            share = nonzero / _gy.size
            gx_how = (f" (grad_x by grad_out's nonzero terms, {share:.0%} <= {limit}%: the sparse "
                      "row product over the group's kernel rows transposed)"
                      if nonzero * 100 <= limit * _gy.size
                      else f" (grad_x by the GEMM: grad_out {share:.0%} nonzero > {limit}%)")
        steps.append(_from_c("grad_kernel+adam", c, x.dtype,
                             "kernel rows in groups: their gradient" +
                             (" and grad_x columns" if want_x else "") +
                             " computed and the Adam step applied while they are in cache" + gx_how +
                             ("; each thread takes the fixed range of rows the forward product "
                              "gave it" if "owned_rows" in c["flags"] else "")))
    else:
        for name, wanted, why in (  # in the order the driver runs them
                ("grad_x", want_x, "grad_out times kernel^T: features x batch tiles, depth the units"),
                ("grad_kernel", want_k, "x^T times grad_out: features x units tiles, depth the batch")):
            if wanted:
                c = _kernels.dense_backward_plan(n, k, m, name, f32)
                if c["algorithm"] != "dense-gemm":
                    steps.append(_nothing(name, x.dtype, "empty product: zeros"))
                    continue
                rows = "features"
                if name == "grad_kernel" and "transposed_out" in c["flags"]:
                    rows, why = "units", ("grad_out^T times x, transposed into grad_kernel: units x "
                                          "features tiles, depth the batch (fewer padded columns)")
                plan = _from_c(name, c, x.dtype, why)
                blocking = {(f"{rows} per task" if key == "units per task" else key): v
                            for key, v in plan.blocking.items()}  # rows are features or units
                steps.append(dataclasses.replace(plan, blocking=blocking))
    if not steps:
        return _nothing(op, x.dtype, "output_mask asks for nothing")
    return _combine(op, steps, x.dtype)


def _max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                ceil_mode: Any = False, return_indices: Any = False, *,
                layout: Any = "NCHW") -> Plan:
    x, g, nhwc, _ = nn._max_pool2d_args(x, kernel_size, stride, padding, dilation, ceil_mode,
                                        return_indices, layout)
    c = _kernels.max_pool2d_plan(g.dims, g.opts, nhwc, x.dtype == np.float32)
    dilated = g.opts[4] > 1 and g.opts[0] > 1 or g.opts[5] > 1 and g.opts[1] > 1
    return _from_c("max_pool2d", c, x.dtype,
                   ("channels-last rows" if nhwc else "one plane per task") +
                   (", dilated windows" if dilated else ""))


def _max_pool2d_backward(grad_out: Any, x: Any, indices: Any, kernel_size: Any,
                         stride: Any = None, padding: Any = 0, dilation: Any = 1,
                         ceil_mode: Any = False, *, layout: Any = "NCHW") -> Plan:
    _gy, x, _ix, g, nhwc = nn._max_pool2d_backward_args(grad_out, x, indices, kernel_size, stride,
                                                       padding, dilation, ceil_mode, layout)
    c = _kernels.max_pool2d_plan(g.dims, g.opts, nhwc, x.dtype == np.float32, True)
    return _from_c("max_pool2d_backward", c, x.dtype,
                   "each output's gradient added at the input its index names")


def _relu_backward(grad_out: Any, x: Any) -> Plan:
    _gy, x = nn._relu_backward_args(grad_out, x)
    c = _kernels.relu_plan(x.size, x.dtype == np.float32, True)
    return _from_c("relu_backward", c, x.dtype, "grad_out where x > 0 (NaN passes)")


def _relu(x: Any, out: Any = None, *, where: Any = True, casting: Any = "same_kind",
          order: Any = "K", dtype: Any = None, subok: Any = True, signature: Any = None) -> Plan:
    op = "relu"
    a = np.asarray(x)
    # the ufunc's own type resolution and casting checks, on no elements
    types = {k: v for k, v in (("dtype", dtype), ("signature", signature)) if v is not None}
    probe = relu(a.reshape(-1)[:0], casting=casting, **types)
    outs = out if isinstance(out, tuple) else (out,)
    o = outs[0] if outs else None
    shape = np.broadcast_shapes(a.shape, *(() if o is None else (np.shape(o),)),
                                np.shape(where))
    loop_dtype = probe.dtype
    n = int(np.prod(shape))
    contiguous = (a.shape == shape and a.flags.c_contiguous and a.dtype == loop_dtype
                  and (o is None or (isinstance(o, np.ndarray) and o.flags.c_contiguous
                                     and o.dtype == loop_dtype)) and where is True)
    if not n:
        return _nothing(op, loop_dtype, "empty result")
    if not contiguous:
        return Plan(op=op, algorithm="strided-loop", kernel=None, isa=_kernels.current_isa(),
                    dtype=str(loop_dtype), reason="strided, broadcast, cast or masked operands: "
                    "NumPy's iterator hands the loop pieces, each done by a scalar loop or, "
                    "where contiguous, the SIMD kernel")
    c = _kernels.relu_plan(n, loop_dtype == np.float32)
    return _from_c(op, c, loop_dtype, "one contiguous loop over the elements")


def _softmax(x: Any, axis: Any = -1) -> Plan:
    a = as_float_array(x, "x", "softmax")
    return Plan(op="softmax", algorithm="numpy", kernel="numpy.exp", isa=_kernels.current_isa(),
                dtype=str(a.dtype), reason=f"exp(x - max) / sum along axis {axis}, NumPy ufuncs")


# ---- the drop-ins: run the op in plan-only mode ------------------------------------------

def _planned(name: str, op: Callable[..., Any]) -> Callable[..., Plan]:
    """A handler that calls `op` itself in plan-only mode: its own argument checks
    and decisions run; the C drivers plan without computing; where a path would
    compute, Planned stops it with what would run."""
    def handler(*args: Any, **kwargs: Any) -> Plan:
        previous = _kernels.plan_only(1)
        try:
            op(*args, **kwargs)
        except _kernels.Planned as stop:
            c = dict(stop.plan)
        else:
            return _nothing(name, None, "answered without arithmetic (an empty or trivial case "
                            "the op settles itself)")
        finally:
            _kernels.plan_only(previous)
        steps = c.pop("steps", None)
        dtype = _plan_dtype(c)
        if steps:
            return _combine(name, [_from_c(f"pass {i}", st, dtype) for i, st in
                                   enumerate(steps, 1)], dtype, c.get("path", ""))
        return _from_c(name, c, dtype)
    return handler


def _plan_dtype(c: dict[str, Any]) -> np.dtype | None:
    """The computing dtype: the plan's, or the one its kernel names (fc_f32_..., fc_f64_...)."""
    if c.get("dtype"):
        return np.dtype(str(c["dtype"]))
    kernel = c.get("kernel") or ""
    if kernel.startswith("fc_f32_"):
        return np.dtype(np.float32)
    if kernel.startswith("fc_f64_"):
        return np.dtype(np.float64)
    return None


# ---- the registry -----------------------------------------------------------------------

def _registry() -> dict[int, tuple[str, Callable[..., Plan]]]:
    from . import ndimage, numpy_compat

    table: dict[int, tuple[str, Callable[..., Plan]]] = {}

    def add(name: str, op: Any, handler: Callable[..., Plan]) -> None:
        table[id(op)] = (name, handler)

    add("conv2d", nn.conv2d, _conv2d)
    add("conv2d_backward", nn.conv2d_backward, _conv2d_backward)
    add("max_pool2d", nn.max_pool2d, _max_pool2d)
    add("max_pool2d_backward", nn.max_pool2d_backward, _max_pool2d_backward)
    add("relu", relu, _relu)
    add("relu_backward", nn.relu_backward, _relu_backward)
    add("nn.softmax", nn.softmax, _softmax)
    add("nn.dense", nn.dense, _dense)
    add("nn.dense_backward", nn.dense_backward, _dense_backward)
    for name in numpy_compat.__all__:
        add(name, getattr(numpy_compat, name), _planned(name, getattr(numpy_compat, name)))
    for name in signal.__all__:
        if name != "choose_conv_method":
            op = getattr(signal, name)
            label = name if name in ("convolve2d", "correlate2d") else f"signal.{name}"
            add(label, op, _planned(label, op))
    for name in ndimage.__all__:
        op = getattr(ndimage, name)
        add(f"ndimage.{name}", op, _planned(f"ndimage.{name}", op))
    return table


_table: dict[int, tuple[str, Callable[..., Plan]]] | None = None


def explain(op: Callable[..., Any], *args: Any, **kwargs: Any) -> Plan:
    """The plan ``op(*args, **kwargs)`` would run, without running it.

    Parameters
    ----------
    op : callable
        A public fastconv op: ``fastconv.conv2d``, ``relu``, ``max_pool2d``, their
        ``_backward`` gradients, ``fastconv.nn.softmax``, the drop-ins
        ``convolve``, ``correlate``, ``convolve2d``, ``correlate2d``, and
        ``fastconv.signal.*``, ``fastconv.ndimage.*``, ``fastconv.numpy_compat.*``.
    *args, **kwargs
        The arguments the call would get.

    Returns
    -------
    Plan
        Algorithm, microkernel and tile, blocking, threads, scratch bytes, ISA,
        dtype and the reason; ``str(plan)`` is one paragraph.

    Raises
    ------
    TypeError
        If `op` is not an op explain knows (the message lists them).
    Exception
        For bad arguments, what the op itself raises: its own checks run.

    Notes
    -----
    The plan comes from the decision code the call runs. For conv2d, max_pool2d,
    relu and their gradients that is the C drivers' planners (the drivers call
    the same functions and act on the result) and the Python checks and path
    choices the ops share with explain. The drop-ins (numpy_compat, signal,
    ndimage) are called themselves in a plan-only mode in which the C drivers
    plan and return before touching an array and every Python path stops where
    it would start computing. Thread counts are for the current
    ``fastconv.get_num_threads()``. Arrays are read only where the op's choice
    depends on their values (a finiteness check, integer ranges), never written.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.zeros((1, 64, 32, 32), np.float32)
    >>> w = np.zeros((64, 64, 3, 3), np.float32)
    >>> fastconv.explain(fastconv.conv2d, x, w, padding=1).algorithm
    'igemm'
    """
    global _table
    if _table is None:
        _table = _registry()
    entry = _table.get(id(op))
    if entry is None:
        known = ", ".join(sorted(name for name, _ in _table.values()))
        if isinstance(op, str):
            raise TypeError(f"explain: op must be the function itself, e.g. "
                            f"fastconv.explain(fastconv.conv2d, x, w), not the string {op!r}; "
                            f"explain knows {known}")
        name = getattr(op, "__qualname__", None) or getattr(op, "__name__", None) or repr(op)
        raise TypeError(f"explain: {name!r} is not an op explain knows; it knows {known}")
    name, handler = entry
    try:
        inspect.signature(handler).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{name}() {e}") from None
    return handler(*args, **kwargs)
