"""Ctrl-C in Sequential.fit, as a real SIGINT at random moments: fit raises
KeyboardInterrupt with every weight and the optimizer's state (Adam's moments, its
iteration count) bitwise those of an uninterrupted run of exactly
`optimizer.iterations` steps, `model.history` holding the completed epochs, and
SIGINT's handler put back as it was. Training is bitwise reproducible at a fixed
thread count, so the uninterrupted twin is an exact reference. The moments are
drawn in steps (a step, then a fraction of a step's time as this fit runs it), so a
machine slowed by other work meanwhile moves them with it.

30 trials take about 10 s; for a longer run (docs/reliability.md):
INTERRUPT_TRIALS=300 pytest -s tests/test_interrupt.py -k random_moments"""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from fastconv import models, utils
from fastconv.callbacks import Callback
from fastconv._demo import lecture_model

N, BATCH = 320, 32
STEPS = N // BATCH            # steps per epoch
SEED = 7                      # dropout masks (shuffle=False: nothing else is drawn)
TRIALS = int(os.environ.get("INTERRUPT_TRIALS", "30"))
REACH = 45                    # the SIGINT lands in one of the first REACH steps (4.5 epochs)
EPOCHS = 150                  # far more than REACH: the signal always finds fit running

pytestmark = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="the test runner replaced Python's default SIGINT handler")


@pytest.fixture(scope="module")
def data():
    """MNIST-shaped random digits: pixels in [0, 1), labels 0-9; N to train on and
    64 to validate on."""
    gen = np.random.default_rng(2024)
    return gen.random((N + 64, 28, 28, 1), dtype=np.float32), gen.integers(0, 10, N + 64)


@pytest.fixture(scope="module")
def start():
    """The initial weights every run starts from."""
    return lecture_model(10, seed=3).get_weights()


def fresh(start) -> models.Sequential:
    model = lecture_model(10)
    model.set_weights(start)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def state(model) -> tuple[int, list[np.ndarray], list[list[np.ndarray]]]:
    """Iterations, weights, and each weight's optimizer slots (Adam: m, v), in the
    model's weight order."""
    params = [w for layer in model.layers for w in layer.weights]
    slots = [model.optimizer._slots.get(id(p), []) for p in params]
    return model.optimizer.iterations, params, slots


def uninterrupted(start, x, y, k: int):
    """A twin trained for exactly k steps, as fit would take them: whole epochs
    (validated on the last 64 samples), then the first batches of the next."""
    model = fresh(start)
    utils.set_random_seed(SEED)
    epochs, rest = divmod(k, STEPS)
    history = {}
    if epochs:
        history = model.fit(x[:N], y[:N], batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                            validation_data=(x[N:], y[N:])).history
    if rest:
        model.fit(x[:rest * BATCH], y[:rest * BATCH], batch_size=BATCH, shuffle=False, verbose=0)
    return model, history


def fit_until_sigint(model, x, y, when: tuple, via: str, verbose: int) -> bool:
    """fit, with SIGINT sent to the main thread (pthread_kill) or to the process (kill)
    at `when`: ("call", seconds) that long after fit is called, or ("step", s,
    fraction, per_step) `fraction` of a step's time after step s begins (steps
    counted over the epochs; a step's time the mean of the last five this fit took,
    per_step before the second). True if fit raised KeyboardInterrupt."""
    main, go, done = threading.main_thread().ident, threading.Event(), threading.Event()
    delay = [when[1] if when[0] == "call" else 0.0]

    def send():
        go.wait()
        if not done.wait(delay[0]):
            if via == "pthread_kill":
                signal.pthread_kill(main, signal.SIGINT)
            else:
                os.kill(os.getpid(), signal.SIGINT)

    callbacks = []
    if when[0] == "step":
        _, at, fraction, per_step = when
        begins: list[float] = []

        class Trigger(Callback):
            def on_train_batch_begin(self, batch, logs=None):
                begins.append(time.perf_counter())
                if len(begins) == at + 1:
                    recent = begins[-6:]
                    step = (recent[-1] - recent[0]) / (len(recent) - 1) if len(recent) > 1 else per_step
                    delay[0] = fraction * step
                    go.set()

        callbacks = [Trigger()]
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    utils.set_random_seed(SEED)
    try:
        if when[0] == "call":
            go.set()
        model.fit(x[:N], y[:N], batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=verbose,
                  validation_data=(x[N:], y[N:]), callbacks=callbacks)
    except KeyboardInterrupt:
        return True
    finally:
        done.set()
        go.set()  # a step that never came: the sender finds done set and sends nothing
        sender.join(30)
    return False


@pytest.fixture
def landed(monkeypatch):
    """Where each SIGINT found fit, in order: True in a section open to it (a
    validation, or the forward pass of a step run layer by layer: the first, which
    builds the optimizer), False anywhere else (a step run as one sequence of C
    calls, backward, the update, bookkeeping), where it is held until the step is
    complete."""
    record: list[bool] = []
    on_sigint = models._InterruptGuard._on_sigint

    def spy(self, signum, frame):
        record.append(self._open)
        return on_sigint(self, signum, frame)

    monkeypatch.setattr(models._InterruptGuard, "_on_sigint", spy)
    return record


def test_sigint_at_random_moments_leaves_exactly_k_complete_steps(data, start, landed):
    x, y = data
    warm = fresh(start)
    warm.fit(x[:N], y[:N], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    began = time.perf_counter()
    warm.fit(x[:N], y[:N], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    per_step = (time.perf_counter() - began) / STEPS
    gen = np.random.default_rng(11)
    seen_k, early = [], 0
    for trial in range(TRIALS):
        via = ("pthread_kill", "kill")[trial % 2]
        if trial % 10 == 9:  # from the call: data checks and set-up before the first step too
            when: tuple = ("call", float(gen.uniform(0, 2 * per_step)))
            what = f"trial {trial} ({via} {when[1] * 1e3:.2f} ms after the call)"
        else:  # fractions spread evenly over [0, 1.2): steps, and the validation after an epoch's last
            when = ("step", int(gen.integers(0, REACH)), 1.2 * (trial + float(gen.uniform())) / TRIALS, per_step)
            what = f"trial {trial} ({via} {when[2]:.2f} of a step into step {when[1]})"
        model = fresh(start)
        assert fit_until_sigint(model, x, y, when, via, verbose=trial % 3 == 2), \
            f"{what}: fit ran all {EPOCHS} epochs without raising KeyboardInterrupt"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, f"{what}: handler left behind"
        k, weights, slots = state(model)
        seen_k.append(k)
        if "history" not in vars(model):  # the SIGINT came before fit began
            assert k == 0 and all(np.array_equal(w, s) for w, s in zip(weights, start)), what
            early += 1
            continue
        twin, twin_history = uninterrupted(start, x, y, k)
        want_k, want_weights, want_slots = state(twin)
        assert want_k == k
        for i, (got, want) in enumerate(zip(weights, want_weights)):
            np.testing.assert_array_equal(got, want, err_msg=f"{what}: weight {i} after {k} steps")
        for i, (got, want) in enumerate(zip(slots, want_slots)):
            assert len(got) == len(want), f"{what}: weight {i} has {len(got)} optimizer slots, want {len(want)}"
            for j, (g, w) in enumerate(zip(got, want)):
                np.testing.assert_array_equal(g, w, err_msg=f"{what}: slot {j} of weight {i} after {k} steps")
        # the completed epochs: k // STEPS, or one fewer if the SIGINT came during the
        # validation after an epoch's last step
        history = model.history
        assert history.interrupted, what
        done = len(history.epoch)
        assert done == k // STEPS or (k % STEPS == 0 and done == k // STEPS - 1), \
            f"{what}: {done} epochs recorded after {k} steps"
        assert history.epoch == list(range(done)), what
        assert history.history == {key: values[:done] for key, values in twin_history.items() if done}, what
    print(f"\n{TRIALS} SIGINTs, all consistent: after {min(seen_k)}-{max(seen_k)} complete steps "
          f"(median {int(np.median(seen_k))}; {len(set(seen_k))} different counts); {sum(landed)} raised at "
          f"once (validation or a layer-by-layer forward pass), {len(landed) - sum(landed)} held to the end of the step, "
          f"{early} before fit began")
    assert len(landed) == TRIALS - early
    assert max(seen_k) > STEPS, "no SIGINT came after the first epoch: the trials reach too short"
    # (those acting at once are rare now that a step is one C sequence: the next test
    # lands one in a validation on purpose)
    assert sum(landed) < TRIALS, "no SIGINT was held: none landed in a step"


def test_sigint_in_a_validation_acts_at_once(data, start, monkeypatch, landed):
    """A SIGINT that finds fit validating (a section open to it) raises there: the
    epoch's steps are all complete, its validation is discarded."""
    x, y = data
    model = fresh(start)
    value = model.loss.value
    calls = []

    def value_then_sigint(*args, **kwargs):  # the validation's loss, inside its open section
        calls.append(1)
        if len(calls) == 3:  # the second epoch's validation (two batches of 32), its first batch
            signal.raise_signal(signal.SIGINT)
        return value(*args, **kwargs)

    monkeypatch.setattr(model.loss, "value", value_then_sigint)
    utils.set_random_seed(SEED)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x[:N], y[:N], batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                  validation_data=(x[N:], y[N:]))
    assert landed == [True]
    k, weights, slots = state(model)
    assert k == 2 * STEPS
    twin, twin_history = uninterrupted(start, x, y, k)
    for got, want in zip(weights, state(twin)[1]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(slots, state(twin)[2]):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    assert model.history.interrupted and model.history.epoch == [0]
    assert model.history.history == {key: values[:1] for key, values in twin_history.items()}


def test_fit_keeps_a_handler_of_the_users_and_is_not_interrupted(data, start):
    """A SIGINT handler the user installed stays installed and gets the signal; fit
    goes on (it only handles Ctrl-C over Python's default handler)."""
    x, y = data[0][:N], data[1][:N]
    got = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        model = fresh(start)
        main = threading.main_thread().ident
        timer = threading.Timer(0.005, lambda: signal.pthread_kill(main, signal.SIGINT))
        timer.start()
        model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
        timer.join(30)
        for _ in range(100):  # Python runs the handler at its next check, in this thread
            if got:
                break
            time.sleep(0.01)
        assert got == [signal.SIGINT]
        assert model.optimizer.iterations == 2 * STEPS and not model.history.interrupted
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fit_in_another_thread_leaves_signals_alone(data, start):
    x, y = data[0][:N], data[1][:N]
    model = fresh(start)
    handlers = []
    worker = threading.Thread(target=model.fit, args=(x, y),
                              kwargs=dict(batch_size=BATCH, epochs=3, shuffle=False, verbose=0))
    worker.start()
    while worker.is_alive():
        handlers.append(signal.getsignal(signal.SIGINT))
        time.sleep(0.001)
    worker.join(60)
    assert model.optimizer.iterations == 3 * STEPS
    assert all(h is signal.default_int_handler for h in handlers)


def test_an_error_inside_a_step_restores_the_default_handler(data, start):
    x, y = data[0][:N], data[1][:N]
    model = fresh(start)
    with pytest.raises(ValueError):
        model.fit(x, np.full(N, 10), batch_size=BATCH, epochs=1, verbose=0)  # label 10 of 10 classes
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_sigint_acts_before_the_next_step(data, start):
    """A SIGINT held through a step (here sent from a callback as step 4 ends) stops
    fit before step 5 changes anything, not at the end of the epoch."""
    x, y = data

    class Sigint(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                signal.raise_signal(signal.SIGINT)

    model = fresh(start)
    utils.set_random_seed(SEED)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x[:N], y[:N], batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[Sigint()])
    k, weights, _ = state(model)
    assert k == 4
    twin, _ = uninterrupted(start, x, y, k)
    for got, want in zip(weights, state(twin)[1]):
        np.testing.assert_array_equal(got, want)
