#!/usr/bin/env bash
# The AddressSanitizer + UBSan run of issue 17 (csrc/README.md, "Sanitizers"), from a git
# checkout:
#
#     bash tests/sanitize.sh
#
# builds pysim._core with PYSIM_SANITIZE=ON in $BUILD, copies the checkout (its tracked and
# untracked, not ignored, files) to $TREE with that extension in pysim/, and runs there, with
# the ASan runtime preloaded: the test suite (pytest -n $JOBS tests, or $PYTEST_ARGS), 20,000
# fuzzed core calls (seed 0, --max-work 2^24, as in CI) and the 1,000 API cases. Sanitizer
# reports go to $LOGS (one file per reporting process); the script prints them, and exits 1 if
# there is one or a run failed. Nothing in the checkout or its own build changes.
set -uo pipefail

PY=${PYTHON:-python}
JOBS=${JOBS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-/tmp/pysim-asan-build}
TREE=${TREE:-/tmp/pysim-asan-tree}
LOGS=${LOGS:-/tmp/pysim-asan-logs}

set -e
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DSKBUILD=ON -DPYSIM_SANITIZE=ON \
    -DPython_EXECUTABLE="$(command -v "$PY")" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)"
cmake --build "$BUILD" -j "$JOBS"
rm -rf "$TREE" "$LOGS"
mkdir -p "$TREE/.shim" "$LOGS"
(cd "$ROOT" && git ls-files --cached --others --exclude-standard -z \
    | grep -zv '^pysim/_core.*\.so$' | tar --null -cf - -T -) | tar -xf - -C "$TREE"
cp "$BUILD"/_core*.so "$TREE/pysim/"
# An editable install's import hook would load the checkout's pysim, not this copy.
printf 'import sys\nsys.meta_path[:] = [f for f in sys.meta_path if "ScikitBuild" not in %s]\nsys.path.insert(0, %s)\n' \
    'type(f).__name__' "'$TREE'" > "$TREE/.shim/sitecustomize.py"
set +e

# The interpreter is not instrumented: preload the ASan runtime, and libstdc++ with it (else
# ASan cannot find the real __cxa_throw). Leaks are not checked (CPython keeps some memory).
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:log_path=$LOGS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$LOGS/ubsan"
export PYTHONPATH="$TREE/.shim"
cd "$TREE" || exit 1
status=0
# shellcheck disable=SC2086 # PYTEST_ARGS is split on purpose
"$PY" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:--n $JOBS tests} || status=1
"$PY" -m tests.fuzz --target core --seed 0 --calls 20000 --max-work '2^24' || status=1
"$PY" -m tests.fuzz --target api --seed 0 || status=1
reports=$(find "$LOGS" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
    cat "$LOGS"/*
    status=1
fi
echo "sanitizer reports: $reports (in $LOGS)"
exit $status
