"""Write the genuine Keras 2 .h5 test fixtures in tests/fixtures/keras2/ with tf_keras, the Keras 2 package.

    pip install --no-deps 'tf-keras==2.21.0'   # Keras 2 on the TensorFlow already installed; or the keras2 extra
    python scripts/make_legacy_h5.py

Two small models saved as the tutorials saved theirs (`model.save('mnist.h5')`), each trained briefly on 6,000
MNIST images so that accuracy tells a right load from a wrong one:
- cnn.h5: Sequential, `input_shape=(28,28,1)` on its first layer, softmax output;
- mlp784_logits.h5: functional, input (784,), logits output (trained with from_logits=True).
expected.npz holds what tf_keras computed on the first 32 test images (`cnn`, `mlp784_logits`: the raw outputs),
so the tests can check that Keras 3 reads the same network back. The tests and CI need only h5py and Keras 3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "fixtures" / "keras2"


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import tf_keras as keras
    except ImportError:
        raise SystemExit("this script needs tf_keras (Keras 2): pip install --no-deps 'tf-keras==2.21.0'") from None
    from toolkit import data

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, _) = data.load_mnist()
    images, labels = data.to_model_input(x_train[:6000]), y_train[:6000].astype(np.int64)
    probe = data.to_model_input(x_test[:32])
    layers = keras.layers

    cnn = keras.Sequential(
        [
            layers.Conv2D(4, 3, activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cnn.fit(images, labels, epochs=3, batch_size=64, verbose=0)

    inputs = keras.Input(shape=(784,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    mlp = keras.Model(inputs, layers.Dense(10)(hidden), name="mlp784_logits")
    mlp.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    mlp.fit(images.reshape(-1, 784), labels, epochs=3, batch_size=64, verbose=0)

    OUT.mkdir(parents=True, exist_ok=True)
    cnn.save(OUT / "cnn.h5")
    mlp.save(OUT / "mlp784_logits.h5")
    np.savez_compressed(
        OUT / "expected.npz",
        cnn=cnn.predict(probe, verbose=0),
        mlp784_logits=mlp.predict(probe.reshape(-1, 784), verbose=0),
    )
    import tensorflow as tf

    (OUT / "README.json").write_text(
        json.dumps(
            {
                "made_by": "scripts/make_legacy_h5.py",
                "tf_keras": keras.__version__,
                "tensorflow": tf.__version__,
                "expected.npz": (
                    "tf_keras outputs on MNIST test images 0-31 (softmax for cnn, logits for mlp784_logits)"
                ),
            },
            indent=2,
        )
        + "\n"
    )
    for path in sorted(OUT.iterdir()):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
