#!/usr/bin/env bash
# Captures a pod's outbound TCP for hbone's client.capture listener, like istio-iptables:
# run it inside the pod's network namespace (an init container, or `ip netns exec`).
#
#   scripts/capture.sh install [--port 15001] [--mark 0x539] [--uid U] [--exclude-ports P,..] [--exclude-cidrs C,..]
#   scripts/capture.sh remove
#
# install redirects (nat REDIRECT) every outbound TCP connection to --port, except:
# hbone's own sockets (socket.mark --mark, and processes of --uid), loopback, the HBONE
# port 15008 and the excluded ports and CIDRs. It is idempotent (the HBONE_OUTPUT chain is
# rebuilt) and prints the rules it installed. remove leaves no rule or chain behind.
# IPv6 gets the same rules when ip6tables works in the namespace.
set -euo pipefail

usage() { sed -n 2,12p "$0" | sed 's/^# \{0,1\}//'; exit 2; }

action=${1:-}
[ -n "$action" ] || usage
shift
port=15001 mark=0x539 uid="" exclude_ports="" exclude_cidrs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --mark) mark=$2; shift 2 ;;
    --uid) uid=$2; shift 2 ;;
    --exclude-ports) exclude_ports=$2; shift 2 ;;
    --exclude-cidrs) exclude_cidrs=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "capture.sh: unknown option $1" >&2; usage ;;
  esac
done

chain=HBONE_OUTPUT
tables=(iptables)
if command -v ip6tables >/dev/null && ip6tables -t nat -S >/dev/null 2>&1; then tables+=(ip6tables); fi

is_v6() { [[ "$1" == *:* ]]; }

remove() {
  local t=$1
  while $t -t nat -D OUTPUT -p tcp -j "$chain" 2>/dev/null; do :; done
  $t -t nat -F "$chain" 2>/dev/null || true
  $t -t nat -X "$chain" 2>/dev/null || true
}

install() {
  local t=$1
  remove "$t"
  $t -t nat -N "$chain"
  $t -t nat -A "$chain" -m mark --mark "$mark" -j RETURN
  [ -z "$uid" ] || $t -t nat -A "$chain" -m owner --uid-owner "$uid" -j RETURN
  $t -t nat -A "$chain" -o lo -j RETURN
  $t -t nat -A "$chain" -p tcp --dport 15008 -j RETURN
  local p c
  for p in ${exclude_ports//,/ }; do $t -t nat -A "$chain" -p tcp --dport "$p" -j RETURN; done
  for c in ${exclude_cidrs//,/ }; do
    if is_v6 "$c"; then [ "$t" = ip6tables ] || continue; else [ "$t" = iptables ] || continue; fi
    $t -t nat -A "$chain" -d "$c" -j RETURN
  done
  $t -t nat -A "$chain" -p tcp -j REDIRECT --to-ports "$port"
  $t -t nat -A OUTPUT -p tcp -j "$chain"
}

case "$action" in
  install)
    for t in "${tables[@]}"; do
      install "$t"
      echo "# $t -t nat (installed)"
      $t -t nat -S OUTPUT | grep -- "-j $chain"
      $t -t nat -S "$chain"
    done
    ;;
  remove)
    for t in "${tables[@]}"; do remove "$t"; echo "# $t -t nat: $chain removed"; done
    ;;
  *) usage ;;
esac
