"""The lecture's Keras program for MNIST digits, with fastconv's imports.

Only the imports differ from the lecture (`tf.nn.relu` -> `fastconv.nn.relu`,
`tf.nn.softmax` -> `fastconv.nn.softmax`). Run it with

    python examples/mnist_cnn.py

mnist.load_data() looks for the four MNIST files in $FASTCONV_DATA/mnist, then
$FASTCONV_DATA, then the user cache, and else downloads the official files once,
verified by SHA-256; FASTCONV_DATA=DIR python examples/mnist_cnn.py runs offline
on files of your own in DIR.
"""
import fastconv
from fastconv.datasets import mnist
from fastconv.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fastconv.models import Sequential

(x_train, y_train), (x_test, y_test) = mnist.load_data()

# Reshape to 4-D (Keras wants a channel axis) and scale the pixels to [0, 1].
x_train = x_train.reshape(x_train.shape[0], 28, 28, 1).astype("float32") / 255
x_test = x_test.reshape(x_test.shape[0], 28, 28, 1).astype("float32") / 255
input_shape = (28, 28, 1)
print("x_train shape:", x_train.shape, "-", x_train.shape[0], "train samples,", x_test.shape[0], "test samples")

model = Sequential()
model.add(Conv2D(28, kernel_size=(3, 3), input_shape=input_shape))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Flatten())  # flattening the 2-D maps for the fully connected layers
model.add(Dense(128, activation=fastconv.nn.relu))
model.add(Dropout(0.2))
model.add(Dense(10, activation=fastconv.nn.softmax))

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x=x_train, y=y_train, epochs=10)

print("test loss, test accuracy:", model.evaluate(x_test, y_test))

image_index = 4444
pred = model.predict(x_test[image_index].reshape(1, 28, 28, 1))
print("image", image_index, "is predicted to be a", pred.argmax(), "- its label is", y_test[image_index])
