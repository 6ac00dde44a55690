"""Map an Ultralytics checkpoint's layer-index names onto a prnet model's modules.

Ultralytics names every tensor ``model.<layer index>.<path inside the layer>``; inside a layer, its
blocks use the same names as prnet's (``cv1``, ``cv2``, ``m.0``, ``conv``, ``bn``), so a checkpoint
converts by mapping each *layer* to a prnet module path. Three sources are understood:

* **the PRNet authors' network** (detection on strides 4/8/16; the layer table of docs/paper.md):
  layers 0-10 the backbone (0 and 1 the ESSamp stem, stored as ``dsconv.block.{0,1,3,4}`` =
  depthwise conv, BN, 1x1 conv, BN), 13/16/19 the top-down stage, 8 layers per PRN layer (down, refine, fuse at stride 8, fuse at stride 4 at
  offsets 0, 1, 3, 7), then the output stage (offsets 0, 1, 2, 5, 9) and the ``Detect`` head;
* **YOLO11** n-x (strides 8/16/32): into prnet's ``PAN`` baseline (``configs/ablations/pan_s.py``),
  or its backbone (layers 0-10) alone into any model on the CSP backbone with the conv stem;
* the ``Detect`` head: ``cv2.<level>`` -> ``head.box_branches.<level>``, ``cv3.<level>.{0.0, 0.1,
  1.0, 1.1, 2}`` -> ``head.cls_branches.<level>.{0, 1, 2, 3, 4}``; its fixed ``dfl`` conv (the bins
  0..15) is checked and dropped (prnet keeps it as a buffer).

:func:`ultralytics_to_prnet` returns the converted state dict and a :class:`ConversionReport`
(mapped, left at initialisation, mis-shaped per key, class-count change).
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from .ultralytics import UltralyticsCheckpoint

__all__ = [
    "ConversionReport",
    "SourceArchitecture",
    "describe_source",
    "layer_map",
    "ultralytics_to_prnet",
]

logger = logging.getLogger(__name__)

_BACKBONE = "backbone.bottom_up.model."
#: Ultralytics layers 0-10 (YOLO11's and PRNet's backbone) -> prnet_csp_* modules.
BACKBONE_LAYERS = {
    0: "stem", 1: "stages_0.0", 2: "stages_0.1", 3: "stages_1.0", 4: "stages_1.1", 5: "stages_2.0",
    6: "stages_2.1", 7: "stages_3.0", 8: "stages_3.1", 9: "stages_3.2", 10: "stages_3.3",
}  # fmt: skip
#: YOLO11's neck layers -> prnet's PAN.
PAN_LAYERS = {13: "td_fuse4", 16: "td_fuse3", 17: "bu_down4", 19: "bu_fuse4", 20: "bu_down5",
              22: "bu_fuse5"}  # fmt: skip
YOLO11_DETECT = 23
#: PRNet's stage 1, one PRN layer's offsets, the output stage's offsets (from its first layer).
PRN_STAGE1 = {13: "stage1_fuse4", 16: "stage1_fuse3", 19: "stage1_fuse2"}
PRN_LAYER_OFFSETS = {0: "down3", 1: "refine3", 3: "fuse3", 7: "fuse2"}
PRN_OUTPUT_OFFSETS = {0: "out_down3", 1: "out_down4", 2: "out_fuse4", 5: "out_fuse3",
                      9: "out_fuse2"}  # fmt: skip
PRN_FIRST_LAYER, PRN_LAYER_SPAN, PRN_DETECT_OFFSET = 20, 8, 10
#: The ESSamp stem's Sequential in the authors' code -> prnet's ESSamp attributes.
ESSAMP_KEYS = {"dsconv.block.0.": "dw.", "dsconv.block.1.": "bn1.", "dsconv.block.3.": "pw.",
               "dsconv.block.4.": "bn2."}  # fmt: skip


@dataclass(frozen=True)
class SourceArchitecture:
    """What network a checkpoint holds: ``kind`` "prnet" (with ``num_prn_layers``) or "yolo11";
    ``stem`` "essamp" or "conv"; ``scale`` n/s/m/l/x; ``detect`` the head's layer index."""

    kind: str
    stem: str
    scale: str
    detect: int
    num_prn_layers: int | None = None

    def config(self) -> tuple[str, list[str]]:
        """The prnet config (path under ``configs/``) and overrides that build this network."""
        if self.kind == "prnet":
            overrides = [f"model.backbone.num_prn_layers={self.num_prn_layers}"]
            if self.stem != "essamp":
                overrides.append("model.backbone.bottom_up.stem=conv")
            return f"PRNet/prnet_{self.scale}.py", overrides
        overrides = [f"model.backbone.scale={self.scale}"]
        if self.stem != "conv":
            overrides.append("model.backbone.bottom_up.stem=essamp")
        return "ablations/pan_s.py", overrides


def _guess_scale(weights: dict) -> str:
    """n/s/m/l/x from the widths of layers 2 (B2) and 10 (B5) and the repeats in layer 2."""
    try:
        c5 = weights["model.10.cv2.conv.weight"].shape[0]
        c2 = weights["model.2.cv2.conv.weight"].shape[0]
    except KeyError as e:
        raise ValueError(f"cannot tell the model scale: no {e.args[0]} in the checkpoint") from None
    two = any(k.startswith("model.2.m.1.") for k in weights)
    table = {(256, 64, False): "n", (512, 128, False): "s", (512, 256, False): "m",
             (512, 256, True): "l", (768, 384, True): "x"}  # fmt: skip
    if (c5, c2, two) not in table:
        raise ValueError(
            f"no YOLO11/PRNet scale has B2 width {c2}, B5 width {c5}, repeats {two + 1}"
        )
    return table[(c5, c2, two)]


def describe_source(ckpt: UltralyticsCheckpoint) -> SourceArchitecture:
    """Tell the authors' PRNet from YOLO11 by the head's strides and layer index."""
    weights = ckpt.weights
    detect = max((i for i, t in ckpt.layer_types.items() if t == "Detect"), default=None)
    if detect is None:
        detect = max(int(k.split(".")[1]) for k in weights)
    stride = [int(s) for s in ckpt.stride]
    stem = "essamp" if any(k.startswith("model.0.dsconv.") for k in weights) else "conv"
    scale = ckpt.yaml.get("scale") or _guess_scale(weights)
    offset = detect - PRN_FIRST_LAYER - PRN_DETECT_OFFSET
    if stride in ([4, 8, 16], []) and offset >= 0 and offset % PRN_LAYER_SPAN == 0:
        return SourceArchitecture("prnet", stem, scale, detect, offset // PRN_LAYER_SPAN)
    if stride in ([8, 16, 32], []) and detect == YOLO11_DETECT:
        return SourceArchitecture("yolo11", stem, scale, detect)
    raise ValueError(
        f"{ckpt.path}: neither YOLO11 (Detect at layer 23, strides 8/16/32) nor the PRNet network "
        f"(Detect at layer 30 + 8 per PRN layer, strides 4/8/16): Detect at layer {detect}, "
        f"strides {stride or 'unknown'}, layers {ckpt.layer_types}"
    )


def layer_map(model: nn.Module, source: SourceArchitecture) -> tuple[dict[int, str], str | None]:
    """``({Ultralytics layer: prnet module path}, head path or None)`` for ``model``.

    The backbone is mapped whenever ``model`` sits on a ``prnet_csp_*`` backbone; the neck and head
    only when ``model``'s neck is the source's (PRN with as many layers, or PAN without P2).
    """
    keys = model.state_dict().keys()
    if not any(k.startswith(_BACKBONE + "stem.") for k in keys):
        raise ValueError(
            "the model does not sit on prnet's CSP backbone (no backbone.bottom_up.model.stem): "
            "Ultralytics weights fit prnet_csp_* models only"
        )
    layers = {i: _BACKBONE + name for i, name in BACKBONE_LAYERS.items()}
    neck = model.backbone  # told apart by their modules: prnet.modeling's PRN and PAN
    is_prn = hasattr(neck, "prn_layers") and hasattr(neck, "stage1_fuse2")
    is_pan = hasattr(neck, "td_fuse4") and not getattr(neck, "with_p2", True)
    if source.kind == "prnet" and is_prn:
        if len(neck.prn_layers) != source.num_prn_layers:
            raise ValueError(
                f"the checkpoint has {source.num_prn_layers} PRN layers, the model "
                f"{len(neck.prn_layers)}: set model.backbone.num_prn_layers={source.num_prn_layers}"
            )
        layers.update({i: f"backbone.{n}" for i, n in PRN_STAGE1.items()})
        for k in range(source.num_prn_layers):
            first = PRN_FIRST_LAYER + k * PRN_LAYER_SPAN
            layers.update({first + o: f"backbone.prn_layers.{k}.{n}"
                           for o, n in PRN_LAYER_OFFSETS.items()})  # fmt: skip
        out = PRN_FIRST_LAYER + source.num_prn_layers * PRN_LAYER_SPAN
        layers.update({out + o: f"backbone.{n}" for o, n in PRN_OUTPUT_OFFSETS.items()})
        return layers, "head"
    if source.kind == "yolo11" and is_pan:
        layers.update({i: f"backbone.{n}" for i, n in PAN_LAYERS.items()})
        return layers, "head"
    return layers, None  # the backbone only


def _head_key(rest: str, head: str) -> str | None:
    """``cv2.<l>.<j>.x`` / ``cv3.<l>.<a>.<b>.x`` / ``cv3.<l>.2.x`` -> prnet's head branches."""
    parts = rest.split(".")
    if parts[0] == "cv2" and len(parts) > 3:
        return f"{head}.box_branches.{parts[1]}." + ".".join(parts[2:])
    if parts[0] == "cv3" and len(parts) > 3:
        if parts[2] == "2":
            return f"{head}.cls_branches.{parts[1]}.4." + ".".join(parts[3:])
        if parts[2] in "01" and parts[3] in "01" and len(parts) > 4:
            index = 2 * int(parts[2]) + int(parts[3])
            return f"{head}.cls_branches.{parts[1]}.{index}." + ".".join(parts[4:])
    return None


@dataclass
class ConversionReport:
    """What a conversion did, key by key (prnet names unless said otherwise)."""

    source: SourceArchitecture
    mapped: int = 0
    not_in_model: list[str] = field(default_factory=list)  # Ultralytics keys with no target
    shape_mismatch: list[tuple[str, str, tuple, tuple]] = field(default_factory=list)
    left_at_init: list[str] = field(default_factory=list)  # model keys the file did not fill
    class_count: tuple[int, int] | None = None  # (file nc, model nc) when they differ
    notes: list[str] = field(default_factory=list)

    def summary(self, limit: int = 8) -> str:
        def some(items):
            items = list(items)
            more = f", ... (+{len(items) - limit})" if len(items) > limit else ""
            return ", ".join(map(str, items[:limit])) + more

        def modules(keys):  # "backbone.stage1_fuse4 (18 tensors)": readable for whole necks
            groups = OrderedDict()
            for key in keys:
                parts = key.split(".")
                depth = 4 if key.startswith(_BACKBONE) else 3 if key.startswith("head.") else 2
                group = ".".join(parts[:depth])
                groups[group] = groups.get(group, 0) + 1
            return some(f"{g} ({n})" for g, n in groups.items())

        s = self.source
        lines = [
            f"Ultralytics checkpoint: {s.kind} (scale {s.scale}, {s.stem} stem"
            + (f", {s.num_prn_layers} PRN layers" if s.kind == "prnet" else "")
            + f"): {self.mapped} tensors loaded"
        ]
        if self.class_count:
            lines.append(
                f"  class count differs (file nc={self.class_count[0]}, model "
                f"{self.class_count[1]}): the class branches' layers whose shape depends on it "
                "keep their initialisation"
            )
        if self.shape_mismatch:
            lines.append(f"  shape mismatch ({len(self.shape_mismatch)}, left at initialisation): "
                         + some(f"{d} {tuple(a)} in file vs {tuple(b)} in model"
                                for _, d, a, b in self.shape_mismatch))  # fmt: skip
        if self.left_at_init:
            lines.append(f"  not in the file ({len(self.left_at_init)} tensors, left at "
                         f"initialisation): {modules(self.left_at_init)}")  # fmt: skip
        if self.not_in_model:
            lines.append(f"  not used ({len(self.not_in_model)} tensors): "
                         + modules(self.not_in_model))  # fmt: skip
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def ultralytics_to_prnet(
    model: nn.Module, ckpt: UltralyticsCheckpoint, use_ema: bool = True
) -> tuple[OrderedDict[str, torch.Tensor], ConversionReport]:
    """The checkpoint's tensors under ``model``'s names (see the module docstring).

    Tensors whose shape differs from the model's (another scale, another class count) are left
    out and listed in the report; so are model keys the file does not fill (the neck and head when
    only a backbone maps). ``use_ema``: the ``ema`` entry when present, else ``model``.
    """
    source = describe_source(ckpt)
    weights = ckpt.weights if use_ema else (ckpt.model or ckpt.weights)
    layers, head = layer_map(model, source)
    target = model.state_dict()
    report = ConversionReport(source)
    stem = "essamp" if _BACKBONE + "stem.dw.weight" in target else "conv"
    if stem != source.stem:
        report.notes.append(
            f"the stems differ (file: {source.stem}, model: {stem}): layers 0-1 stay at their "
            f"initialisation; set model.backbone.bottom_up.stem={source.stem} to load them"
        )
    out = OrderedDict()
    for key, value in weights.items():
        _, index, rest = key.split(".", 2)
        index = int(index)
        if index == source.detect and rest.startswith("dfl."):
            bins = torch.arange(value.numel(), dtype=value.dtype).view_as(value)
            if not torch.equal(value, bins):
                raise ValueError(
                    f"{ckpt.path}: {key} is not the fixed DFL bins 0..{value.numel() - 1}"
                )
            continue
        if index == source.detect:
            name = _head_key(rest, head) if head else None
        elif index in layers:
            for old, new in ESSAMP_KEYS.items():
                rest = rest.replace(old, new)
            name = f"{layers[index]}.{rest}"
        else:
            name = None
        if name is None or name not in target:
            report.not_in_model.append(key)
            continue
        if tuple(value.shape) != tuple(target[name].shape):
            report.shape_mismatch.append((key, name, tuple(value.shape), tuple(target[name].shape)))
            continue
        out[name] = value.to(target[name].dtype)
    report.mapped = len(out)
    report.left_at_init = [k for k in target if k not in out]
    num_classes = getattr(model, "num_classes", None)
    if head and ckpt.nc is not None and num_classes is not None and ckpt.nc != num_classes:
        report.class_count = (ckpt.nc, num_classes)
    return out, report
