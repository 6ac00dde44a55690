"""prnet: real-time small-object detection in aerial imagery (PRNet) on Detectron2 + timm.

Importing prnet is cheap (no torch, no Detectron2), so ``prnet --help`` answers at once: the public
names below are loaded on first use (PEP 562). The registrations happen where they are needed:
``prnet.modeling`` registers the ``prnet_csp_*`` timm models and the ``PRNetDetector`` meta
architecture, ``prnet.data`` the built-in datasets, ``prnet.config`` the ``build_prnet_backbone``
backbone; the config files and the tools import them.
"""
import importlib
import warnings

# Detectron2 scripts helpers at import time and export uses torch.jit; torch warns on every call.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+.*deprecated", category=FutureWarning)

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access)
_LAZY = {
    "Detector": "prnet.inference.detector",
    "add_prnet_config": "prnet.config",
    "build_model": "prnet.modeling.build",
    "build_prnet_backbone": "prnet.config",
}
_SUBMODULES = ("data", "modeling")

__all__ = ["Detector", "add_prnet_config", "build_model", "build_prnet_backbone", "data", "modeling",
           "__version__"]  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
