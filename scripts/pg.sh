#!/usr/bin/env bash
# scripts/pg.sh: a private PostgreSQL 15 cluster for development and tests.
#
#   scripts/pg.sh start DIR    create (first time) and start; prints the URL
#   scripts/pg.sh url DIR      prints the URL (whether running or not)
#   scripts/pg.sh status DIR   exit 0 and the URL when running, else exit 3
#   scripts/pg.sh stop DIR     stops it (fast shutdown; immediate if stuck)
#   scripts/pg.sh destroy DIR  stops it and deletes it, data and all
#
# The URL, postgresql:///hsi?host=SOCKDIR&port=PORT&user=postgres, is the
# only thing printed on stdout (progress goes to stderr), and is also kept
# in DIR/url. The cluster listens on a unix socket only (no TCP unless
# HSI_PG_LISTEN, e.g. 127.0.0.1, is set), with trust authentication, so it
# must stay private: DIR is 0700.
#
# PostgreSQL refuses to run as root, so as root every server command runs as
# the `postgres` user (runuser). That user must reach DIR: when it cannot
# (e.g. the clone is under a 0700 home), the cluster lives in
# /tmp/hsi-pg-XXXXXX and DIR/location names it. The socket directory is the
# cluster folder itself when its path is short and plain, else a short
# /tmp/hsi-pgs-XXXXXX (a unix socket path must stay under ~100 bytes).
#
# start is idempotent (prints the URL of a running cluster), and recovers
# from a killed previous run: orphaned server processes and a stale
# postmaster.pid are cleared before starting.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

PGBIN=${HSI_PGBIN:-/usr/lib/postgresql/15/bin}
DB=hsi
SUPERUSER=postgres

usage() {
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# as_pg CMD...: runs CMD as the postgres user (as root) or as ourselves,
# from / so that an unreachable working directory does not matter, and
# without fd 9 (our lock: a server must not inherit it).
as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@") 9>&-
	else
		(cd / && "$@") 9>&-
	fi
}

# Sets REAL (the cluster folder, canonical path) for $DIR. With create=1,
# makes it when there is none yet; else fails when there is none.
locate() {
	local create=$1
	REAL=
	if [[ -f $DIR/location ]]; then
		REAL=$(<"$DIR/location")
		if [[ ! -d $REAL/data ]]; then
			((create)) || hsi_die "cluster folder $REAL (from $DIR/location) is gone"
			hsi_warn "cluster folder $REAL (from $DIR/location) is gone (/tmp cleaned?): making a new, empty one"
			REAL=
		fi
	elif [[ -d $DIR/data ]]; then
		REAL=$DIR
	fi
	if [[ -z $REAL ]]; then
		((create)) || hsi_die "no cluster in $DIR (run: scripts/pg.sh start $DIR)"
		# Refuse to take over a folder that holds something else.
		local e
		for e in "$DIR"/* "$DIR"/.[!.]*; do
			[[ -e $e ]] || continue
			case ${e##*/} in
			.lock | url | location | data | postgres.log | port | sockdir | initdb.done | initdb.log) ;;
			*) hsi_die "$DIR holds other files ($e): give pg.sh an empty folder of its own" ;;
			esac
		done
		if ((EUID != 0)); then
			REAL=$DIR
		elif as_pg test -x "$DIR"; then
			chown postgres:postgres "$DIR"
			REAL=$DIR
		else
			REAL=$(mktemp -d /tmp/hsi-pg-XXXXXX)
			chown postgres:postgres "$REAL"
			hsi_info "postgres cannot reach $DIR: cluster in $REAL"
			printf '%s\n' "$REAL" >"$DIR/location"
		fi
		chmod 0700 "$REAL"
	fi
	REAL=$(cd "$REAL" && pwd -P)
	PGDATA_DIR=$REAL/data
}

# Reads PORT and SOCK for $REAL (empty when not recorded yet).
read_settings() {
	PORT=
	SOCK=
	[[ -f $REAL/port ]] && PORT=$(<"$REAL/port")
	if [[ -f $REAL/sockdir ]]; then
		SOCK=$(<"$REAL/sockdir")
	elif [[ -f $REAL/port ]]; then
		SOCK=$REAL
	fi
	return 0
}

url_of() {
	printf 'postgresql:///%s?host=%s&port=%s&user=%s\n' "$DB" "$SOCK" "$PORT" "$SUPERUSER"
}

# The postmaster's pid when our cluster is running, else nothing (status 1).
# A pid file whose process is gone, or is not a postgres working in our data
# folder (pid reused), does not count.
running_pid() {
	local pidfile=$PGDATA_DIR/postmaster.pid pid
	[[ -f $pidfile ]] || return 1
	pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	[[ $(readlink "/proc/$pid/cwd" 2>/dev/null || true) == "$PGDATA_DIR" ]] || return 1
	printf '%s\n' "$pid"
}

# Processes still working in our data folder (orphans of a killed
# postmaster).
orphans() {
	local p user=postgres
	((EUID == 0)) || user=$EUID
	for p in $(pgrep -u "$user" -x postgres || true); do
		[[ $(readlink "/proc/$p/cwd" 2>/dev/null || true) == "$PGDATA_DIR" ]] &&
			printf '%s\n' "$p"
	done
	return 0
}

# Clears what a killed server leaves behind: orphaned processes (SIGQUIT,
# then SIGKILL), postmaster.pid, socket and socket lock files.
clear_stale() {
	local pids i
	pids=$(orphans)
	if [[ -n $pids ]]; then
		hsi_info "stopping orphaned server processes: ${pids//$'\n'/ }"
		# shellcheck disable=SC2086
		kill -QUIT $pids 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			[[ -z $(orphans) ]] && break
			sleep 0.1
		done
		pids=$(orphans)
		# shellcheck disable=SC2086
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
		sleep 0.2
	fi
	if [[ -f $PGDATA_DIR/postmaster.pid ]]; then
		hsi_info "removing stale $PGDATA_DIR/postmaster.pid"
		rm -f "$PGDATA_DIR/postmaster.pid"
	fi
	if [[ -n $SOCK && -n $PORT ]]; then
		rm -f "$SOCK/.s.PGSQL.$PORT" "$SOCK/.s.PGSQL.$PORT.lock"
	fi
}

psql_admin() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -tA -h "$SOCK" -p "$PORT" \
		-U "$SUPERUSER" -d postgres "$@"
}

ensure_db() {
	local i
	for ((i = 0; i < 300; i++)); do
		"$PGBIN/pg_isready" -q -h "$SOCK" -p "$PORT" && break
		sleep 0.2
	done
	"$PGBIN/pg_isready" -q -h "$SOCK" -p "$PORT" ||
		hsi_die "server in $REAL does not accept connections (log: $REAL/postgres.log)"
	if [[ $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'") != 1 ]]; then
		psql_admin -c "CREATE DATABASE $DB" ||
			hsi_die "could not create database $DB"
	fi
}

publish_url() {
	local url
	url=$(url_of)
	printf '%s\n' "$url" >"$REAL/url"
	[[ $REAL == "$DIR" ]] || printf '%s\n' "$url" >"$DIR/url"
	printf '%s\n' "$url"
}

do_initdb() {
	local locale=C
	if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then
		locale=C.UTF-8
	fi
	rm -rf "$PGDATA_DIR" "$REAL/initdb.done"
	hsi_step "initdb $PGDATA_DIR (locale $locale)"
	as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U "$SUPERUSER" \
		--encoding=UTF8 --locale="$locale" >"$REAL/initdb.log" 2>&1 || {
		tail -n 20 "$REAL/initdb.log" >&2
		hsi_die "initdb failed (log: $REAL/initdb.log)"
	}
	printf "\n# scripts/pg.sh rewrites hsi.conf at every start.\ninclude 'hsi.conf'\n" \
		>>"$PGDATA_DIR/postgresql.conf"
	touch "$REAL/initdb.done"
}

cmd_start() {
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd -P)
	exec 9>>"$DIR/.lock"
	flock -w 300 9 || hsi_die "another pg.sh holds $DIR/.lock"
	locate 1
	read_settings
	if running_pid >/dev/null; then
		ensure_db
		publish_url
		return 0
	fi
	[[ -x $PGBIN/initdb ]] ||
		hsi_ensure_pkgs postgresql-15 postgresql-client-15
	[[ -f $REAL/initdb.done && -f $PGDATA_DIR/PG_VERSION ]] || do_initdb
	clear_stale

	# Socket folder: the cluster folder when short and plain, else /tmp.
	if [[ -z $SOCK || ! -d $SOCK ]]; then
		if [[ ${#REAL} -le 80 && $REAL =~ ^[A-Za-z0-9/._-]+$ ]]; then
			SOCK=$REAL
			rm -f "$REAL/sockdir"
		else
			SOCK=$(mktemp -d /tmp/hsi-pgs-XXXXXX)
			((EUID != 0)) || chown postgres:postgres "$SOCK"
			chmod 0700 "$SOCK"
			printf '%s\n' "$SOCK" >"$REAL/sockdir"
		fi
	fi
	# Port: keep the recorded one while it is free, else ask the kernel.
	if [[ -z $PORT ]] || ! hsi_port_free "$PORT"; then
		PORT=$(hsi_pick_ports 0)
	fi
	printf '%s\n' "$PORT" >"$REAL/port"
	cat >"$PGDATA_DIR/hsi.conf" <<EOF
listen_addresses = '${HSI_PG_LISTEN:-}'
port = $PORT
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
fsync = on
EOF
	((EUID != 0)) || chown postgres:postgres "$PGDATA_DIR/hsi.conf"

	hsi_step "starting PostgreSQL in $REAL (port $PORT, socket in $SOCK)"
	if ! as_pg "$PGBIN/pg_ctl" start -D "$PGDATA_DIR" -l "$REAL/postgres.log" \
		-w -t 120 -s >/dev/null; then
		tail -n 20 "$REAL/postgres.log" >&2 || true
		hsi_die "PostgreSQL did not start (log: $REAL/postgres.log)"
	fi
	ensure_db
	publish_url
}

cmd_stop() {
	[[ -d $DIR ]] || {
		hsi_info "no cluster in $DIR"
		return 0
	}
	DIR=$(cd "$DIR" && pwd -P)
	exec 9>>"$DIR/.lock"
	flock -w 300 9 || hsi_die "another pg.sh holds $DIR/.lock"
	if [[ ! -f $DIR/location && ! -d $DIR/data ]]; then
		hsi_info "no cluster in $DIR"
		return 0
	fi
	if [[ -f $DIR/location && ! -d $(<"$DIR/location")/data ]]; then
		hsi_info "cluster folder $(<"$DIR/location") is gone: nothing to stop"
		return 0
	fi
	locate 0
	read_settings
	if running_pid >/dev/null; then
		hsi_step "stopping PostgreSQL in $REAL"
		as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 -s ||
			as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 30 -s ||
			hsi_warn "pg_ctl stop failed; killing the server processes"
	fi
	clear_stale
}

cmd_url() {
	[[ -d $DIR ]] || hsi_die "no cluster in $DIR"
	DIR=$(cd "$DIR" && pwd -P)
	locate 0
	read_settings
	[[ -n $PORT ]] || hsi_die "cluster in $DIR was never started"
	url_of
}

cmd_status() {
	[[ -d $DIR ]] || exit 3
	DIR=$(cd "$DIR" && pwd -P)
	[[ -f $DIR/location || -d $DIR/data ]] || exit 3
	[[ ! -f $DIR/location || -d $(<"$DIR/location")/data ]] || exit 3
	locate 0
	read_settings
	running_pid >/dev/null || exit 3
	url_of
}

cmd_destroy() {
	[[ -d $DIR ]] || return 0
	cmd_stop
	local real=$DIR
	[[ -f $DIR/location ]] && real=$(<"$DIR/location")
	if [[ -f $real/sockdir ]]; then
		rm -rf "$(<"$real/sockdir")"
	fi
	if [[ $real != "$DIR" ]]; then
		rm -rf "$real"
	fi
	rm -rf "$DIR"
}

(($# == 2)) || usage
DIR=$2
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
status) cmd_status ;;
destroy) cmd_destroy ;;
*) usage ;;
esac
