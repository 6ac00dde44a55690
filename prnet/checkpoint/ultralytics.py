"""Read Ultralytics checkpoints (``yolo11s.pt``, the PRNet authors' released ``.pt`` files) without
Ultralytics and without running anything from the file.

An Ultralytics ``.pt`` is ``torch.save`` of whole Python objects: ``{"model": DetectionModel,
"ema": DetectionModel | None, "train_args": dict, ...}``. ``torch.load(weights_only=True)`` refuses
it, and ``weights_only=False`` would import and call whatever the file names. Here the file goes
through ``torch.load`` (which reads the zip archive and the tensor storages) with a restricted
unpickler:

* real objects are rebuilt only for tensors, storages, parameters, ``OrderedDict`` and plain
  containers (:data:`SAFE_GLOBALS`);
* a class from a namespace that model checkpoints hold (``ultralytics.*``, ``torch.nn.*``,
  ``numpy``, ``pathlib``, ``datetime``, ...; :data:`RECORD_NAMESPACES`) becomes an inert
  :class:`Record` of its constructor arguments and state: it is never imported or called;
* anything else (``os.system``, ``builtins.eval``, ``subprocess``, ...) stops the load with an
  :class:`UnsafeCheckpointError` naming it, before it could run.

:func:`read_ultralytics_checkpoint` then walks the module records (``_parameters``,
``_buffers``, ``_modules``) and returns their tensors under Ultralytics' own names
(``model.<layer>.<...>``), in float32, with the class names, ``nc``, the model YAML and the
training arguments.
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import types
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "RECORD_NAMESPACES",
    "SAFE_GLOBALS",
    "Record",
    "UltralyticsCheckpoint",
    "UnsafeCheckpointError",
    "is_ultralytics_checkpoint",
    "read_ultralytics_checkpoint",
]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file refers to something that is neither data nor a model class: it was not loaded."""


def _safe_builtins() -> dict[tuple[str, str], Any]:
    import _codecs

    table = {
        ("collections", "OrderedDict"): OrderedDict,
        ("_codecs", "encode"): _codecs.encode,  # how pickle protocol 2 stores bytes
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): torch._tensor._rebuild_from_type_v2,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch", "Tensor"): torch.Tensor,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
    }
    for builtins in ("builtins", "__builtin__"):
        for name, obj in (("set", set), ("frozenset", frozenset), ("slice", slice),
                          ("complex", complex), ("bytearray", bytearray)):  # fmt: skip
            table[(builtins, name)] = obj
    for name in dir(torch):  # dtypes: torch.float16, torch.float32, ...
        if isinstance(getattr(torch, name, None), torch.dtype):
            table[("torch", name)] = getattr(torch, name)
    return table


#: ``(module, name)`` of the globals rebuilt as real objects: tensors, storages and containers.
SAFE_GLOBALS: dict[tuple[str, str], Any] = _safe_builtins()

#: Module prefixes whose classes become inert :class:`Record` s (model classes and the plain
#: objects that training arguments and metrics hold).
RECORD_NAMESPACES = (
    "ultralytics",
    "torch.nn.modules",
    "torch.nn.parallel",
    "numpy",
    "pathlib",
    "datetime",
    "types",
    "argparse",
    "copy",
    "__main__",
)


class Record:
    """An inert stand-in for an object of class ``module.name``: what pickle would have passed to
    its constructor (``args``) and to ``__setstate__`` (``state``). Nothing of the class runs."""

    module: str = ""
    name: str = ""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state):
        self.state = state

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def attr(self, key: str, default=None):
        """An attribute from the pickled state (``__dict__``-style state, or its first part)."""
        state = self.state
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]
        return state.get(key, default) if isinstance(state, dict) else default

    def __repr__(self) -> str:
        return f"Record({self.qualname})"


def _record_class(module: str, name: str) -> type:
    return type(name, (Record,), {"module": module, "name": name, "__module__": __name__})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in SAFE_GLOBALS:
            return SAFE_GLOBALS[(module, name)]
        if any(module == p or module.startswith(p + ".") for p in RECORD_NAMESPACES):
            return _record_class(module, name)
        raise UnsafeCheckpointError(
            f"the checkpoint refers to {module}.{name}, which is neither tensor data nor a model "
            "class: refused (nothing from the file was run). Only tensors, containers and the "
            f"classes of {', '.join(RECORD_NAMESPACES)} are read, and those only as inert records."
        )


def _pickle_module() -> types.ModuleType:
    """What ``torch.load(pickle_module=...)`` needs: ``Unpickler`` and ``load``."""
    module = types.ModuleType("prnet_restricted_pickle")
    module.Unpickler = _RestrictedUnpickler
    module.load = lambda f, **kwargs: _RestrictedUnpickler(f, **kwargs).load()
    module.__name__ = "prnet_restricted_pickle"
    return module


def _pickled_globals(data: bytes):
    """``(module, name)`` of every global a pickle refers to, without unpickling it."""
    strings = []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            yield tuple(arg.split(" ", 1))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            yield strings[-2], strings[-1]
        if isinstance(arg, str):
            strings.append(arg)


def is_ultralytics_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a torch zip checkpoint whose pickle refers to Ultralytics classes."""
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if pkl is None:
                return False
            data = z.read(pkl)
    except (zipfile.BadZipFile, OSError):
        return False
    if b"ultralytics" not in data:
        return False
    try:
        return any(m.split(".")[0] == "ultralytics" for m, _ in _pickled_globals(data))
    except Exception:  # a malformed pickle: let the loader report it
        return False


@dataclass
class UltralyticsCheckpoint:
    """What :func:`read_ultralytics_checkpoint` found.

    ``model`` / ``ema``: ``{Ultralytics name: float32 tensor}`` of the ``model`` / ``ema`` entries
    (parameters and persistent buffers; ``None`` where the entry is empty). ``weights`` prefers the
    EMA, as Ultralytics does when it saves its final checkpoints.
    """

    path: str
    model: OrderedDict[str, torch.Tensor] | None
    ema: OrderedDict[str, torch.Tensor] | None
    names: dict[int, str] = field(default_factory=dict)
    nc: int | None = None
    yaml: dict = field(default_factory=dict)
    train_args: dict = field(default_factory=dict)
    stride: list[float] = field(default_factory=list)
    layer_types: dict[int, str] = field(default_factory=dict)
    version: str | None = None

    @property
    def weights(self) -> OrderedDict[str, torch.Tensor]:
        return self.ema if self.ema is not None else self.model


def _plain(value):
    """Records inside args/yaml (paths, numpy scalars) as strings; containers kept."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, Record):
        return f"<{value.qualname}>"
    return value


def _module_tensors(record: Record, prefix: str, out: OrderedDict, path: str) -> None:
    """Collect the parameters and persistent buffers of a module record, recursively."""
    params, buffers, children = (record.attr(k) for k in ("_parameters", "_buffers", "_modules"))
    if params is None or buffers is None or children is None:
        raise ValueError(
            f"{path}: {prefix.rstrip('.') or 'the model'} is a {record.qualname} without the "
            "parameters/buffers/submodules a torch module pickles: not a model checkpoint?"
        )
    skip = record.attr("_non_persistent_buffers_set") or set()
    for kind, table in (("parameter", params), ("buffer", buffers)):
        for name, value in table.items():
            if value is None or (kind == "buffer" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"{path}: {kind} {prefix}{name} is a {type(value).__name__}")
            out[prefix + name] = value.detach().float() if value.is_floating_point() else value
    for name, child in children.items():
        if child is None:
            continue
        if not isinstance(child, Record):
            raise ValueError(f"{path}: submodule {prefix}{name} is a {type(child).__name__}")
        _module_tensors(child, f"{prefix}{name}.", out, path)


def _model_entry(value, key: str, path: str) -> OrderedDict | None:
    if value is None:
        return None
    if not isinstance(value, Record):
        raise ValueError(
            f"{path}: '{key}' holds a {type(value).__name__}, not a pickled Ultralytics model"
        )
    tensors = OrderedDict()
    _module_tensors(value, "", tensors, path)
    return tensors


def read_ultralytics_checkpoint(path: str | os.PathLike) -> UltralyticsCheckpoint:
    """Read an Ultralytics checkpoint safely (see the module docstring).

    Raises:
        UnsafeCheckpointError: the file refers to a function or class outside the allowed ones
            (nothing was run).
        ValueError: the file is not an Ultralytics model checkpoint (what was found is named).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        ckpt = torch.load(io.BytesIO(data), map_location="cpu", pickle_module=_pickle_module(),
                          weights_only=False)  # fmt: skip  (safe: the restricted unpickler)
    except UnsafeCheckpointError as e:
        raise UnsafeCheckpointError(f"{path}: {e}") from None
    if isinstance(ckpt, Record):  # a bare pickled model
        ckpt = {"model": ckpt}
    if not isinstance(ckpt, dict) or not ({"model", "ema"} & set(ckpt)):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path}: not an Ultralytics checkpoint: expected a dict with 'model' and/or 'ema' "
            f"entries, found {found}"
        )
    model = _model_entry(ckpt.get("model"), "model", path)
    ema = _model_entry(ckpt.get("ema"), "ema", path)
    if model is None and ema is None:
        raise ValueError(f"{path}: both 'model' and 'ema' are empty")
    source = ckpt.get("ema") if ema is not None else ckpt.get("model")
    layers = source.attr("_modules", {}).get("model")
    layer_types = {}
    if isinstance(layers, Record):
        for name, layer in (layers.attr("_modules") or {}).items():
            if isinstance(layer, Record):
                layer_types[int(name)] = layer.name
    names = source.attr("names") or {}
    if isinstance(names, (list, tuple)):
        names = dict(enumerate(names))
    yaml = _plain(source.attr("yaml") or {})
    stride = source.attr("stride")
    train_args = ckpt.get("train_args") or _plain(source.attr("args") or {})
    nc = yaml.get("nc") if isinstance(yaml, dict) else None
    return UltralyticsCheckpoint(
        path=path,
        model=model,
        ema=ema,
        names={int(k): str(v) for k, v in names.items()},
        nc=int(nc) if nc is not None else (len(names) or None),
        yaml=yaml if isinstance(yaml, dict) else {},
        train_args=_plain(train_args) if isinstance(train_args, dict) else {},
        stride=[float(s) for s in stride.tolist()] if isinstance(stride, torch.Tensor) else [],
        layer_types=layer_types,
        version=ckpt.get("version"),
    )
