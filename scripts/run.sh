#!/usr/bin/env bash
# scripts/run.sh: the whole HSI system on generated sample data, on this
# machine, for a newcomer. Ctrl-C stops everything it started.
#
#   installs missing Debian packages, builds into build/, starts a private
#   PostgreSQL (var/pg), generates sample data (var/sample), starts
#   hsi-scorer, one hsi-ingest per agency that has sample data (var/nodes),
#   hsi-alerter and hsi-api, feeds the sample files and waits until every
#   one is delivered, then prints the API address and commands to try.
#
# Environment:
#   HSI_API_PORT=8080        REST gateway port (a free one if taken)
#   HSI_READY_TIMEOUT=60     seconds a service may take to come up
#   HSI_LOAD_TIMEOUT=900     seconds the sample data may take to deliver
#   RUN_EXIT_AFTER_LOAD=1    stop everything and exit 0 once loaded
#
# Logs: var/log/*.log (one JSON object a line). Pid files: var/run/ (a run
# that was killed is cleaned up by the next one).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

BUILD=$ROOT/build
VAR=$ROOT/var
RUNDIR=$VAR/run
LOGDIR=$VAR/log
NODES=$VAR/nodes
SAMPLE=$VAR/sample
PGDIR=$VAR/pg
READY_TIMEOUT=${HSI_READY_TIMEOUT:-60}
LOAD_TIMEOUT=${HSI_LOAD_TIMEOUT:-900}
BIN_SCORER=$BUILD/services/scorer/hsi-scorer
BIN_INGEST=$BUILD/services/ingest/hsi-ingest
BIN_ALERTER=$BUILD/services/alerter/hsi-alerter
BIN_API=$BUILD/services/api/hsi-api
BIN_CTL=$BUILD/services/hsictl/hsictl

# Children we started: parallel arrays, in start order.
PIDS=()
NAMES=()
LOGS=()
PG_STARTED=0
CLEANED=0

# Stops every child (TERM, then KILL after 10 s), reaps them, stops
# PostgreSQL. Runs once, on any exit.
cleanup() {
	local rc=$?
	((CLEANED)) && return
	CLEANED=1
	trap '' INT TERM
	if ((${#PIDS[@]} > 0)); then
		hsi_step "stopping ${#PIDS[@]} service(s)"
		local i pid deadline
		for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
			kill -TERM "${PIDS[i]}" 2>/dev/null || true
		done
		deadline=$(($(hsi_now) + 10))
		for pid in "${PIDS[@]}"; do
			while kill -0 "$pid" 2>/dev/null && (($(hsi_now) < deadline)); do
				sleep 0.1
			done
		done
		for ((i = 0; i < ${#PIDS[@]}; i++)); do
			pid=${PIDS[i]}
			if kill -0 "$pid" 2>/dev/null; then
				hsi_warn "${NAMES[i]} (pid $pid) ignored SIGTERM for 10 s: killing it"
				kill -KILL "$pid" 2>/dev/null || true
			fi
			local st=0
			wait "$pid" 2>/dev/null || st=$?
			# 127: already reaped (it died earlier and was reported).
			if ((st != 0 && st != 127)); then
				hsi_warn "${NAMES[i]} exited with status $st (log: ${LOGS[i]})"
			fi
			rm -f "$RUNDIR/${NAMES[i]}.pid"
		done
	fi
	if ((PG_STARTED)); then
		"$ROOT/scripts/pg.sh" stop "$PGDIR" || hsi_warn "pg.sh stop failed"
	fi
	rm -f "$RUNDIR/run.pid"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Is pid a live process running one of our binaries (not a reused pid)?
is_ours() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ $exe == "$BUILD"/* ]]
}

# Stops what a previous run left behind (it was killed, or is still on).
stop_stale() {
	local f pid name i
	if [[ -f $RUNDIR/run.pid ]]; then
		pid=$(<"$RUNDIR/run.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && ((pid != $$)) && kill -0 "$pid" 2>/dev/null &&
			grep -qa 'run\.sh' "/proc/$pid/cmdline" 2>/dev/null; then
			hsi_step "another scripts/run.sh (pid $pid) is running: stopping it"
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 300; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$pid" 2>/dev/null && hsi_die "scripts/run.sh pid $pid does not stop: stop it first"
		fi
	fi
	for f in "$RUNDIR"/*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		[[ $name == run ]] && continue
		pid=$(<"$f")
		if [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid"; then
			hsi_info "stopping $name left over from a previous run (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

# start_svc NAME BINARY ARGS...: starts it in the background, output to
# var/log/NAME.log. setpriv --pdeathsig makes it get SIGTERM even if this
# script is killed with SIGKILL.
start_svc() {
	local name=$1 log=$LOGDIR/$1.log
	shift
	local pre=()
	command -v setpriv >/dev/null && pre=(setpriv --pdeathsig TERM --)
	"${pre[@]}" "$@" >"$log" 2>&1 </dev/null &
	local pid=$!
	PIDS+=("$pid")
	NAMES+=("$name")
	LOGS+=("$log")
	printf '%s\n' "$pid" >"$RUNDIR/$name.pid"
}

show_log() {
	hsi_info "last lines of $1:"
	tail -n 15 "$1" 2>/dev/null | sed 's/^/      /' >&2 || true
}

# Dies when one of our children has exited, naming it and showing its log.
check_alive() {
	local i
	for ((i = 0; i < ${#PIDS[@]}; i++)); do
		if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
			local st=0
			wait "${PIDS[i]}" 2>/dev/null || st=$?
			show_log "${LOGS[i]}"
			hsi_die "${NAMES[i]} exited unexpectedly (status $st); log: ${LOGS[i]}"
		fi
	done
}

# wait_log NAME REGEX: waits for a log line of service NAME to match.
wait_log() {
	local name=$1 re=$2 log=$LOGDIR/$1.log deadline
	deadline=$(($(hsi_now) + READY_TIMEOUT))
	until grep -qE "$re" "$log" 2>/dev/null; do
		check_alive
		if (($(hsi_now) >= deadline)); then
			show_log "$log"
			hsi_die "$name did not log a line matching '$re' within ${READY_TIMEOUT}s (log: $log; raise HSI_READY_TIMEOUT?)"
		fi
		sleep 0.2
	done
}

# Does BINARY's --help mention option KEY? (run.sh copes with services that
# do not have every option yet.)
has_opt() {
	local help
	help=$("$1" --help 2>&1 || true)
	[[ $help == *"$2"* ]]
}

START=$(hsi_now)
mkdir -p "$RUNDIR" "$LOGDIR" "$NODES"
stop_stale
printf '%s\n' "$$" >"$RUNDIR/run.pid"

hsi_deps
hsi_build "$BUILD" -DHSI_SANITIZE=OFF -DHSI_FUZZ=OFF -DHSI_WERROR=OFF
for b in "$BIN_SCORER" "$BIN_INGEST" "$BIN_ALERTER" "$BIN_API" "$BIN_CTL"; do
	[[ -x $b ]] || hsi_die "the build made no $b"
done

hsi_step "private PostgreSQL cluster in var/pg"
PG_STARTED=1
DB_URL=$("$ROOT/scripts/pg.sh" start "$PGDIR")
hsi_info "$DB_URL"

hsi_step "generating sample data into var/sample"
[[ -f $ROOT/scripts/gen_sample.py ]] || hsi_die "scripts/gen_sample.py is missing"
rm -rf "$SAMPLE"
/usr/bin/python3 "$ROOT/scripts/gen_sample.py" --out "$SAMPLE" >"$LOGDIR/gen_sample.log" 2>&1 || {
	show_log "$LOGDIR/gen_sample.log"
	hsi_die "scripts/gen_sample.py failed"
}
AGENCIES=()
for d in "$SAMPLE"/*/; do
	[[ -d $d ]] && AGENCIES+=("$(basename "$d")")
done
((${#AGENCIES[@]} > 0)) || hsi_die "scripts/gen_sample.py wrote no agency folder into $SAMPLE"

# Ports: the defaults when free, else free ones.
read -r P_INGEST P_EVENTS P_ALERTS <<<"$(hsi_pick_ports 7450 7451 7452 | tr '\n' ' ')"
if [[ "$P_INGEST $P_EVENTS $P_ALERTS" != "7450 7451 7452" ]]; then
	hsi_warn "port 7450, 7451 or 7452 is taken: using $P_INGEST (ingest), $P_EVENTS (events), $P_ALERTS (alerts)"
fi
INGEST_URL=tcp://127.0.0.1:$P_INGEST
EVENTS_URL=tcp://127.0.0.1:$P_EVENTS
ALERTS_URL=tcp://127.0.0.1:$P_ALERTS

hsi_step "starting hsi-scorer (log: var/log/scorer.log)"
start_svc scorer "$BIN_SCORER" --db_url "$DB_URL" \
	--ingest_listen "$INGEST_URL" --events_listen "$EVENTS_URL"
wait_log scorer '"msg": ?"ready"'

hsi_step "starting ${#AGENCIES[@]} hsi-ingest node(s): ${AGENCIES[*]}"
INGEST_STATE_OPT=0
has_opt "$BIN_INGEST" state_dir && INGEST_STATE_OPT=1
TOTAL=0
for a in "${AGENCIES[@]}"; do
	n=$NODES/$a
	# Keep the key and the node state; start with empty folders for files.
	rm -rf "$n/inbox" "$n/done" "$n/rejected" "$n/incoming"
	mkdir -p "$n/inbox" "$n/state" "$n/incoming"
	"$BIN_CTL" key rotate "$a" --db-url "$DB_URL" --out "$n/key.json" \
		>>"$LOGDIR/hsictl.log" 2>&1 || {
		show_log "$LOGDIR/hsictl.log"
		hsi_die "hsictl key rotate $a failed"
	}
	args=(--agency "$a" --node_id "$a-node1" --key_file "$n/key.json"
		--scorer_url "$INGEST_URL" --events_url "$EVENTS_URL" --inbox "$n/inbox")
	((INGEST_STATE_OPT)) && args+=(--state_dir "$n/state")
	start_svc "ingest-$a" "$BIN_INGEST" "${args[@]}"
done
for a in "${AGENCIES[@]}"; do
	wait_log "ingest-$a" '"msg": ?"ready"'
done
# Copy next to the inbox, then rename into it: a node never sees half a file.
for a in "${AGENCIES[@]}"; do
	n=$NODES/$a
	for f in "$SAMPLE/$a"/*; do
		[[ -f $f ]] || continue
		cp "$f" "$n/incoming/"
		mv "$n/incoming/${f##*/}" "$n/inbox/"
		TOTAL=$((TOTAL + 1))
	done
done
hsi_info "$TOTAL sample file(s) dropped into var/nodes/*/inbox"

hsi_step "starting hsi-alerter (log: var/log/alerter.log)"
start_svc alerter "$BIN_ALERTER" --db_url "$DB_URL" \
	--events_url "$EVENTS_URL" --alerts_listen "$ALERTS_URL" \
	--rules_file "$ROOT/deploy/rules.json"

WANT_PORT=${HSI_API_PORT:-8080}
API_PORT=$(hsi_pick_ports "$WANT_PORT")
if [[ $API_PORT != "$WANT_PORT" ]]; then
	hsi_warn "port $WANT_PORT is taken: hsi-api will listen on $API_PORT instead"
fi
hsi_step "starting hsi-api on 127.0.0.1:$API_PORT (log: var/log/api.log)"
args=(--db_url "$DB_URL" --listen "127.0.0.1:$API_PORT" --events_url "$EVENTS_URL"
	--alerts_url "$ALERTS_URL" --scorer_url "$INGEST_URL")
[[ -d $ROOT/services/api/static ]] && args+=(--static_dir "$ROOT/services/api/static")
start_svc api "$BIN_API" "${args[@]}"
wait_log api '"msg": ?"listening"'
API_URL=$(grep -oE '"url": ?"[^"]*"' "$LOGDIR/api.log" | head -n 1 | sed -E 's/.*"(http[^"]*)"/\1/')
[[ -n $API_URL ]] || API_URL=http://127.0.0.1:$API_PORT

hsi_step "delivering the sample data"
# A file is delivered when its verdict is back: it has left inbox/ (taken
# into the outbox) and sending/ (moved to done/ or rejected/).
count_inbox() {
	local c=0 a f
	for a in "${AGENCIES[@]}"; do
		for f in "$NODES/$a/inbox"/* "$NODES/$a/sending"/*; do
			[[ -f $f && $f != *.report.json* ]] && c=$((c + 1))
		done
	done
	printf '%s\n' "$c"
}
deadline=$(($(hsi_now) + LOAD_TIMEOUT))
last=-1
while :; do
	left=$(count_inbox)
	done_n=$((TOTAL - left))
	if ((done_n != last)); then
		hsi_info "$done_n/$TOTAL files delivered"
		last=$done_n
	fi
	((left == 0)) && break
	check_alive
	if (($(hsi_now) >= deadline)); then
		for a in "${AGENCIES[@]}"; do
			if compgen -G "$NODES/$a/inbox/*" >/dev/null; then
				hsi_info "still in var/nodes/$a/inbox: $(cd "$NODES/$a/inbox" && echo *)"
				show_log "$LOGDIR/ingest-$a.log"
			elif compgen -G "$NODES/$a/sending/*" >/dev/null; then
				hsi_info "still sending from var/nodes/$a: $(cd "$NODES/$a/sending" && echo *)"
				show_log "$LOGDIR/ingest-$a.log"
			fi
		done
		show_log "$LOGDIR/scorer.log"
		hsi_die "$left of $TOTAL files not delivered within ${LOAD_TIMEOUT}s (raise HSI_LOAD_TIMEOUT?)"
	fi
	sleep 1
done
rejected=0
for a in "${AGENCIES[@]}"; do
	for f in "$SAMPLE/$a"/*; do
		[[ -e $NODES/$a/rejected/${f##*/} ]] && rejected=$((rejected + 1))
	done
done
if ((rejected > 0)); then
	hsi_warn "$rejected file(s) rejected: see the reports in var/nodes/*/rejected/"
fi

cat <<EOF

================================================================
 HSI is running ($(hsi_elapsed "$START") to set up; $TOTAL files, $rejected rejected)

 REST API:  $API_URL
   curl -s '$API_URL/healthz'
   curl -s '$API_URL/v1/index?period=2024' | python3 -m json.tool | head -40
   curl -s '$API_URL/v1/index?period=2023' | python3 -m json.tool | head -40

 Database:  psql '$DB_URL'
 Logs:      var/log/  (scorer.log, alerter.log, api.log, ingest-<AGENCY>.log)
 Nodes:     var/nodes/<AGENCY>/  (key.json, inbox/, done/, rejected/)
            drop another CSV into an inbox to send it
 Ports:     ingest $INGEST_URL, events $EVENTS_URL, alerts $ALERTS_URL

 Press Ctrl-C to stop everything.
================================================================
EOF

if [[ ${RUN_EXIT_AFTER_LOAD:-0} == 1 ]]; then
	hsi_step "RUN_EXIT_AFTER_LOAD=1: stopping"
	exit 0
fi
while :; do
	sleep 1 &
	wait $! || true
	check_alive
done
