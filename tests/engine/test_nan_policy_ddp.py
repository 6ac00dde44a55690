"""``train.nan_policy`` under DDP: 2 CPU processes (gloo), a NaN loss on one rank only.

Every rank must take the same decision, or the next all-reduce pairs up different iterations
(or one rank stops while the other waits forever).
"""

from __future__ import annotations

import datetime
import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import HookBase
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from prnet.engine import build_trainer

WORLD = 2
BAD_RANK, BAD_ITER, ITERS = 1, 2, 5


class _NaNOnRank(nn.Module):
    """Loss ``loss_box`` is NaN on forward call ``bad_iter`` when ``bad`` (one rank only)."""

    def __init__(self, bad: bool):
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.bad, self.calls = bad, 0

    def forward(self, batch):
        box = self.lin(batch[0]).pow(2).mean()
        if self.bad and self.calls == BAD_ITER:
            box = box * float("nan")
        self.calls += 1
        return {"loss_cls": self.lin.weight.abs().sum(), "loss_box": box}


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)  # as DataLoader workers do: no OpenMP pool inherited across fork
    # a rank left waiting in a collective fails after 30 s instead of hanging the test run
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=30))
    results = {policy: _train(rank, policy) for policy in ("skip", "stop")}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(results, f)
    dist.destroy_process_group()


def _train(rank, policy):
    torch.manual_seed(0)  # same initial weights; DDP broadcasts rank 0's anyway
    model = DistributedDataParallel(_NaNOnRank(rank == BAD_RANK))
    optim = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.1)

    def loader():  # different data per rank: gradients really are averaged
        while True:
            yield [torch.full((4, 3), rank + 1.0)]

    trainer = build_trainer(model, loader(), optim, nan_policy=policy, max_skipped_steps=3)
    weights, skipped = [], []

    class _Record(HookBase):
        def after_step(self):
            weights.append(model.module.lin.weight.detach().flatten().tolist())
            skipped.append(trainer.skipped_steps)

    trainer.register_hooks([_Record()])
    result = {"rank": rank}
    try:
        trainer.train(0, ITERS)
    except FloatingPointError as e:
        result["error"], result["iter"] = str(e), trainer.iter
    result.update(weights=weights, skipped=skipped, skipped_steps=trainer.skipped_steps)
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both policies, one after the other in the same 2 processes (start-up is the slow part).
    Forked, not spawned: the children reuse the imported detectron2 (seconds saved per rank)."""
    if not dist.is_gloo_available():
        pytest.skip("needs the gloo backend")
    tmp = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(str(tmp / "init"), str(tmp)), nprocs=WORLD,
                       start_method="fork")
    ranks = [json.loads((tmp / f"rank{r}.json").read_text()) for r in range(WORLD)]
    return {policy: [r[policy] for r in ranks] for policy in ("skip", "stop")}


def test_skip_is_taken_by_every_rank(runs):
    good, bad = runs["skip"]
    assert good["skipped_steps"] == bad["skipped_steps"] == 1
    # the count moves at the same iteration on both ranks
    assert good["skipped"] == bad["skipped"] == [0, 0, 1, 1, 1]
    assert good["weights"] == bad["weights"]  # bitwise: same steps taken, same gradients
    w = [torch.tensor(x) for x in good["weights"]]
    torch.testing.assert_close(w[BAD_ITER], w[BAD_ITER - 1])  # the skipped step
    assert not torch.equal(w[BAD_ITER + 1], w[BAD_ITER])  # training went on
    assert all(torch.isfinite(x).all() for x in w)


def test_stop_raises_on_every_rank(runs):
    good, bad = runs["stop"]
    assert good["iter"] == bad["iter"] == BAD_ITER
    assert f"iteration {BAD_ITER}: non-finite loss_box (" in bad["error"]
    assert f"iteration {BAD_ITER}: non-finite loss on another rank (" in good["error"]
    assert good["weights"] == bad["weights"] and len(good["weights"]) == BAD_ITER
