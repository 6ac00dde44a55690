"""Ultralytics-like checkpoints made at test time, without Ultralytics: module classes registered
under ``ultralytics.*`` names for as long as the file is written, then gone, so a reader that tried
to import them would fail."""
import sys
import types

import pytest
import torch
from torch import nn

_CLASSES = {
    "ultralytics.nn.tasks": ("DetectionModel",),
    "ultralytics.nn.modules.conv": ("Conv", "Concat"),
    "ultralytics.nn.modules.block": ("C3k2", "SPPF", "C2PSA", "ESSamp", "Block"),
    "ultralytics.nn.modules.head": ("Detect",),
}


class _Namespace:
    """Ultralytics' IterableSimpleNamespace stand-in (training arguments pickle as an object)."""


@pytest.fixture
def fake_ultralytics(monkeypatch):
    """``save(path, tensors, layer_types, ...)``: write ``tensors`` (Ultralytics names,
    ``model.<layer>.<...>``) as a pickled module tree the way Ultralytics saves checkpoints."""
    classes, created = {}, set()
    for module_name, names in _CLASSES.items():
        parts = module_name.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in created:
                monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
                created.add(name)
        module = sys.modules[module_name]
        for cls_name in names:
            cls = type(cls_name, (nn.Module,), {"__module__": module_name})
            setattr(module, cls_name, cls)
            classes[cls_name] = cls
    ns = type("IterableSimpleNamespace", (_Namespace,), {"__module__": "ultralytics.utils"})
    monkeypatch.setitem(sys.modules, "ultralytics.utils", types.ModuleType("ultralytics.utils"))
    sys.modules["ultralytics.utils"].IterableSimpleNamespace = ns

    def build(tensors, layer_types, nc, stride, scale="n"):
        root = classes["DetectionModel"]()
        for key, value in tensors.items():
            *path, leaf = key.split(".")
            module = root
            for depth, part in enumerate(path):
                if part not in module._modules:
                    layer = depth == 1 and path[0] == "model"
                    cls = classes[layer_types[int(part)]] if layer else classes["Block"]
                    module.add_module(part, cls())
                module = module._modules[part]
            if leaf.startswith("running_") or leaf == "num_batches_tracked":
                module.register_buffer(leaf, value.clone())
            else:
                module.register_parameter(leaf, nn.Parameter(value.clone()))
        root.yaml = {"nc": nc, "scale": scale, "backbone": [], "head": []}
        root.names = {i: f"class{i}" for i in range(nc)}
        root.stride = torch.tensor(stride, dtype=torch.float32)
        args = ns()
        args.imgsz, args.epochs = 640, 3
        root.args = args
        return root

    def save(path, tensors, layer_types, nc, stride, scale="n", ema=True, half=True):
        model = build(tensors, layer_types, nc, stride, scale)
        if half:
            model = model.half()
        ckpt = {"epoch": 2, "best_fitness": None, "model": None if ema else model,
                "ema": model if ema else None, "updates": 7, "optimizer": None,
                "train_args": {"imgsz": 640, "epochs": 3}, "date": "2026-12-01",
                "version": "8.3.0"}  # fmt: skip
        torch.save(ckpt, path)
        return model

    yield save
    # the ultralytics.* stand-ins leave sys.modules with monkeypatch
