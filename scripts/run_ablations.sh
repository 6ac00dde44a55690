#!/usr/bin/env bash
# The ablation tables of docs/ablations/ (3 seeds, equal head widths, EMA window from the budget).
# Hours of CPU: run it in the background, e.g.
#   nohup nice -n 19 bash scripts/run_ablations.sh > output/ablate/run.log 2>&1 &
# Finished runs (output/ablate/*/<run>/ablation_result.json) are reused, so it can be restarted at
# any time. Order: the rows issue 10 requires first, then the extra recipe rows. The overrides
# ($TAIL) come last and never right after --ultralytics (it takes several names and would eat them).
set -euxo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
COMMON="--train-dataset synthetic_aerial_demo_train --test-dataset synthetic_aerial_val --batch 16 --train-size 128 --optimizer adamw --lr 2e-3 --weight-decay 0.05 --warmup-epochs 1 --seeds 0 1 2 --head-channels 64 32"
TAIL="model.backbone.scale=n dataloader.train.mapper.scale=0.25"
NECKS="configs/PRNet/prnet_s.py configs/ablations/fpn_s.py configs/ablations/pan_essamp_s.py configs/ablations/pan_p2_essamp_s.py"
REQUIRED="configs/ablations/prn_layers_0_s.py configs/ablations/prn_layers_2_s.py configs/ablations/conv_stem_s.py"
EXTRA="configs/ablations/iou_assigner_s.py configs/ablations/no_grad_clip_s.py"
T563="Necks, PRN layers, ESSamp and the recipe fixes at the make-demo budget (scale n, 563 iterations, 3 seeds)"
T225="The four necks at a smaller budget (scale n, 225 iterations, 3 seeds)"
$PY tools/ablate.py --configs $NECKS $REQUIRED $COMMON --epochs 15 --close-mosaic-epochs 2 \
  --ultralytics yolo11n --output-dir output/ablate/synthetic_n_563 --title "$T563" $TAIL
$PY tools/ablate.py --configs $NECKS $COMMON --epochs 6 --close-mosaic-epochs 1 \
  --output-dir output/ablate/synthetic_n_225 --title "$T225" $TAIL
$PY tools/ablate.py --configs $NECKS $REQUIRED $EXTRA $COMMON --epochs 15 --close-mosaic-epochs 2 \
  --ultralytics yolo11n --output-dir output/ablate/synthetic_n_563 --title "$T563" $TAIL
