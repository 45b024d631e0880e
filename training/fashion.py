"""Train the Fashion-MNIST clothing classifier and export it to models/fashion/.

python -m training.fashion                   # our CNN (and the course LeNet beside it)
python -m training.fashion --config course   # only the course's sigmoid LeNet
python -m training.fashion --quick           # seconds, on a small slice (tests)
"""

from __future__ import annotations

from training.data.loaders import load_fashion
from training.data.mnist_like import FASHION
from training.image_training import IMAGE_INPUT_SPEC, Augment, ClassifierConfig, ImageTask, main_for

TARGET_ACCURACY = 0.940
CLASSES_EN = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CLASSES_ZH = ["T恤/上衣", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "包", "靴子"]
CONFIGS = {
    # The course: sigmoid LeNet, Xavier-uniform, SGD lr 0.9, batch 256, 20 epochs, raw pixels.
    "course": ClassifierConfig(arch="lenet", optimizer="sgd", lr=0.9, schedule="constant", epochs=20, batch_size=256),
    # Ours: a wider 4-conv BN network; clothes are left/right symmetric, so flips are fair game,
    # and random erasing keeps it from leaning on any one region (shirt vs. T-shirt collars).
    "default": ClassifierConfig(
        arch="convnet",
        arch_args={"c1": 64, "c2": 128, "fc": 256, "dropout": 0.4, "mean": 0.2860, "std": 0.3530},
        optimizer="adamw",
        lr=3e-3,
        weight_decay=5e-4,
        epochs=15,
        batch_size=128,
        label_smoothing=0.1,
        augment=Augment(shift=2.0, scale=0.05, hflip=True, erase_p=0.3),
    ),
}
OUTPUT_SPEC = {
    "type": "logits",
    "classes": CLASSES_EN,
    "classes_zh": CLASSES_ZH,
    "postprocess": "softmax over the 10 logits gives class probabilities",
}
INPUT_SPEC = {
    **IMAGE_INPUT_SPEC,
    "layout": "grayscale, row-major 28×28; light garment on black (0) background, as in Fashion-MNIST",
}


TASK = ImageTask(
    name="fashion",
    configs=CONFIGS,
    load=load_fashion,
    dataset=FASHION,
    output_spec=OUTPUT_SPEC,
    input_spec=INPUT_SPEC,
    target=TARGET_ACCURACY,
)


def main(argv: list[str] | None = None) -> None:
    main_for(TASK, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
