"""The seed's mistake: the loss computed after the `with tf.GradientTape()` block closed.

TensorFlow returns None and then fails with "No gradients provided for any variable"; pyfast_tape
says why, naming the op and the line. Run: python examples/why_no_gradient.py
"""
import pyfast_tape as tf


def mean_squared_error(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred - y_true))


x = tf.constant([[1.0], [2.0], [3.0], [4.0]], dtype=tf.float32)
y = tf.constant([[2.0], [4.0], [5.9], [8.1]], dtype=tf.float32)
W = tf.Variable([[0.5]], dtype=tf.float32)
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)

with tf.GradientTape() as tape:
    y_predicted = tf.matmul(x, W)
loss_value = mean_squared_error(y, y_predicted)  # the mistake: outside the tape

gradients = tape.gradient(loss_value, W)
print("gradient:", gradients)
print(tape.explain(loss_value, W))
try:
    optimizer.apply_gradients([(gradients, W)])
except ValueError as e:
    print(f"ValueError: {e}")
