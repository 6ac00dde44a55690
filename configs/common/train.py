"""Training options read by ``tools/lazyconfig_train_net.py`` (Detectron2's ``train`` dict plus
prnet's recipe keys). The schedule is in epochs, as in the paper (PRNET.md Sec. 4); they become
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
    close_mosaic_epochs=10,
    eval_epochs=10,  # evaluate (and keep the best checkpoint) every N epochs
    images_per_epoch=None,  # None: the number of training images
    # iteration overrides (Detectron2 names); None: derived from the epochs above
    max_iter=None,
    eval_period=None,
    checkpointer=dict(period=None, max_to_keep=3),  # period None: with every evaluation
    best_checkpointer=dict(val_metric="bbox/AP50", mode="max"),  # writes model_best.pth
    log_period=20,
    progress_bar=None,  # None: a tqdm bar when stdout is a terminal; True/False force it
    amp=dict(enabled=True, precision="float16"),  # CUDA only; "bfloat16" also accepted
    # EMA of weights (evaluated and checkpointed); period None: one update per 64 images
    ema=dict(enabled=True, decay=0.9999, tau=2000, period=None),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
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
