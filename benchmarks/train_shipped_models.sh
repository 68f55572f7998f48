#!/usr/bin/env bash
# Train the shipped models: same backbone, data (200 images per base class), anchors (MiniLM,
# "a photo of a {}."), optimiser and epochs; only the method differs. tau and beta were chosen on
# base-class validation data (benchmarks/select_hyperparameters.py, see BENCHMARKS.md).
#   bash benchmarks/train_shipped_models.sh            # runs the three trainings two at a time
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-16}
BACKBONE=${BACKBONE:-conv4-wide}
TAU=${TAU:-0.2}
BETA=${BETA:-4}
COMMON="--backbone $BACKBONE --epochs $EPOCHS --tau $TAU --n-per-class 200 --steps 3 --seed 0"
mkdir -p assets/models runs/logs
export OMP_NUM_THREADS=1
$PY -m laat_core.cli train --method laat --beta "$BETA" $COMMON --out assets/models/shapes-laat.safetensors \
    > runs/logs/laat.log 2>&1 &
$PY -m laat_core.cli train --method anchor-at $COMMON --out assets/models/shapes-anchor-at.safetensors \
    > runs/logs/anchor-at.log 2>&1 &
wait
OMP_NUM_THREADS=2 $PY -m laat_core.cli train --method standard $COMMON --out assets/models/shapes-standard.safetensors \
    > runs/logs/standard.log 2>&1
tail -n 2 runs/logs/*.log
