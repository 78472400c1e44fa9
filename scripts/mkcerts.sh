#!/usr/bin/env bash
# scripts/mkcerts.sh: the TLS files of an HSI deployment, made with the
# openssl CLI (docs/tls.md).
#
#   scripts/mkcerts.sh [--force] [--days N] [--san NAME]... DIR [AGENCY...]
#
# Makes in DIR (created 0700 when missing):
#   ca.key, ca.pem    a small CA (EC P-256, 10 years). Keep ca.key offline.
#   scorer.pem        the scorer's server certificate + key. SAN DNS:scorer,
#                     DNS:localhost, IP:127.0.0.1, DNS:127.0.0.1 and each
#                     --san NAME (a host name, or IP:ADDR). nng 1.5.2 checks
#                     the host of the URL a node dials against the SAN with
#                     mbedtls 2.28, which compares it as text with the DNS
#                     names only, so an address is also listed as DNS:ADDR.
#   alerter.pem, api.pem, AGENCY.pem
#                     client certificates + keys, CN=NAME.
# Each NAME.pem holds the certificate and its private key (what tls_cert
# takes); key-bearing files are 0600, ca.pem 0644.
#
# Idempotent: an existing file is kept (and said so) unless --force, so
# running it again with one more AGENCY adds only that agency's file, signed
# by the existing CA. --force makes everything named anew, the CA too: then
# every certificate not remade in the same run is no longer trusted.
# --days N sets the validity of the certificates other than the CA (825).
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit "${1:-2}"
}

FORCE=0
DAYS=825
CA_DAYS=3650
SANS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1 ;;
	--days)
		[ $# -ge 2 ] || usage
		DAYS=$2
		shift
		;;
	--san)
		[ $# -ge 2 ] || usage
		SANS+=("$2")
		shift
		;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*)
		echo "mkcerts.sh: unknown option $1" >&2
		usage
		;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || usage
DIR=$1
shift

case "$DAYS" in
'' | *[!0-9]*)
	echo "mkcerts.sh: --days wants a number of days, got '$DAYS'" >&2
	exit 2
	;;
esac
command -v openssl >/dev/null || {
	echo "mkcerts.sh: openssl not found (apt-get install openssl)" >&2
	exit 1
}

NAMES=(alerter api)
for a in "$@"; do
	if ! [[ $a =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
		echo "mkcerts.sh: '$a' is not a usable agency name (letters, digits, _ . -)" >&2
		exit 2
	fi
	case "$a" in
	ca | scorer)
		echo "mkcerts.sh: '$a' would overwrite the $a file; choose another name" >&2
		exit 2
		;;
	esac
	dup=0
	for n in "${NAMES[@]}"; do
		[ "$n" = "$a" ] && dup=1
	done
	[ "$dup" = 1 ] || NAMES+=("$a")
done

SAN="DNS:scorer,DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1"
for s in "${SANS[@]}"; do
	case "$s" in
	IP:*) SAN="$SAN,$s,DNS:${s#IP:}" ;;
	DNS:*) SAN="$SAN,$s" ;;
	*[!0-9.]*) SAN="$SAN,DNS:$s" ;;
	*) SAN="$SAN,IP:$s,DNS:$s" ;;
	esac
done

if [ ! -d "$DIR" ]; then
	mkdir -p "$(dirname "$DIR")"
	mkdir -m 0700 "$DIR"
fi
TMP=$(mktemp -d "$DIR/.mkcerts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
umask 077

cat >"$TMP/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1" 2>"$TMP/err" || {
		cat "$TMP/err" >&2
		exit 1
	}
}

ossl() {
	openssl "$@" >/dev/null 2>"$TMP/err" || {
		echo "mkcerts.sh: openssl $1 failed:" >&2
		cat "$TMP/err" >&2
		exit 1
	}
}

# keep FILE: true when FILE exists and is to be kept.
keep() {
	if [ -e "$1" ] && [ "$FORCE" = 0 ]; then
		echo "kept $1 (exists; --force to remake)"
		return 0
	fi
	return 1
}

CA_MADE=0
if keep "$DIR/ca.pem"; then
	:
else
	newkey "$TMP/ca.key"
	ossl req -x509 -new -key "$TMP/ca.key" -sha256 -days "$CA_DAYS" \
		-subj "/O=HSI/CN=HSI CA" -config "$TMP/openssl.cnf" \
		-extensions ca -out "$TMP/ca.pem"
	chmod 0600 "$TMP/ca.key"
	chmod 0644 "$TMP/ca.pem"
	mv -f "$TMP/ca.key" "$DIR/ca.key"
	mv -f "$TMP/ca.pem" "$DIR/ca.pem"
	CA_MADE=1
	echo "made $DIR/ca.pem, $DIR/ca.key (CA, $CA_DAYS days; keep ca.key offline)"
fi

# leaf NAME EXTENSIONS: NAME.pem = certificate + key, signed by the CA.
leaf() {
	local name=$1 ext=$2 out="$DIR/$1.pem"
	if [ "$CA_MADE" = 0 ] && keep "$out"; then
		return
	fi
	if [ ! -r "$DIR/ca.key" ]; then
		echo "mkcerts.sh: $DIR/ca.key is needed to sign $out; put the CA key back (it is kept offline) or start a new CA with --force" >&2
		exit 1
	fi
	newkey "$TMP/$name.key"
	ossl req -new -key "$TMP/$name.key" -subj "/O=HSI/CN=$name" \
		-config "$TMP/openssl.cnf" -out "$TMP/$name.csr"
	ossl x509 -req -in "$TMP/$name.csr" -CA "$DIR/ca.pem" \
		-CAkey "$DIR/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days "$DAYS" -sha256 -extfile "$TMP/openssl.cnf" \
		-extensions "$ext" -out "$TMP/$name.crt"
	ossl verify -CAfile "$DIR/ca.pem" -purpose "ssl$ext" "$TMP/$name.crt"
	cat "$TMP/$name.crt" "$TMP/$name.key" >"$TMP/$name.pem"
	chmod 0600 "$TMP/$name.pem"
	mv -f "$TMP/$name.pem" "$out"
	if [ "$ext" = server ]; then
		echo "made $out (server certificate + key, CN=$name, $SAN, $DAYS days)"
	else
		echo "made $out (client certificate + key, CN=$name, $DAYS days)"
	fi
}

leaf scorer server
for n in "${NAMES[@]}"; do
	leaf "$n" client
done
if [ "$CA_MADE" = 1 ]; then
	for f in "$DIR"/*.pem; do
		case "$(basename "$f" .pem)" in
		ca | scorer) continue ;;
		esac
		found=0
		for n in "${NAMES[@]}"; do
			[ "$f" = "$DIR/$n.pem" ] && found=1
		done
		if [ "$found" = 0 ]; then
			echo "warning: $f was signed by the previous CA and is no longer trusted; remake it (name it on the command line)" >&2
		fi
	done
fi
