"""Export verification of NMS outputs (prnet.export.compare): near ties between backends (swapped
order, NMS keeping the other of two overlapping boxes, a different tail at a cut) pass; real
differences (moved box, missing detection, wrong class, wrong score) fail with a readable message.
"""
import pytest
import torch

from prnet.export import ExportMismatch, compare_outputs, exporter
from prnet.export.graph import NMS_OUTPUTS, DeployableDetector, nms_in_graph

RULES = dict(score_thresh=0.05, nms_thresh=0.7)

# (class, score, box); P, Q, R: one class, IoU(P, Q) = IoU(P, R) = 0.82, IoU(Q, R) = 0.67
A = (0, 0.9, (10, 60, 50, 100))
B = (1, 0.8, (60, 10, 100, 40))
C = (0, 0.6, (10, 110, 30, 130))
D = (2, 0.4, (70, 70, 90, 95))
P = (0, 0.7000010, (10, 10, 50, 50))
Q = (0, 0.7, (14, 10, 54, 50))
R = (0, 0.6, (6, 10, 46, 50))
A_DUP = (0, 0.85, (14, 60, 54, 100))  # IoU(A, A_DUP) = 0.82


def nms_outputs(*images, max_det=4):
    """The NMS graph's output dict for per-image lists of detections, padded like the graph."""
    n = len(images)
    out = {
        "boxes": torch.zeros(n, max_det, 4),
        "scores": torch.zeros(n, max_det),
        "classes": torch.full((n, max_det), -1),
        "num_detections": torch.tensor([len(dets) for dets in images]),
    }
    for i, dets in enumerate(images):
        for j, (cls, score, box) in enumerate(dets):
            out["boxes"][i, j] = torch.tensor(box)
            out["scores"][i, j], out["classes"][i, j] = score, cls
    return out


def candidates_of(*dets, num_classes=3):
    """Raw eager outputs (one image) holding exactly ``dets`` as (point, class) candidates."""
    scores = torch.zeros(1, len(dets), num_classes)
    for a, (cls, score, _) in enumerate(dets):
        scores[0, a, cls] = score
    return {"boxes": torch.tensor([[box for _, _, box in dets]]).float(), "scores": scores}


def test_swapped_near_ties_pass():
    # eager scores S 0.500001 and T 0.5, the export the other way round
    s, t = (1, 0.5000010, (20, 20, 30, 30)), (2, 0.5, (40, 20, 52, 33))
    expected = nms_outputs([A, B, s, t])
    got = nms_outputs([A, B, (t[0], s[1], t[2]), (s[0], t[1], s[2])])
    assert not torch.allclose(got["boxes"], expected["boxes"])  # rank by rank, they differ
    compare_outputs(expected, got, **RULES, max_det=4)


def test_nms_tie_flip_and_its_consequences_pass():
    # eager ranks P first: P suppresses Q and R; the export ranks Q first: Q keeps R alive, and in
    # a full list (max_det 3) R pushes D out
    expected = nms_outputs([B, P, D], max_det=3)
    got = nms_outputs([B, Q, R], max_det=3)
    compare_outputs(expected, got, **RULES, candidates=candidates_of(P, Q, R, B, D))
    # not full: D is not cut, so its absence is a real difference
    with pytest.raises(ExportMismatch, match="eager only: +class 2, score 0.400000"):
        compare_outputs(nms_outputs([B, P, D]), nms_outputs([B, Q, R]), **RULES)


def test_tails_at_the_cuts_pass():
    # full lists: the last places went to near-tied detections the other side cut
    x, y = (2, 0.3, (70, 10, 80, 20)), (1, 0.2999995, (90, 90, 99, 99))
    compare_outputs(nms_outputs([A, B, C, x]), nms_outputs([A, B, C, y]), **RULES)
    # a detection a hair above the score threshold, or the top-k cut (per image)
    z, z2 = (1, 0.0500005, (90, 90, 99, 99)), (1, 0.3000005, (90, 90, 99, 99))
    compare_outputs(nms_outputs([A, B, z]), nms_outputs([A, B]), **RULES)
    compare_outputs(nms_outputs([A], [A, z2]), nms_outputs([A], [A]), score_thresh=[0.05, 0.3])
    with pytest.raises(ExportMismatch, match="image 0"):
        compare_outputs(nms_outputs([A, z2], [A]), nms_outputs([A], [A]), score_thresh=[0.05, 0.3])


def test_iou_at_the_nms_threshold_passes():
    # IoU(A, A2) = 0.702: eager NMS suppresses A2, a backend computing 0.699 keeps it
    a2 = (0, 0.85, (17, 60, 57, 100))
    candidates = candidates_of(A, B, a2)
    compare_outputs(nms_outputs([A, B]), nms_outputs([A, a2, B]), **RULES, candidates=candidates)


def _random_scene(g, n=2, points=150, num_classes=2, size=60):
    ctr = torch.rand(n, points, 2, generator=g) * size
    wh = 5 + torch.rand(n, points, 2, generator=g) * 20
    scores = (torch.rand(n, points, num_classes, generator=g) * 20).round() / 20  # many ties
    return torch.cat((ctr - wh / 2, ctr + wh / 2), -1).clamp(0, size), scores


@pytest.mark.parametrize("max_det, topk", [(10, 3000), (200, 3000), (200, 30)])
def test_backend_noise_never_mismatches(max_det, topk):
    """The graph's NMS on raw outputs with float noise (as another backend computes them), on
    scenes full of ties: rank by rank it differs, as sets it always passes."""
    g = torch.Generator().manual_seed(max_det + topk)

    def nms(boxes, scores):
        return dict(zip(NMS_OUTPUTS, nms_in_graph(boxes, scores, 60, 60, 0.05, 0.7, topk, max_det)))

    for _ in range(20):
        boxes, scores = _random_scene(g)
        expected = nms(boxes, scores)
        noise = [torch.randn(x.shape, generator=g) for x in (boxes, scores)]
        got = nms(boxes + 1e-4 * noise[0], scores + 1e-6 * noise[1])
        assert not torch.equal(got["boxes"], expected["boxes"])
        padded = torch.cat((scores.flatten(1), torch.zeros(2, topk)), 1)
        cut = padded.topk(topk).values[:, -1].clamp(min=0.05)  # as verify_export passes it
        candidates = {"boxes": boxes, "scores": scores}
        compare_outputs(
            expected, got, score_thresh=cut, nms_thresh=0.7, max_det=max_det, candidates=candidates
        )


def test_raw_outputs_compare_elementwise():
    expected = {"boxes": torch.rand(2, 50, 4) * 100, "scores": torch.rand(2, 50, 3)}
    compare_outputs(expected, {k: v + 1e-5 for k, v in expected.items()})
    with pytest.raises(ExportMismatch, match="raw scores"):
        compare_outputs(expected, {**expected, "scores": expected["scores"] + 1e-3})


def _moved(det, dx):
    cls, score, (x1, y1, x2, y2) = det
    return cls, score, (x1 + dx, y1, x2 + dx, y2)


@pytest.mark.parametrize(
    "got, candidates",
    [
        ([A, B, _moved(C, 5), D], None),  # a small box: IoU 0.6 with where it was
        ([_moved(A, 4), B, C, D], candidates_of(A, B, C, D)),  # IoU 0.82: no candidate there
        ([A, A_DUP, B, C], candidates_of(A, B, C, D, A_DUP)),  # NMS left a duplicate of A
        ([B, C, D], None),  # missing top detection
        ([B, C, D, (2, 0.1, (0, 0, 5, 5))], None),  # missing top detection, full list
        ([(1, *A[1:]), B, C, D], None),  # wrong class
        ([(0, 0.9002, A[2]), B, C, D], None),  # score off by 2e-4
    ],
    ids=["moved", "moved-large", "not-suppressed", "missing", "missing-full", "class", "score"],
)
def test_real_differences_fail(got, candidates):
    if candidates is not None:  # the same for both images
        candidates = {k: v.repeat(2, 1, 1) for k, v in candidates.items()}
    expected = nms_outputs([A, B, C, D], [A, B, C, D])
    with pytest.raises(ExportMismatch, match=r"image 1: \d of 4 eager and \d of \d exported"):
        compare_outputs(expected, nms_outputs([A, B, C, D], got), **RULES, candidates=candidates)


def test_mismatch_message_lists_both_sides():
    with pytest.raises(ExportMismatch) as err:
        compare_outputs(nms_outputs([A, B, C]), nms_outputs([A, (2, *B[1:]), C]), **RULES)
    assert str(err.value).splitlines()[1:4] == [
        "image 0: 2 of 3 eager and 2 of 3 exported detections matched; unexplained:",
        "  eager only:    class 1, score 0.800000, box (60.00, 10.00, 100.00, 40.00)",
        "  exported only: class 2, score 0.800000, box (60.00, 10.00, 100.00, 40.00)",
    ]


def _fake_exported(wrapper, edit):
    """A stand-in for load_exported: runs the eager wrapper and ``edit``s its outputs, as
    another backend resolving near ties the other way would."""

    def load_exported(path, device=None, **kwargs):
        def run(images):
            with torch.no_grad():
                return edit(images, dict(zip(NMS_OUTPUTS, wrapper(images))))

        return run

    return load_exported


@pytest.fixture(scope="module")
def near_ties(prnet_model, sample_images):
    """Images and, in image 1, the rank ``j >= 10`` whose score is closest to the next (< 1e-4)."""
    images = sample_images(2, 96, seed=0).float()
    with torch.no_grad():
        _, scores, _, num = DeployableDetector(prnet_model, True, max_det=200)(images)
    k = int(num.min())
    j = int(scores[1, 10:k].diff().argmax()) + 10  # diff() <= 0: the smallest gap
    assert scores[1, j] - scores[1, j + 1] < 1e-4 and j + 2 <= k
    return images, j


def test_verify_export_accepts_near_ties(prnet_model, near_ties, monkeypatch):
    """Regression: verify_export compared NMS outputs rank by rank and failed correct exports.
    Image 0: the closest-scored adjacent pair in the other order; image 1 (a full list): the last
    place goes to the near-tied next detection. Fails on the rank-by-rank check."""
    images, j = near_ties
    wrapper = DeployableDetector(prnet_model, True, max_det=j + 1).eval()
    longer = DeployableDetector(prnet_model, True, max_det=j + 2).eval()

    def edit(images, out):
        k = int(out["scores"][0, : j + 1].diff().abs().argmin())
        assert not torch.equal(out["boxes"][0, k], out["boxes"][0, k + 1])
        for name, v in zip(("boxes", "scores", "classes"), longer(images)):
            out[name][0, [k, k + 1]] = out[name][0, [k + 1, k]]
            out[name][1, j] = v[1, j + 1]
        assert (out["num_detections"] == j + 1).all()
        return out

    monkeypatch.setattr(exporter, "load_exported", _fake_exported(wrapper, edit))
    exporter.verify_export("prnet_n.onnx", wrapper, images)


def test_verify_export_rejects_a_moved_box(prnet_model, near_ties, monkeypatch):
    images, j = near_ties
    wrapper = DeployableDetector(prnet_model, True, max_det=j + 1).eval()

    def edit(images, out):
        out["boxes"][1, 3, 0::2] += 3.0
        return out

    monkeypatch.setattr(exporter, "load_exported", _fake_exported(wrapper, edit))
    with pytest.raises(ExportMismatch, match="image 1: .*\n  eager only: .*\n  exported only:"):
        exporter.verify_export("prnet_n.onnx", wrapper, images)
