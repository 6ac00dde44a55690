"""Convert an Ultralytics checkpoint (YOLO11 n-x, the PRNet authors' released weights) to prnet.

    python tools/convert_ultralytics.py yolo11s.pt output/yolo11s_pan.pth
    python tools/convert_ultralytics.py prnet_visdrone.pt output/prnet_s.pth
    python tools/convert_ultralytics.py yolo11s.pt output/yolo11s_backbone.pth \\
        --config configs/ablations/conv_stem_s.py model.num_classes=7

The file is read without Ultralytics and without running anything from it
(``prnet.checkpoint.read_ultralytics_checkpoint``). Without ``--config`` the config follows the
file: the authors' PRNet -> ``configs/PRNet/prnet_<scale>.py`` (its number of PRN layers and stem),
YOLO11 -> ``configs/ablations/pan_s.py`` at its scale (prnet's PAN baseline); ``model.num_classes``
follows the file's ``nc`` unless overridden. With a config whose neck differs (e.g. PRN with the
conv stem for a YOLO11 file) only the backbone is converted. The output holds the full model
``state_dict`` plus ``meta`` (class names, config and overrides, source, what was converted) and
``prnet_meta`` (as training writes it: class names, model config, test size), and loads like any
prnet checkpoint (``train.init_checkpoint=...``, ``--weights ...``; ``tools/predict.py --weights
out.pth`` needs no config). Training can also start from the ``.pt`` directly:
``train.init_checkpoint=yolo11s.pt``.
"""
import argparse
import os

from prnet.cli.errors import exits_on_user_error

__all__ = ["convert", "get_parser", "main", "parse_args"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/convert_ultralytics.py",
                                description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])  # fmt: skip
    p.add_argument("input", help="Ultralytics .pt checkpoint")
    p.add_argument("output", help="prnet checkpoint to write (.pth)")
    p.add_argument("--config", help="prnet config (default: chosen from the file, see above)")
    p.add_argument("--use-model", action="store_true",
                   help="convert the 'model' entry even when the file has an EMA ('ema')")
    p.add_argument("opts", nargs="*", help="key=value config overrides")
    return p


def parse_args(argv=None):
    return get_parser().parse_intermixed_args(argv)


def convert(args) -> dict:
    """Convert ``args.input`` to ``args.output``; returns the ``meta`` written with it."""
    import torch

    from prnet.checkpoint import (
        METADATA_KEY,
        describe_source,
        read_ultralytics_checkpoint,
        ultralytics_to_prnet,
    )
    from prnet.engine.checkpoint import atomic_write
    from prnet.modeling.build import build_model
    from prnet.utils.paths import config_dir

    ckpt = read_ultralytics_checkpoint(args.input)
    source = describe_source(ckpt)
    config, overrides = args.config, list(args.opts)
    if config is None:
        rel, derived = source.config()
        config, overrides = os.path.join(config_dir(), rel), derived + overrides
    if ckpt.nc and not any(o.startswith("model.num_classes=") for o in overrides):
        overrides.append(f"model.num_classes={ckpt.nc}")
    model = build_model(config, overrides=overrides)
    state, report = ultralytics_to_prnet(model, ckpt, use_ema=not args.use_model)
    model.load_state_dict(state, strict=False)
    print(report.summary())
    meta = {
        "class_names": [ckpt.names[i] for i in sorted(ckpt.names)],
        "config": os.path.relpath(config),
        "overrides": overrides,
        "source": {
            "path": os.path.abspath(args.input),
            "kind": source.kind,
            "scale": source.scale,
            "stem": source.stem,
            "num_prn_layers": source.num_prn_layers,
            "entry": "model" if args.use_model or ckpt.ema is None else "ema",
            "ultralytics_version": ckpt.version,
        },
        "conversion": {
            "mapped": report.mapped,
            "left_at_init": report.left_at_init,
            "shape_mismatch": [{"key": key, "file": list(a), "model": list(b)}
                               for _, key, a, b in report.shape_mismatch],  # fmt: skip
            "class_count": report.class_count,
        },
    }
    # what prediction reads: the model's config, test size and the file's class names
    own = dict(model.prnet_meta, class_names=meta["class_names"] or None)
    if own["class_names"] and len(own["class_names"]) != own["num_classes"]:
        own["class_names"] = None
    data = {"model": model.state_dict(), "meta": meta, METADATA_KEY: own}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    atomic_write(args.output, lambda f: torch.save(data, f))
    print(f"[convert] wrote {args.output} ({config} {' '.join(overrides)})")
    return meta


@exits_on_user_error  # an unreadable, unsafe or unsupported file: the reason, exit 1
def main(argv=None) -> dict:
    return convert(parse_args(argv))
