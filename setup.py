"""prnet: real-time small-object detection in aerial imagery (PRNet) on Detectron2 + timm.

Versions are pinned in requirements/constraints.txt (used by `make install`); here we only name
what prnet needs. Detectron2 itself is installed by scripts/install.sh (it is not on PyPI).
"""
from setuptools import find_packages, setup

setup(
    name="prnet",
    version="0.1.0",
    description="PRNet (ESSamp + Progressive Refinement Neck) for small-object detection, "
    "on Detectron2 and timm",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["prnet", "prnet.*"]),
    entry_points={"console_scripts": ["prnet=prnet.cli.main:main"]},
    install_requires=[
        "torch",
        "torchvision",
        "timm",
        "fvcore",
        "iopath",
        "omegaconf",
        "hydra-core",
        "pycocotools",
        "faster-coco-eval",
        "termcolor",
        "tabulate",
        "cloudpickle",
        "yacs",
        "matplotlib",
        "tensorboard",
        "tqdm",
        "numpy",
        "pillow",
        "opencv-python-headless",
        "setuptools",
    ],
    extras_require={
        "export": ["onnx", "onnxruntime"],
        "openvino": ["onnx", "onnxruntime", "openvino", "nncf"],
        "sahi": ["sahi"],
        "dev": [
            "pytest", "pytest-xdist", "hypothesis", "onnx", "onnxruntime", "openvino", "nncf", "sahi"
        ],
    },
)
