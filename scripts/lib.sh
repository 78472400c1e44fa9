# shellcheck shell=bash
# scripts/lib.sh: helpers shared by run.sh, test.sh and pg.sh. Source it from
# a bash script that has `set -euo pipefail`:
#   . "$(dirname "$0")/lib.sh"
#
#   hsi_deps               installs the Debian packages the project needs
#   hsi_ensure_pkgs P...   installs those of P... that are missing
#   hsi_build DIR [ARGS]   configures (Ninja if present) and builds into DIR
#   hsi_step / hsi_info / hsi_warn / hsi_die   "==> step" style messages
#   hsi_port_free PORT     true when nothing listens on 127.0.0.1:PORT
#   hsi_pick_ports P...    prints one port per P: P itself if free, else a
#                          free one chosen by the kernel (never two alike)

# Everything the build, the tests and run.sh need (Debian 12 names).
# libclang-rt-14-dev holds libFuzzer; clang only recommends it.
HSI_PACKAGES=(
	build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
	libnng-dev libmbedtls-dev libprotobuf-c-dev protobuf-c-compiler
	protobuf-compiler libjansson-dev libmicrohttpd-dev libpq-dev
	libsqlite3-dev libssl-dev libcmocka-dev libcurl4-openssl-dev
	prometheus-alertmanager wrk nginx-light
	postgresql-15 postgresql-client-15
	python3 python3-pandas python3-yaml python3-jsonschema
	curl ca-certificates procps iproute2 util-linux
)

# Messages go to stderr so that stdout stays for results (pg.sh prints its
# URL there).
hsi_step() { printf '==> %s\n' "$*" >&2; }
hsi_info() { printf '    %s\n' "$*" >&2; }
hsi_warn() { printf '==> WARNING: %s\n' "$*" >&2; }
hsi_die() {
	printf '==> ERROR: %s\n' "$*" >&2
	exit 1
}

# hsi_now: seconds since the epoch.
hsi_now() { date +%s; }

# hsi_elapsed START: "Mm SSs" since START (from hsi_now).
hsi_elapsed() {
	local s=$(($(hsi_now) - $1))
	printf '%dm %02ds' $((s / 60)) $((s % 60))
}

# hsi_ensure_pkgs PKG...: apt-get update (once) + install, only when one of
# PKG is not installed. Does nothing, and needs no network, otherwise.
hsi_ensure_pkgs() {
	local p status missing=()
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			missing+=("$p")
		fi
	done
	((${#missing[@]} == 0)) && return 0

	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null ||
			hsi_die "missing packages (${missing[*]}) and not root: install them as root"
		sudo=(sudo)
	fi
	hsi_step "installing ${#missing[@]} missing package(s): ${missing[*]}"
	"${sudo[@]}" apt-get update -q ||
		hsi_die "apt-get update failed (network? /etc/apt/sources.list?)"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
		hsi_die "apt-get install failed for: ${missing[*]}"
}

hsi_deps() {
	hsi_step "checking Debian packages"
	hsi_ensure_pkgs "${HSI_PACKAGES[@]}"
}

# hsi_build DIR [cmake args...]: configure once (Ninja if available, else
# Unix Makefiles; RelWithDebInfo unless the args say otherwise) and build
# with -j$(nproc). CC in the environment picks the compiler on the first
# configure of DIR.
hsi_build() {
	local dir=$1
	shift
	local src
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	local args=(-S "$src" -B "$dir")
	if [[ ! -f $dir/CMakeCache.txt ]]; then
		if command -v ninja >/dev/null; then
			args+=(-G Ninja)
		else
			args+=(-G "Unix Makefiles")
		fi
	fi
	case " $* " in
	*" -DCMAKE_BUILD_TYPE="*) ;;
	*) args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
	esac
	hsi_step "configuring $dir${CC:+ (CC=$CC)}"
	cmake "${args[@]}" "$@" ||
		hsi_die "cmake configure of $dir failed (see the messages above)"
	hsi_step "building $dir"
	cmake --build "$dir" -j "$(nproc)" ||
		hsi_die "build in $dir failed (see the compiler messages above)"
}

# Ports ---------------------------------------------------------------------

HSI_PY=/usr/bin/python3
[[ -x $HSI_PY ]] || HSI_PY=python3

# hsi_port_free PORT: nobody listens on 127.0.0.1:PORT (nor on 0.0.0.0).
hsi_port_free() {
	"$HSI_PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# hsi_pick_ports P...: one line per P, P when free, else a kernel-chosen free
# port. All sockets stay bound until every port is chosen, so no two lines
# are the same. P may be 0 (always a kernel-chosen port).
hsi_pick_ports() {
	"$HSI_PY" - "$@" <<'EOF'
import socket, sys
held = []
for want in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        if want == 0:
            raise OSError
        s.bind(("127.0.0.1", want))
    except OSError:
        s.bind(("127.0.0.1", 0))
    held.append(s)
    print(s.getsockname()[1])
EOF
}
