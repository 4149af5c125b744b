#!/usr/bin/env bash
# gantry's C++ against .clang-format: lists the files that differ and exits 1
# if any does. --fix formats them in place. FILES: only these (default: every
# tracked C++ file of src, tests, bench, fuzz).
#   scripts/check_format.sh [--fix] [FILES...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fix=0
if [[ ${1:-} == --fix ]]; then
  fix=1
  shift
fi
fmt=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n $fmt ]] || { echo "check_format.sh: clang-format not found (Debian: apt install clang-format)" >&2; exit 2; }
if (($#)); then files=("$@"); else mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'fuzz/*.cpp' 'fuzz/*.h'); fi
bad=0
for f in "${files[@]}"; do
  if ((fix)); then
    "$fmt" -i "$f"
  elif ! "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "$f"
    bad=$((bad + 1))
  fi
done
if ((bad)); then
  echo "check_format.sh: $bad of ${#files[@]} files differ from .clang-format (scripts/check_format.sh --fix)" >&2
  exit 1
fi
