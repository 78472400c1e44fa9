#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it (.ci/run).
#
#   1. installs missing Debian packages
#   2. clang-format check of common/ services/ tests/ (*.c, *.h)
#   3. gcc build with ASan + UBSan and -Werror into build-asan/, then
#      ctest there (tests start their own PostgreSQL through scripts/pg.sh)
#   4. with clang: libFuzzer targets into build-fuzz/, then `ctest -L fuzz`
#
# Every stage runs even when an earlier one failed (but a failed build skips
# its tests); the exit status is non-zero when any failed.
#
# Environment: HSI_TEST_SKIP_FUZZ=1 skips stage 4; CTEST_ARGS adds ctest
# arguments to stage 3 (e.g. CTEST_ARGS='-R csv').
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

START=$(hsi_now)
FAILED=()

# stage NAME CMD...: runs CMD, records NAME when it fails.
stage() {
	local name=$1 t0
	shift
	t0=$(hsi_now)
	hsi_step "$name"
	if "$@"; then
		hsi_info "$name: ok ($(hsi_elapsed "$t0"))"
		return 0
	fi
	hsi_warn "$name: FAILED ($(hsi_elapsed "$t0"))"
	FAILED+=("$name")
	return 1
}

format_check() {
	local files=()
	mapfile -d '' files < <(find common services tests \
		\( -name 'build*' -o -name generated -o -name third_party \) -prune -o \
		-type f \( -name '*.c' -o -name '*.h' \) \
		! -name '*.pb-c.c' ! -name '*.pb-c.h' -print0 | sort -z)
	((${#files[@]} > 0)) || return 0
	hsi_info "${#files[@]} files, $(clang-format --version)"
	if ! clang-format --dry-run --Werror "${files[@]}"; then
		hsi_info "fix with: clang-format -i FILE... (style in .clang-format)"
		return 1
	fi
}

# Tests find these; each starts its own cluster with "$HSI_PG_SH start DIR".
export HSI_PG_SH=$ROOT/scripts/pg.sh
export HSI_SOURCE_DIR=$ROOT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
export CI=${CI:-}

hsi_deps
stage "clang-format check" format_check || true

# ctest_args: extra arguments from CTEST_ARGS (word-split on purpose).
read -r -a ctest_extra <<<"${CTEST_ARGS:-}"

if stage "build build-asan (gcc, ASan+UBSan, -Werror)" \
	env CC=gcc bash -c '. scripts/lib.sh && hsi_build build-asan \
		-DHSI_SANITIZE=ON -DHSI_WERROR=ON -DHSI_FUZZ=OFF -DCMAKE_BUILD_TYPE=Debug'; then
	stage "ctest build-asan" ctest --test-dir build-asan --output-on-failure \
		-j2 --timeout 600 "${ctest_extra[@]}" || true
fi

if [[ ${HSI_TEST_SKIP_FUZZ:-0} == 1 ]]; then
	hsi_info "HSI_TEST_SKIP_FUZZ=1: no fuzz build"
elif command -v clang >/dev/null; then
	# -Werror is the gcc build's job; clang's warnings are shown, not fatal.
	if stage "build build-fuzz (clang, libFuzzer)" \
		env CC=clang bash -c '. scripts/lib.sh && hsi_build build-fuzz \
			-DHSI_FUZZ=ON -DHSI_SANITIZE=OFF -DHSI_WERROR=OFF'; then
		stage "ctest -L fuzz build-fuzz" ctest --test-dir build-fuzz -L fuzz \
			--output-on-failure -j2 --timeout 600 || true
	fi
else
	hsi_warn "clang not found: fuzz targets not built"
fi

hsi_step "scripts/test.sh took $(hsi_elapsed "$START")"
if ((${#FAILED[@]} > 0)); then
	for f in "${FAILED[@]}"; do
		hsi_info "FAILED: $f"
	done
	exit 1
fi
hsi_step "all stages passed"
