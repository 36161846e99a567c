#!/usr/bin/env bash
# Reproduces docs/RESULTS.md's distillation table: the bundled pretrained BERT (../shared/models/bert-mlm-tiny,
# 2 layers) fine-tuned fully on the first 20,000 SST-2 training rows as the teacher, then distilled into a
# 1-layer student made of its layer 0 (every other layer, DistilBERT's initialisation), 3 seeds; evaluated on
# SST-2 dev. Prints the table; run folders go to ${OUT:-runs/distill-sst2}.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/distill-sst2}
GLUE=../shared/glue/SST-2
mkdir -p "$OUT"
head -n 20001 "$GLUE/train.tsv" > "$OUT/train-20k.tsv"
common=(--train "$OUT/train-20k.tsv" --eval "$GLUE/dev.tsv" --runs-dir "$OUT" --max-length 64 --per-device-train-batch-size 64 --num-train-epochs 1 --eval-strategy epoch --save-steps 0 --lr-scheduler-type linear --warmup-ratio 0.06)
if [ ! -f "$OUT/teacher/distill-teacher.done" ]; then
  npx peft-studio train --model ../shared/models/bert-mlm-tiny --method full --learning-rate 2e-4 --seed 0 --out "$OUT/teacher" "${common[@]}"
  touch "$OUT/teacher/distill-teacher.done"
fi
for seed in 0 1 2; do
  if [ ! -f "$OUT/student-$seed/distill.json" ]; then
    npx peft-studio distill --teacher "$OUT/teacher" --student-layers 1 --method full --learning-rate 2e-4 --seed "$seed" \
      --temperature 2 --alpha-kd 0.5 --alpha-task 0.5 --out "$OUT/student-$seed" "${common[@]}"
  fi
  if [ ! -f "$OUT/direct-$seed/done" ]; then
    # The same 1-layer model trained on the labels alone: what distillation adds.
    npx peft-studio train --model "$(node -e "console.log(JSON.parse(require('fs').readFileSync('$OUT/student-$seed/config.json','utf8')).model)")" \
      --method full --learning-rate 2e-4 --seed "$seed" --out "$OUT/direct-$seed" "${common[@]}"
    touch "$OUT/direct-$seed/done"
  fi
done
node scripts/results/distill-table.mjs "$OUT"
