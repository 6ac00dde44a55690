"""Compare the outputs of an exported graph with eager PyTorch (:func:`verify_export`'s check).

Raw outputs (no NMS) are compared element-wise. NMS outputs cannot be compared rank by rank: when
two scores are tied up to the float noise between backends, ONNX Runtime and PyTorch may list them
in either order, NMS may then keep the other one of two overlapping boxes, and a different tail
may survive the ``max_det`` or score-threshold cut. A correct export failed such a check in
``make demo``. So :func:`compare_outputs` matches the detections of each image one-to-one as sets
(same class, box IoU >= ``match_iou``, scores within ``atol``), and accepts an unmatched detection
only if a near tie explains it (:func:`_explained`); anything else is an :class:`ExportMismatch`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torchvision.ops import box_iou

__all__ = ["ExportMismatch", "compare_outputs", "match_one_to_one"]


class ExportMismatch(AssertionError):
    """The exported graph's outputs differ from eager PyTorch beyond numerical noise."""


@dataclass
class _Dets:
    """The detections of one image (float64, CPU); ``full``: the list holds ``max_det``."""

    boxes: torch.Tensor
    scores: torch.Tensor
    classes: torch.Tensor
    full: bool

    def __len__(self) -> int:
        return len(self.scores)


def _detections(out: dict, i: int, max_det: int | None) -> _Dets:
    k = int(out["num_detections"][i])
    d = out["scores"].shape[1] if max_det is None else max_det
    boxes, scores, classes = (out[n][i, :k].detach().cpu() for n in ("boxes", "scores", "classes"))
    return _Dets(boxes.double(), scores.double(), classes.long(), k >= d)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    """Row-wise equal coordinates: a match test for boxes clipped to zero area (no IoU)."""
    return ((a - b).abs() <= atol + rtol * b.abs()).all(-1)


def _match(e: _Dets, g: _Dets, iou: torch.Tensor, atol: float, match_iou: float, rtol: float,
           score_atol: float | None = None):  # fmt: skip
    """Greedy one-to-one matching, best IoU first; returns the matched masks of ``e`` and ``g``.
    Pairs need the same class, scores within ``score_atol`` (default ``atol``) and IoU >=
    ``match_iou`` or coordinates within ``atol`` / ``rtol``."""
    score_atol = atol if score_atol is None else score_atol
    same = e.classes[:, None] == g.classes[None]
    a, b = (same & ((e.scores[:, None] - g.scores[None]).abs() <= score_atol)).nonzero().unbind(1)
    ok = (iou[a, b] >= match_iou) | _close(e.boxes[a], g.boxes[b], rtol, atol)
    a, b = a[ok], b[ok]
    me, mg = torch.zeros(len(e), dtype=torch.bool), torch.zeros(len(g), dtype=torch.bool)
    for k in iou[a, b].argsort(descending=True).tolist():
        if not (me[a[k]] or mg[b[k]]):
            me[a[k]] = mg[b[k]] = True
    return me, mg


def _explained(x: _Dets, y: _Dets, iou, y_matched, y_valid, score_thresh, nms_thresh, atol, margin):
    """Which detections of ``x``, if missing from ``y``, a near tie explains (``iou``: x by y):

    * a cut: a score within ``atol`` of ``score_thresh`` (or of the top-k candidates' last score),
      or, when ``y`` is full, not above ``y``'s lowest score + ``atol`` (``y`` then holds an
      unmatched detection in its place, which is checked in turn, so this hides nothing);
    * an NMS flip: ``y`` keeps a same-class detection overlapping it above ``nms_thresh`` (less
      ``margin``: IoUs differ a little between backends) with a score not lower by more than
      ``atol``, so it could have suppressed it. That detection must be unmatched itself (kept by
      the flip or its chain of consequences) unless the IoU is within ``margin`` of the threshold:
      a detection both sides keep would have suppressed it on both sides.
    """
    ok = torch.zeros(len(x), dtype=torch.bool)
    if score_thresh is not None:
        ok |= x.scores <= score_thresh + atol
    if len(y) == 0:
        return ok
    if y.full:
        ok |= x.scores <= y.scores.min() + atol
    if nms_thresh is not None:
        could = (x.classes[:, None] == y.classes[None]) & (iou >= nms_thresh - margin)
        could &= y.scores[None] >= x.scores[:, None] - atol
        could &= y_valid[None] & (~y_matched[None] | (iou <= nms_thresh + margin))
        ok |= could.any(1)
    return ok


def match_one_to_one(a: dict, b: dict, match_iou: float = 0.99) -> tuple[torch.Tensor, torch.Tensor]:
    """Two detection sets (``boxes`` (N, 4), ``scores``, ``classes``) matched one-to-one by class
    and IoU >= ``match_iou``, best overlaps first, whatever their scores: the matched masks."""
    da, db = (_Dets(d["boxes"].double(), d["scores"].double(), d["classes"].long(), False)
              for d in (a, b))  # fmt: skip
    iou = box_iou(da.boxes, db.boxes).nan_to_num(0)
    return _match(da, db, iou, atol=0.0, match_iou=match_iou, rtol=0.0, score_atol=float("inf"))


def _is_candidate(g: _Dets, rows, boxes, scores, atol: float, match_iou: float, rtol: float):
    """Which ``rows`` of ``g`` are (point, class) candidates of the eager raw graph (``boxes
    (A, 4)`` clipped, ``scores (A, C)``): a box moved off its candidate must not pass as a flip."""
    found = torch.zeros(len(g), dtype=torch.bool)
    for j in rows.nonzero().flatten().tolist():
        if not 0 <= g.classes[j] < scores.shape[1]:
            continue
        near = boxes[(scores[:, g.classes[j]] - g.scores[j]).abs() <= atol]
        box = g.boxes[j : j + 1]
        ok = (box_iou(box, near)[0].nan_to_num(0) >= match_iou) | _close(box, near, rtol, atol)
        found[j] = bool(ok.any())
    return found


def _describe(d: _Dets, mask: torch.Tensor, show: int) -> list[str]:
    idx = mask.nonzero().flatten().tolist()
    lines = [
        f"class {int(d.classes[j])}, score {float(d.scores[j]):.6f}, box "
        f"({', '.join(f'{v:.2f}' for v in d.boxes[j].tolist())})"
        for j in idx[:show]
    ]
    return lines + ([f"... and {len(idx) - show} more"] if len(idx) > show else [])


def compare_outputs(
    expected: dict[str, torch.Tensor],
    got: dict[str, torch.Tensor],
    *,
    score_thresh: float | Sequence[float] | torch.Tensor | None = None,
    nms_thresh: float | None = None,
    max_det: int | None = None,
    candidates: dict[str, torch.Tensor] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    match_iou: float = 0.99,
    nms_margin: float = 0.02,
    show: int = 5,
) -> None:
    """Raise :class:`ExportMismatch` (an ``AssertionError``) if ``got`` differs from ``expected``.

    Both are output dicts of :mod:`prnet.export.graph`. Raw outputs: boxes within ``rtol`` and
    ``atol``, scores within ``atol``. NMS outputs: per image, as sets (see the module doc and
    :func:`_explained`); pass the graph's ``score_thresh``, ``nms_thresh`` and ``max_det``
    (default: the padded width) to allow for near ties at each of them (``None``: no allowance);
    ``score_thresh`` may be per image (the graph's top-k candidates end at a score of their own).
    ``candidates``: the eager raw outputs (``boxes (N, A, 4)`` clipped to the image, ``scores
    (N, A, C)``); with them an unmatched exported detection must also be one of these candidates.
    """
    if "num_detections" not in expected:
        for name, r in (("scores", 0.0), ("boxes", rtol)):
            try:
                torch.testing.assert_close(got[name], expected[name], rtol=r, atol=atol)
            except AssertionError as err:
                raise ExportMismatch(f"raw {name} differ from eager PyTorch: {err}") from None
        return
    problems, n = [], len(expected["num_detections"])
    cuts = [None] * n
    if score_thresh is not None:
        cuts = torch.as_tensor(score_thresh, dtype=torch.float64).cpu().expand(n).tolist()
    for i in range(n):
        e, g = _detections(expected, i, max_det), _detections(got, i, max_det)
        iou = box_iou(e.boxes, g.boxes).nan_to_num(0)
        me, mg = _match(e, g, iou, atol, match_iou, rtol)
        e_valid = torch.ones(len(e), dtype=torch.bool)
        g_valid = torch.ones(len(g), dtype=torch.bool)
        if candidates is not None:
            boxes, scores = (candidates[k][i].detach().cpu().double() for k in ("boxes", "scores"))
            g_valid = mg | _is_candidate(g, ~mg, boxes, scores, atol, match_iou, rtol)
        args = (cuts[i], nms_thresh, atol, nms_margin)
        bad_e = ~me & ~_explained(e, g, iou, mg, g_valid, *args)
        bad_g = ~mg & ~(g_valid & _explained(g, e, iou.T, me, e_valid, *args))
        if bad_e.any() or bad_g.any():
            problems += [
                f"image {i}: {int(me.sum())} of {len(e)} eager and {int(mg.sum())} of {len(g)} "
                "exported detections matched; unexplained:",
                *(f"  eager only:    {s}" for s in _describe(e, bad_e, show)),
                *(f"  exported only: {s}" for s in _describe(g, bad_g, show)),
            ]
    if problems:
        cut = "none" if score_thresh is None else ", ".join(f"{c:.6g}" for c in cuts)
        d = expected["scores"].shape[1] if max_det is None else max_det
        raise ExportMismatch(
            "exported NMS outputs differ from eager PyTorch beyond near ties\n"
            + "\n".join(problems)
            + f"\n(a match: same class, box IoU >= {match_iou}, scores within {atol}; near ties "
            f"allowed at the score cut (per image: {cut}), NMS IoU {nms_thresh} +- {nms_margin} "
            f"and max_det {d})"
        )
