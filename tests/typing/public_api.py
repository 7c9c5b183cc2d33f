"""Every public name, used as a user would, for ``mypy --strict`` (checked, not run).

The annotations are what a user may rely on: each assignment checks that the
stubs or inline annotations give a result of that type, and each call that the
arguments a user passes are accepted. ``mypy`` (configured in pyproject.toml)
checks this file; nothing imports it and the test runner does not collect it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt

import fastconv
import fastconv.dask
from fastconv import activations, callbacks, initializers, losses, optimizers, utils
from fastconv.datasets import idx, mnist
from fastconv.layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
    ReLU,
)
from fastconv.models import History, Sequential, load_model

Float = npt.NDArray[np.float32 | np.float64]

x = np.zeros((2, 1, 8, 8), dtype=np.float32)
w = np.ones((4, 1, 3, 3), dtype=np.float32)
b = np.zeros(4, dtype=np.float32)
version: str = fastconv.__version__

# ---- drop-ins and patching ---------------------------------------------------------------
c1: npt.NDArray[Any] = fastconv.convolve([1, 2, 3], [0, 1, 0.5])
c2: npt.NDArray[Any] = fastconv.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3], "valid", method="direct")
c3: npt.NDArray[Any] = fastconv.convolve2d(x[0, 0], w[0, 0], "same", "symm", 0.0, method="fft")
c4: npt.NDArray[Any] = fastconv.correlate2d(x[0, 0], w[0, 0], mode="valid", boundary="wrap")
c5: npt.NDArray[Any] = fastconv.numpy_compat.correlate([1.0], [2.0], 2)
c6: npt.NDArray[Any] = fastconv.signal.convolve2d([[1]], [[2]])
# scipy.signal's N-d family (0-d inputs give a NumPy scalar, as SciPy's)
n1: Any = fastconv.signal.convolve(np.ones((4, 4, 4)), np.ones((2, 2, 2)), "same", "direct")
n2: Any = fastconv.signal.correlate([1.0, 2.0], [3.0], method="auto")
n3: Any = fastconv.signal.fftconvolve(np.ones((3, 50)), np.ones((1, 5)), "valid", axes=-1)
n4: Any = fastconv.signal.oaconvolve(np.ones(500), np.ones(9), axes=[0])
chosen: str = fastconv.signal.choose_conv_method(np.ones(500), np.ones(9), "full")
chosen, times = fastconv.signal.choose_conv_method(np.ones(50), np.ones(9), measure=True)
seconds: dict[str, float] = times
fastconv.patch()
fastconv.patch("numpy.convolve")
fastconv.unpatch(["numpy.convolve", "scipy.signal.correlate2d"])
with fastconv.patched():
    names: list[str] = fastconv.patched_names()

# ---- deep-learning ops -------------------------------------------------------------------
y: Float = fastconv.conv2d(x, w, b, stride=1, padding="same", dilation=(1, 1), groups=1)
y_nhwc: Float = fastconv.conv2d(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), layout="NHWC")
fastconv.conv2d(x, w, out=np.empty((2, 4, 6, 6), np.float32))
r: Any = fastconv.relu(y)
fastconv.relu(y, out=y)
pooled: Float = fastconv.max_pool2d(y, 2)
pooled2, indices = fastconv.max_pool2d(y, (2, 2), stride=2, return_indices=True)
dilated: Float = fastconv.max_pool2d(y, 2, 1, 0, 2, False)
indices_int64: npt.NDArray[np.int64] = indices
gx, gw, gb = fastconv.conv2d_backward(np.ones_like(y), x, w, 1, "same")
grad_x: Float | None = gx
gr: Float = fastconv.relu_backward(np.ones_like(y), y)
gp: Float = fastconv.max_pool2d_backward(np.ones_like(pooled2), y, indices, 2)
probabilities: Float = fastconv.nn.softmax(np.zeros((2, 10)), axis=-1)
nn_conv: Float = fastconv.nn.conv2d(x, w)

# ---- runtime control ---------------------------------------------------------------------
threads: int = fastconv.get_num_threads()
fastconv.set_num_threads(threads)
fastconv.show_config()
plan: fastconv.Plan = fastconv.explain(fastconv.conv2d, np.zeros((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))
plan_kernel: str | None = plan.kernel
plan_tile: tuple[int, int] | None = plan.tile
plan_threads: int = plan.threads + plan.scratch_bytes
plan_steps: tuple[fastconv.Plan, ...] = plan.steps
plan_text: str = str(plan)
config: dict[str, Any] = fastconv.config()

# ---- model layer -------------------------------------------------------------------------
utils.set_random_seed(0)
generator: np.random.Generator = utils.rng(1)
model = Sequential()
model.add(Conv2D(4, kernel_size=(3, 3), input_shape=(8, 8, 1)))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())
model.add(Dense(8, activation=fastconv.nn.relu))
model.add(Dropout(0.2))
model.add(Activation("linear"))
model.add(ReLU())
model.add(Dense(2, activation="softmax"))
layer: Layer = model.layers[0]
model.compile(optimizer=optimizers.Adam(learning_rate=0.001), loss=losses.SparseCategoricalCrossentropy(),
              metrics=["accuracy"])
model.compile(optimizer=optimizers.SGD(), loss=losses.CategoricalCrossentropy())
model.compile(optimizer=optimizers.RMSprop(), loss="sparse_categorical_crossentropy")
optimizer: optimizers.Optimizer = optimizers.get("adam")
loss: losses.Loss = losses.get("sparse_categorical_crossentropy")
images = np.zeros((4, 8, 8, 1), dtype=np.float32)
labels = np.array([0, 1, 0, 1])
history: History = model.fit(images, labels, batch_size=2, epochs=1, verbose=0)
per_epoch: dict[str, list[float]] = history.history


class Count(callbacks.Callback):
    """A callback of the user's own, on Keras' hook names."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        print(epoch, logs)


history = model.fit(
    images, labels, epochs=2, verbose=0, validation_split=0.25, shuffle=False,
    sample_weight=np.ones(4), class_weight={0: 1.0, 1: 2.0}, validation_freq=1,
    callbacks=[
        Count(),
        callbacks.EarlyStopping(monitor="loss", patience=1),
        callbacks.ModelCheckpoint("best.fcm", monitor="loss"),
        callbacks.CSVLogger(Path("log.csv")),
        callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: None),
        callbacks.TerminateOnNaN(),
    ],
)
from_callbacks: callbacks.History = history
history = model.fit(((images[:2], labels[:2]) for _ in range(3)), steps_per_epoch=3, verbose=0)
dense: Layer = model.get_layer("dense")
kernel_weights: npt.NDArray[Any] = dense.get_weights()[0]
dense.set_weights(dense.get_weights())
all_weights: list[Any] = model.weights
popped: Layer = model.pop()
model.add(popped)
probe = Dense(2, input_shape=(3,))
Sequential([probe])
probe_kernel: npt.NDArray[Any] = probe.kernel
probe_bias: npt.NDArray[Any] | None = probe.bias
scores: Any = model.evaluate(images, labels, verbose=0)
predicted: npt.NDArray[Any] = model.predict(images, verbose=0)
weights: list[npt.NDArray[Any]] = model.get_weights()
model.set_weights(weights)
model.summary()
model.save(Path("model.fcm"))
loaded: Sequential = load_model("model.fcm", compile=False)

activation: activations.Activation = activations.get("relu")
for a in (activations.linear, activations.relu, activations.softmax):
    z: npt.NDArray[Any] = a.forward(np.zeros(3))
    dz: npt.NDArray[Any] = a.backward(np.ones(3), z, z)
initializer: initializers.Initializer = initializers.get("glorot_uniform")
kernel: npt.NDArray[Any] = initializers.GlorotUniform()((3, 3, 1, 4), seed=0)
zeros: npt.NDArray[Any] = initializers.Zeros()((4,))
ones: npt.NDArray[Any] = initializers.Ones()((4,), dtype=np.float64)
config_dict: dict[str, Any] = initializer.get_config()

# ---- datasets ----------------------------------------------------------------------------
(x_train, y_train), (x_test, y_test) = mnist.load_data(os.environ.get("FASTCONV_DATA"))
train_images: npt.NDArray[Any] = x_train
cache: Path = mnist.cache_dir()
files: tuple[str, ...] = mnist.FILES
digests: dict[str, str] = mnist.OFFICIAL_SHA256
mirrors: tuple[str, ...] = mnist.MIRRORS
try:
    mnist.load_data(Path("nowhere"))
except mnist.DatasetNotFoundError as err:
    missing: FileNotFoundError = err
idx.write_idx("labels-idx1-ubyte.gz", np.arange(3, dtype=np.uint8))
read: npt.NDArray[Any] = idx.read_idx(Path("labels-idx1-ubyte.gz"), expected_magic=0x801)
with open("labels-idx1-ubyte.gz", "rb") as f:
    read = idx.read_idx(f)
dtypes: dict[int, np.dtype[Any]] = idx.IDX_DTYPES

# ---- scipy.ndimage's filters --------------------------------------------------------------
plane = np.zeros((16, 16))
filtered: npt.NDArray[Any] = fastconv.ndimage.correlate(plane, np.ones((3, 3)), mode="wrap", origin=(0, 1))
filtered = fastconv.ndimage.convolve(plane, np.ones((3, 3)), np.float32, "nearest", 0.0, 0, axes=(0, 1))
filtered = fastconv.ndimage.correlate1d(plane, [1.0, 2.0], axis=0, mode="mirror")
filtered = fastconv.ndimage.convolve1d(plane, [1.0, 2.0], -1, None, "constant", 1.5)
filtered = fastconv.ndimage.gaussian_filter(plane, (1.0, 2.0), mode=["wrap", "reflect"], radius=3)
filtered = fastconv.ndimage.gaussian_filter1d(plane, 1.5, axis=0, order=1)
filtered = fastconv.ndimage.uniform_filter(plane, (3, 5), origin=(1, 0))
filtered = fastconv.ndimage.uniform_filter1d(plane, 4, axis=1, mode="grid-wrap")

# ---- Dask --------------------------------------------------------------------------------
image = da.zeros((64, 64), chunks=32)
lazy: da.Array = fastconv.dask.correlate2d(image, np.ones((3, 3)), "same", "symm", threads=1)
lazy = fastconv.dask.convolve2d(image, np.ones((3, 3)), threads=None)
lazy = fastconv.dask.correlate(da.zeros(100, chunks=10), [1.0, 2.0])
lazy = fastconv.dask.convolve(da.zeros(100, chunks=10), [1.0, 2.0], "same")
lazy = fastconv.dask.signal.convolve(da.zeros((9, 9, 9), chunks=3), np.ones((2, 2, 2)), "same")
lazy = fastconv.dask.signal.correlate(image, np.ones((3, 3)), "valid", "direct", threads=2)
lazy = fastconv.dask.ndimage.correlate(image, np.ones((3, 3)), mode="wrap", origin=(0, 1), threads=1)
lazy = fastconv.dask.ndimage.convolve(image, np.ones((3, 3)), np.float32, "nearest", axes=(0, 1))
lazy = fastconv.dask.ndimage.correlate1d(image, [1.0, 2.0], axis=0, mode="mirror")
lazy = fastconv.dask.ndimage.convolve1d(image, [1.0, 2.0], -1, None, "constant", 1.5)
lazy = fastconv.dask.ndimage.gaussian_filter(image, (1.0, 2.0), mode=["wrap", "reflect"], radius=3)
lazy = fastconv.dask.ndimage.gaussian_filter1d(image, 1.5, axis=0, order=1)
lazy = fastconv.dask.ndimage.uniform_filter(image, (3, 5), origin=(1, 0), threads=None)
lazy = fastconv.dask.ndimage.uniform_filter1d(image, 4, axis=1, mode="grid-wrap")
lazy = fastconv.dask.conv2d(da.from_array(x, chunks=1), w, b, padding=1)
lazy = fastconv.dask.relu(lazy)
lazy = fastconv.dask.max_pool2d(lazy, 2)
lazy_pooled, lazy_indices = fastconv.dask.max_pool2d(lazy, 2, return_indices=True)
lazy = fastconv.dask.predict(model, da.from_array(images, chunks=2), batch_size=2)
with fastconv.dask.thread_limit(1):
    pass
