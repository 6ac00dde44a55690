"""Training options read by ``tools/lazyconfig_train_net.py`` (Detectron2's ``train`` dict plus
prnet's recipe keys). The schedule is in epochs, as in the paper (docs/recipe.md); they become
iterations once the training set and batch are known (``prnet.solver.resolve_schedule``).
"""

train = dict(
    output_dir="./output/prnet",
    init_checkpoint="",
    seed=0,  # seeds torch/numpy/random (detectron2 seed_all_rng), the sampler and the mapper
    device=None,  # None: "cuda" if available, else "cpu"
    channels_last=None,  # NHWC conv weights; None: on CPU only (faster oneDNN convolutions)
    # schedule in epochs (350 epochs, 3 warm-up, mosaic off for the last 10)
    epochs=350,
    warmup_epochs=3,
    # during warm-up SGD momentum ramps 0.8 -> the optimizer's 0.937 and the bias LR falls from
    # 10x the base LR (the reference's 0.1 for lr0 0.01) onto the schedule; optimizers without
    # momentum and params without the "bias_warmup" group flag (configs/common/optim.py) are
    # left alone
    warmup_momentum=0.8,
    warmup_bias_lr_factor=10.0,
    close_mosaic_epochs=10,
    eval_epochs=10,  # evaluate (and keep the best checkpoint) every N epochs
    images_per_epoch=None,  # None: the number of training images
    # iteration overrides (Detectron2 names); None: derived from the epochs above
    max_iter=None,
    eval_period=None,
    checkpointer=dict(period=None, max_to_keep=3),  # period None: with every evaluation
    # writes model_best.pth; "bbox/..." scores the inference weights (the EMA when enabled),
    # "bbox_raw/..." the raw weights (model_best.pth then holds no EMA)
    best_checkpointer=dict(val_metric="bbox/AP50", mode="max"),
    log_period=20,
    progress_bar=None,  # None: a tqdm bar when stdout is a terminal; True/False force it
    amp=dict(enabled=True, precision="float16"),  # CUDA only; "bfloat16" also accepted
    # clip the gradient's total norm before each step: the reference clips at 10 the gradient of
    # losses summed over a nominal batch of 64 images; prnet's batch-mean gradient is ~1/64 of it
    # (prnet.solver.recipe). None: no clipping
    clip_grad_norm=10.0 / 64,
    # EMA of weights (evaluated and checkpointed; eval_raw: also score the raw weights), the
    # reference's decay 0.9999 ramped over tau 2000 updates; period None: one update per 64 images
    # (the reference's optimizer step). A setting whose average would not follow the run is
    # refused; "auto" derives decay/tau from the number of updates (prnet.solver.resolve_ema)
    ema=dict(enabled=True, decay=0.9999, tau=2000, period=None, eval_raw=True),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    # several processes (--num-gpus N, also on CPU with gloo): BatchNorm statistics over the whole
    # batch of all processes (Detectron2's NaiveSyncBatchNorm); None: on when there are several
    sync_bn=None,
    cudnn_benchmark=False,
    # NaN/Inf loss: "stop" raises naming the iteration and loss terms; "skip" drops that step
    # (counted in the trainer state) and stops once more than max_skipped_steps were dropped
    nan_policy="stop",
    max_skipped_steps=10,
    # scan the training dicts before training (prnet.data.check): a table of clipped/dropped
    # boxes, empty images, crowd boxes; errors for unknown category ids, missing/corrupt images,
    # sizes differing from the records, NaN/Inf boxes. "header": read each image header (fast);
    # "full": decode every image (also finds truncated files; slow); "off": no scan
    data_check="header",
)
