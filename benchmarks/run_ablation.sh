#!/usr/bin/env bash
# The whole ablation, resumable: tau selection, every cell, the AutoAttack subset, then the tables.
# Two workers with one torch thread each (this machine has 2 cores); re-running continues where it stopped.
#   bash benchmarks/run_ablation.sh                                  # pairs split, every row
#   SPLIT=fill ROWS=anchor-at,laat bash benchmarks/run_ablation.sh   # the fill split, the paper's comparison
# AA_PER_CLASS (default 2) novel images per class get AutoAttack.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
AA_PER_CLASS=${AA_PER_CLASS:-2}
COMMON=(--split "${SPLIT:-pairs}")
if [[ -n "${ROWS:-}" ]]; then COMMON+=(--rows "$ROWS"); fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for phase in "--select" "" "--autoattack $AA_PER_CLASS"; do
    # shellcheck disable=SC2086
    $PY benchmarks/ablation.py "${COMMON[@]}" $phase --worker 0/2 &
    # shellcheck disable=SC2086
    $PY benchmarks/ablation.py "${COMMON[@]}" $phase --worker 1/2
    wait
done
$PY benchmarks/ablation.py --split "${SPLIT:-pairs}" --combine
