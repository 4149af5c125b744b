#!/usr/bin/env bash
# gantry pack / synth / inspect end to end: Fashion-MNIST packed and read back
# by h5py and the HDF5 tools, bad files and bad images as one error line and
# exit 2, an existing output kept without --force, and interrupted writes that
# leave no output behind.
source "$(dirname "$0")/lib.sh"
PY=${2:?usage: $0 gantry python}
HERE=$(cd "$(dirname "$0")/.." && pwd)
FM=/usr/share/datasets/fashion-mnist
cd "$WORK"

expect_error() {  # expect_error CODE PATTERN command...: one line on stderr, that exit code
  local code=$1 pattern=$2
  shift 2
  timeout 120 "$@" >"$WORK/out.log" 2>"$WORK/err.log"
  local rc=$?
  [[ $rc == "$code" ]] || fail "'$*' exited $rc, expected $code"
  grep -q -- "$pattern" "$WORK/err.log" || fail "'$*' did not print '$pattern'"
  [[ $(wc -l <"$WORK/err.log") == 1 ]] || fail "'$*' printed more than one error line"
}

# Fashion-MNIST train set: packed, then read by h5py and by the HDF5 tools. (A bare GPU machine
# may lack Debian's dataset-fashion-mnist: then this part says so and the rest runs.)
if [[ -f $FM/train-images-idx3-ubyte.gz ]]; then
  "$GANTRY" pack idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/train-labels-idx1-ubyte.gz \
    --out fm.h5 >pack.json 2>pack.log || fail "pack idx failed"
  grep -q '"count":60000' pack.json || fail "pack idx summary: $(cat pack.json)"
  "$PY" "$HERE/data/h5py_check.py" idx fm.h5 $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz \
    >h5py.log 2>&1 || fail "h5py check: $(tail -5 h5py.log)"
  h5ls fm.h5 | grep -q 'images *Dataset {60000/Inf, 1, 28, 28}' || fail "h5ls: $(h5ls fm.h5)"
  h5dump -A fm.h5 | grep -q '"gantry_format_version"' || fail "h5dump does not show the version attribute"
  "$GANTRY" inspect --verify fm.h5 >inspect.json || fail "inspect failed"
  grep -q '"verified":true' inspect.json || fail "inspect: $(cat inspect.json)"
else
  echo "SKIP part: no $FM (Debian's dataset-fashion-mnist): pack idx of the real set not checked"
fi

# Synth: deterministic, and gzip + multi-image chunks hold the same images.
"$GANTRY" synth --shape 3,32,32 --count 40 --seed 4 --out a.h5 --quiet >/dev/null || fail "synth a"
"$GANTRY" synth --shape 3,32,32 --count 40 --seed 4 --out b.h5 --gzip 4 --chunk-images 8 --quiet >/dev/null || fail "synth b"
"$PY" "$HERE/data/h5py_check.py" same a.h5 b.h5 >>h5py.log 2>&1 || fail "gzip synth differs: $(tail -3 h5py.log)"
"$GANTRY" synth --shape 3,32,32 --count 40 --seed 5 --out c.h5 --quiet >/dev/null || fail "synth c"
"$PY" "$HERE/data/h5py_check.py" same a.h5 c.h5 >/dev/null 2>&1 && fail "different seeds gave the same images"
# The HDF5 tools (Debian's, or the GPU bundle's) read what gantry wrote.
h5ls a.h5 | grep -q 'images *Dataset {40/Inf, 3, 32, 32}' || fail "h5ls a.h5: $(h5ls a.h5 2>&1)"
h5dump -A a.h5 | grep -q '"gantry_format_version"' || fail "h5dump -A a.h5 does not show the version attribute"
cp a.h5 big_enough.h5

# An existing output is kept unless --force.
sum_before=$("$GANTRY" inspect --verify a.h5)
expect_error 2 "gantry: a.h5: already exists (pass --force to replace it)" \
  "$GANTRY" synth --shape 3,8,8 --count 2 --out a.h5
[[ $("$GANTRY" inspect --verify a.h5) == "$sum_before" ]] || fail "a.h5 changed without --force"
"$GANTRY" synth --shape 3,8,8 --count 2 --out a.h5 --force --quiet >/dev/null || fail "--force"
"$GANTRY" inspect a.h5 | grep -q '"count":2' || fail "--force did not replace a.h5"

# Bad files: one line naming the file and the problem, exit 2.
expect_error 2 "gantry: missing.h5: no such file" "$GANTRY" inspect missing.h5
echo "not hdf5" >text.h5
expect_error 2 "gantry: text.h5: not an HDF5 file" "$GANTRY" inspect text.h5
head -c 100000 big_enough.h5 >trunc.h5
expect_error 2 "gantry: trunc.h5: cannot open as HDF5 (truncated or corrupt file)" "$GANTRY" inspect trunc.h5
expect_error 2 "gantry: missing.gz: no such file" "$GANTRY" pack idx --images missing.gz --out m.h5
if [[ -f $FM/train-images-idx3-ubyte.gz ]]; then
  expect_error 2 "labels for 60000 images" \
    "$GANTRY" pack idx --images $FM/train-images-idx3-ubyte.gz --labels $FM/t10k-labels-idx1-ubyte.gz --out m.h5
fi
[[ -e m.h5 ]] && fail "a failed pack left m.h5"

# Bad images: stop naming the file, or skip them; a folder of only bad images is an error either way.
mkdir imgs && echo "junk" >imgs/x.png
expect_error 2 "imgs/x.png: cannot decode image" "$GANTRY" pack images --dir imgs --size 8 --out i.h5 --quiet
expect_error 2 "no image could be decoded" "$GANTRY" pack images --dir imgs --size 8 --out i.h5 --skip-bad --quiet
expect_error 2 "must be C,H,W" "$GANTRY" synth --shape 3,256 --count 2 --out s.h5
[[ -n $(ls -A imgs/..  | grep -E 'i.h5|partial') ]] && fail "left files: $(ls -A)"

# Interrupted writes: SIGINT/SIGTERM remove the partial file (exit 128+sig); SIGKILL leaves no output name.
for sig in INT TERM KILL; do
  "$GANTRY" synth --shape 3,256,256 --count 1000000 --threads 1 --out big.h5 >/dev/null 2>"$WORK/synth_$sig.log" &
  pid=$!
  for _ in $(seq 100); do compgen -G ".big.h5.partial-*" >/dev/null && break; sleep 0.1; done
  sleep 1
  kill -s $sig $pid
  wait $pid
  rc=$?
  case $sig in
    INT) [[ $rc == 130 ]] || fail "SIGINT: exit $rc, expected 130" ;;
    TERM) [[ $rc == 143 ]] || fail "SIGTERM: exit $rc, expected 143" ;;
    KILL) [[ $rc == 137 ]] || fail "SIGKILL: exit $rc" ;;
  esac
  [[ -e big.h5 ]] && fail "interrupted synth ($sig) left big.h5"
  if [[ $sig != KILL ]]; then
    compgen -G ".big.h5.partial-*" >/dev/null && fail "SIG$sig left the partial file"
    grep -q "interrupted; removed the partial big.h5" "$WORK/synth_$sig.log" || fail "SIG$sig message"
  fi
  rm -f .big.h5.partial-*
done
echo PASS
