#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, or with sudo available):
# installs the Debian packages xpusim builds with, configures and builds it, then
#   scripts/quickstart.sh run [xpusim arguments]   runs xpusim (default: compare)
#   scripts/quickstart.sh test                     runs the whole suite, then again built by
#                                                  Clang with assertions on (the Checked type)
#                                                  under AddressSanitizer + UndefinedBehavior-
#                                                  Sanitizer, with each libFuzzer harness fuzzing
#                                                  for a short fixed time
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages=(g++ cmake ninja-build pkg-config nlohmann-json3-dev libyaml-cpp-dev libfmt-dev libcli11-dev
          libgtest-dev libgmock-dev libbenchmark-dev libopenmpi-dev openmpi-bin clang
          libclang-rt-14-dev nodejs npm chromium python3-dev pybind11-dev python3-pytest)

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    # A nodejs that is not Debian's (NodeSource's) ships npm itself and conflicts with the package.
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "quickstart: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The charting scripts `xpusim report` inlines and the browser test's driver, exactly as locked.
install_npm_packages() {
  local dir="$root/tools/report"
  cmp -s "$dir/package-lock.json" "$dir/node_modules/.xpusim-installed" && return
  echo "quickstart: npm ci in tools/report" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$dir/node_modules/.xpusim-installed"
}

# The Python module, where Debian's python3 finds it (/usr/local/lib/python3.X/dist-packages).
install_python_module() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo cmake --install "$root/build" --component python --prefix /usr/local >/dev/null
}

build() {  # build DIR [cmake options...]; later options override the Release default
  local dir="$1"
  shift
  cmake -S "$root" -B "$root/$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXPUSIM_MPI=ON "$@" >/dev/null
  cmake --build "$root/$dir" -j "$(nproc)"
}

command="${1:-run}"
[ $# -gt 0 ] && shift
install_packages
install_npm_packages
case "$command" in
  run)
    build build
    install_python_module
    [ $# -eq 0 ] && set -- compare
    exec "$root/build/tools/xpusim/xpusim" "$@"
    ;;
  test)
    build build
    install_python_module
    ctest --test-dir "$root/build" -j "$(nproc)" --output-on-failure
    # Clang's UBSan also reports float-to-integer overflow, which GCC's lets through; the fuzzers
    # need Clang's libFuzzer. Open MPI's own allocations trip LeakSanitizer: the MPI sweep test
    # runs in the first build.
    CXX=clang++ build build-sanitize -DCMAKE_BUILD_TYPE=Checked -DXPUSIM_SANITIZE=ON \
      -DXPUSIM_FUZZ=ON -DXPUSIM_BUILD_BENCHMARKS=OFF -DXPUSIM_MPI=OFF
    # The full-length validation runs (600 s MLPerf scenarios, the serving development set) take
    # minutes each under the sanitizers and exercise no code the other serve tests do not; they
    # ran in the first build.
    ctest --test-dir "$root/build-sanitize" -j "$(nproc)" --output-on-failure \
      -E 'Validation\.(Mlperf|ServingDev)|ServingDev'
    ;;
  *)
    echo "usage: scripts/quickstart.sh run [xpusim arguments] | test" >&2
    exit 2
    ;;
esac
