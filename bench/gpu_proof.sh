#!/usr/bin/env bash
# GPU proof in one call (issue 18): memory under the T4 cap, the memory predictor, speed vs SimpleTuner, the
# gpu-marked tests. Results go to $OUT (the device tool's folder) or bench/out: log.txt, rows.jsonl (one line
# per finished row, written as it goes), pytest.txt, results.json, results.md.
#
#   bash bench/gpu_proof.sh                    # on the GPU machine (python3 = its torch), stops within --budget s
#   bash bench/gpu_proof.sh --tiny             # the same steps end to end on the CPU, tiny shapes
#   bash bench/gpu_proof.sh --only flux-16GB-fp16   # some rows only (comma-separated names), e.g. a second call
#   bash bench/gpu_proof.sh --download-wheels  # here (with a network): the wheels the GPU machine lacks
#
# PYTHON picks the interpreter (default python3).
set -u -o pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TINY=""
ONLY=""
BUDGET=480   # seconds for everything; checked between rows, each row also under `timeout`
TEST_RESERVE=110   # seconds kept for pytest -m gpu and the report
WHEELS=bench/wheels
WHEELS_BNB=bench/wheels-bnb   # bitsandbytes alone, when it does not fit beside the rest (a second call)
LIMIT=$((64 * 1024 * 1024))   # what travels to the GPU machine: the working tree plus carried paths

download_wheels() {
    local specs=() name v
    for name in diffusers bitsandbytes importlib-metadata tomli-w; do
        v=$(grep -m1 -i "^${name}==" requirements/lock.txt | sed 's/ .*//')
        [ -n "$v" ] || { echo "no $name in requirements/lock.txt"; return 1; }
        specs+=("$v")
    done
    rm -rf "$WHEELS" "$WHEELS_BNB"
    mkdir -p "$WHEELS"
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_24_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 -d "$WHEELS" "${specs[@]}" || return 1
    ls -l "$WHEELS"
    local tree wheels total
    tree=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
    wheels=$(du -cb "$WHEELS"/*.whl | tail -1 | cut -f1)
    total=$((tree + wheels))
    awk -v t="$tree" -v w="$wheels" 'BEGIN { m = 1048576; printf "working tree %.1f MiB + wheels %.1f MiB = %.1f MiB of the 64 MiB limit\n", t / m, w / m, (t + w) / m }'
    if ((total > LIMIT)); then
        mkdir -p "$WHEELS_BNB" && mv "$WHEELS"/bitsandbytes-*.whl "$WHEELS_BNB"/
        echo "over the limit: bitsandbytes moved to $WHEELS_BNB; first call carry [\"$WHEELS\"] (its NF4 rows are"
        echo "skipped), then a second call carry [\"$WHEELS_BNB\"] with --only flux-16GB-fp16 (see bench/README.md)"
    else
        echo "fits: one call with carry [\"$WHEELS\"]"
    fi
}

while (($#)); do
    case "$1" in
        --tiny) TINY="--tiny" ;;
        --only) ONLY="$2"; shift ;;
        --budget) BUDGET="$2"; shift ;;
        --download-wheels) download_wheels; exit $? ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
    shift
done

START=$SECONDS
OUTDIR=${OUT:-bench/out}
mkdir -p "$OUTDIR"
rm -f "$OUTDIR/rows.jsonl" "$OUTDIR/pytest.txt" "$OUTDIR/results.json" "$OUTDIR/results.md"
exec > >(tee -a "$OUTDIR/log.txt") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ -n "$TINY" ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "gpu_proof $(date -u +%FT%TZ) ${TINY:-gpu} budget ${BUDGET}s, output in $OUTDIR, python $("$PY" -V 2>&1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# (a) what the GPU machine lacks, from the carried wheels (nothing when all is importable)
missing=()
for mod in diffusers:diffusers bitsandbytes:bitsandbytes tomli_w:tomli-w importlib_metadata:importlib-metadata; do
    "$PY" -c "import ${mod%%:*}" 2>/dev/null || missing+=("${mod#*:}")
done
if ((${#missing[@]})); then
    links=()
    for d in "$WHEELS" "$WHEELS_BNB"; do [ -d "$d" ] && links+=(--find-links "$d"); done
    have=()
    for p in "${missing[@]}"; do
        ls "$WHEELS"/"${p//-/_}"-*.whl "$WHEELS_BNB"/"${p//-/_}"-*.whl >/dev/null 2>&1 && have+=("$p")
    done
    echo "installing ${have[*]:-nothing} (missing: ${missing[*]})"
    if ((${#have[@]})); then
        "$PY" -m pip install -q --no-index --no-cache-dir "${links[@]}" "${have[@]}" || {
            echo "pip install failed; retrying without dependencies into /tmp/site"
            whls=()
            for p in "${have[@]}"; do whls+=($(ls "$WHEELS"/"${p//-/_}"-*.whl "$WHEELS_BNB"/"${p//-/_}"-*.whl 2>/dev/null)); done
            "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --target /tmp/site "${whls[@]}" &&
                export PYTHONPATH="$PYTHONPATH:/tmp/site"
        }
    fi
    "$PY" -c "import diffusers" || { echo "diffusers is not importable: carry $WHEELS (run --download-wheels)"; exit 1; }
else
    echo "installing nothing: diffusers, bitsandbytes, tomli_w and importlib_metadata import"
fi

report() { timeout -k 5 60 "$PY" bench/gpu_proof.py report --out "$OUTDIR" $TINY; }

# (b) the rows, most important first: name family tier timed-steps timeout-seconds
ROWS=(
    "sdxl-16GB-fp16 sdxl 16GB 3 150"   # the T4 promises: SDXL 1024 and Flux-dev 512 NF4 under 15 GB, fp16
    "flux-16GB-fp16 flux 16GB 3 210"
    "sd15-16GB-fp16 sd15 16GB 3 90"
    "REPORT"                           # the predictor against the peaks so far (also rewritten at the end)
    "sd15-24GB-bf16 sd15 24GB 10 90"   # speed, bf16, no checkpointing: SimpleTuner's H100 0.18 / 0.61 s/step
    "sdxl-24GB-bf16 sdxl 24GB 10 120"
    "sdxl-12GB-bf16 sdxl 12GB 3 120"   # where time allows: the other presets
    "flux-12GB-bf16 flux 12GB 3 180"
    "flux-24GB-bf16 flux 24GB 3 180"
    "sd15-12GB-bf16 sd15 12GB 3 90"
)
for spec in "${ROWS[@]}"; do
    read -r name family tier steps limit <<<"$spec"
    if [ "$name" = REPORT ]; then [ -z "$ONLY" ] && report; continue; fi
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
    left=$((BUDGET - TEST_RESERVE - (SECONDS - START)))
    if ((left < 45)); then
        echo "=== skip $name: $((SECONDS - START))s of the ${BUDGET}s budget used"
        echo "{\"name\": \"$name\", \"family\": \"$family\", \"tier\": \"$tier\", \"status\": \"skipped\", \"verdict\": \"out of time\"}" >>"$OUTDIR/rows.jsonl"
        continue
    fi
    t=$((limit < left ? limit : left))
    echo "=== row $name (timeout ${t}s; $((SECONDS - START))s elapsed)"
    timeout -k 10 "$t" "$PY" bench/gpu_proof.py row "$name" "$family" "$tier" --steps "$steps" --out "$OUTDIR" $TINY
    rc=$?
    if ((rc != 0)); then
        why=$([ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "timeout after ${t}s" || echo "failed (exit $rc)")
        echo "=== $name: $why"
        echo "{\"name\": \"$name\", \"family\": \"$family\", \"tier\": \"$tier\", \"status\": \"$why\", \"verdict\": \"not measured\"}" >>"$OUTDIR/rows.jsonl"
    fi
done

# (c) the gpu-marked tests (skipped on a machine without CUDA)
left=$((BUDGET - 20 - (SECONDS - START)))
if ((left > 30)); then
    echo "=== pytest -m gpu (timeout ${left}s; $((SECONDS - START))s elapsed)"
    timeout -k 10 "$left" "$PY" -m pytest -q -m gpu -p no:cacheprovider -rs 2>&1 | tee "$OUTDIR/pytest.txt"
    echo "pytest exit ${PIPESTATUS[0]}"
else
    echo "=== pytest -m gpu skipped: out of time" | tee "$OUTDIR/pytest.txt"
fi

# (d) results.json + results.md
report
echo "gpu_proof done in $((SECONDS - START))s: $(ls "$OUTDIR" | tr '\n' ' ')"
