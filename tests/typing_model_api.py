"""The model layer as users write it: type-checked by tests/test_layer_api.py with
``mypy --strict`` (never run), so the public annotations stay complete and true."""
import numpy as np
import numpy.typing as npt

import fastconv
from fastconv import activations, initializers, losses, optimizers
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
from fastconv.models import Sequential, load_model

model = Sequential()
model.add(Conv2D(4, kernel_size=3, strides=1, padding="same", input_shape=(8, 8, 1),
                 activation=fastconv.nn.relu))
model.add(MaxPooling2D(pool_size=2))
model.add(Flatten())
model.add(Dense(16, activation="relu"))
model.add(Dropout(0.2, seed=1))
model.add(Activation("linear"))
model.add(ReLU())
model.add(Dense(3, activation="softmax"))
model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
x: npt.NDArray[np.float32] = np.zeros((4, 8, 8, 1), np.float32)
probs = model.predict(x, verbose=0)
loss_acc = model.evaluate(x, np.zeros(4, np.int64), verbose=0)
weights: list[npt.NDArray[np.float32]] = model.get_weights()
model.set_weights(weights)
conv = model.get_layer("conv2d")
first: Layer = model.get_layer(index=0)
assert isinstance(conv, Conv2D)
kernel: npt.NDArray[np.float32] = conv.kernel
bias: npt.NDArray[np.float32] | None = conv.bias
n: int = conv.count_params() + model.count_params()
shape: tuple[int, ...] = model.output_shape
live: list[npt.NDArray[np.float32]] = model.weights + model.trainable_weights + model.non_trainable_weights
layers: list[Layer] = model.layers
last: Layer = model.pop()
model.save("model.fcm")
loaded: Sequential = load_model("model.fcm", compile=True, max_bytes=1 << 30)
opt: optimizers.Optimizer = optimizers.get("sgd")
it: int = opt.iterations
loss: losses.Loss = losses.get("categorical_crossentropy")
loss.check_labels(np.eye(3), (3, 3))
act: activations.Activation = activations.get("relu")
init: initializers.Initializer = initializers.get("glorot_uniform")
config: dict[str, object] = model.get_config()
model.summary(print_fn=print)
out = model(x, training=False)
