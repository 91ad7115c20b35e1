#!/usr/bin/env bash
# Captures a pod's outbound TCP for hbone's client.capture listener, like istio-iptables:
# run it inside the pod's network namespace (an init container, or `ip netns exec`).
#
#   scripts/capture.sh install [--port 15001] [--mark 0x539] [--uid U] [--exclude-ports P,..] [--exclude-cidrs C,..]
#   scripts/capture.sh remove
#   scripts/capture.sh node-install --pod-cidr CIDR [--port 15008] [--tproxy-mark 0x100000]
#   scripts/capture.sh node-remove
#   scripts/capture.sh pod-install [--mark 0x539]
#   scripts/capture.sh pod-remove
#
# install redirects (nat REDIRECT) every outbound TCP connection to --port, except:
# hbone's own sockets (socket.mark --mark, and processes of --uid), loopback, the HBONE
# port 15008 and the excluded ports and CIDRs. It is idempotent (the HBONE_OUTPUT chain is
# rebuilt) and prints the rules it installed. remove leaves no rule or chain behind.
# IPv6 gets the same rules when ip6tables works in the namespace.
#
# node-install, in a node's namespace (the node gateway's init container): TCP arriving for
# the node's own pods (--pod-cidr) on port --port goes to the node gateway's transparent
# listener (gateway.transparent: true) instead of into the pod, which need not run a
# sidecar: mangle TPROXY marks it, a policy rule (table 133) delivers marked packets
# locally. The mark must share no bit with socket.mark (0x539). Idempotent; node-remove
# deletes the chain, the rule and the table's route.
#
# pod-install, inside a pod's namespace, for a node proxy (node.zds_socket) serving the pod
# from within it: the rules istio-cni writes for ambient's in-pod mode (istio/istio
# cni/pkg/iptables, its testdata/default.golden), DNS left alone. HBONE to the pod (15008)
# and other inbound TCP (15006) go by TPROXY (mark 0x111, delivered locally by table 100)
# to the proxy's listeners; outbound TCP is REDIRECTed to 15001; sockets with --mark (the
# proxy's own) pass untouched, and so do the connections a TPROXY accepted (their replies
# carry its connmark); IPv6 gets the same when ip6tables works in the namespace.
# pod-remove deletes the chains, the rules and the tables' routes.
set -euo pipefail

usage() { sed -n 2,32p "$0" | sed 's/^# \{0,1\}//'; exit 2; }

action=${1:-}
[ -n "$action" ] || usage
shift
port="" mark=0x539 uid="" exclude_ports="" exclude_cidrs="" pod_cidr="" tproxy_mark=0x100000
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --mark) mark=$2; shift 2 ;;
    --uid) uid=$2; shift 2 ;;
    --exclude-ports) exclude_ports=$2; shift 2 ;;
    --exclude-cidrs) exclude_cidrs=$2; shift 2 ;;
    --pod-cidr) pod_cidr=$2; shift 2 ;;
    --tproxy-mark) tproxy_mark=$2; shift 2 ;;
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

node_chain=HBONE_NODE_INBOUND
node_table=133

# The iptables and ip flavour of a CIDR's family.
family_tools() {
  if is_v6 "$1"; then echo "ip6tables -6"; else echo "iptables -4"; fi
}

node_remove() {
  local t=$1 ipf=$2
  while $t -t mangle -D PREROUTING -p tcp -j "$node_chain" 2>/dev/null; do :; done
  $t -t mangle -F "$node_chain" 2>/dev/null || true
  $t -t mangle -X "$node_chain" 2>/dev/null || true
  while ip "$ipf" rule del fwmark "$tproxy_mark/$tproxy_mark" lookup "$node_table" 2>/dev/null; do :; done
  ip "$ipf" route flush table "$node_table" 2>/dev/null || true
}

node_install() {
  local t ipf any
  read -r t ipf <<<"$(family_tools "$pod_cidr")"
  if is_v6 "$pod_cidr"; then any=::/0; else any=0.0.0.0/0; fi
  node_remove "$t" "$ipf"
  $t -t mangle -N "$node_chain"
  $t -t mangle -A "$node_chain" -p tcp -d "$pod_cidr" --dport "$port" \
    -j TPROXY --on-port "$port" --tproxy-mark "$tproxy_mark/$tproxy_mark"
  $t -t mangle -A PREROUTING -p tcp -j "$node_chain"
  ip "$ipf" rule add fwmark "$tproxy_mark/$tproxy_mark" lookup "$node_table"
  ip "$ipf" route add local "$any" dev lo table "$node_table"
  echo "# $t -t mangle (installed)"
  $t -t mangle -S PREROUTING | grep -- "-j $node_chain"
  $t -t mangle -S "$node_chain"
  echo "# ip $ipf rule / table $node_table (installed)"
  ip "$ipf" rule show | grep "lookup $node_table"
  ip "$ipf" route show table "$node_table"
}

pod_prerouting=HBONE_POD_PRERT
pod_output=HBONE_POD_OUTPUT
pod_tproxy_mark=0x111/0xfff
pod_table=100

# The families a pod's rules are written for: IPv4, and IPv6 when ip6tables works in the
# namespace (istio-cni writes both): "iptables ip-flag loopback any".
pod_families() {
  echo "iptables -4 127.0.0.1/32 0.0.0.0/0"
  if command -v ip6tables >/dev/null && ip6tables -t mangle -S >/dev/null 2>&1; then
    echo "ip6tables -6 ::1/128 ::/0"
  fi
}

pod_remove_family() {
  local t=$1 ipf=$2
  while $t -t mangle -D PREROUTING -j "$pod_prerouting" 2>/dev/null; do :; done
  while $t -t mangle -D OUTPUT -j "$pod_output" 2>/dev/null; do :; done
  while $t -t nat -D OUTPUT -j "$pod_output" 2>/dev/null; do :; done
  local table chain table_chain
  for table_chain in "mangle $pod_prerouting" "mangle $pod_output" "nat $pod_output"; do
    read -r table chain <<<"$table_chain"
    $t -t "$table" -F "$chain" 2>/dev/null || true
    $t -t "$table" -X "$chain" 2>/dev/null || true
  done
  while ip "$ipf" rule del fwmark "$pod_tproxy_mark" lookup "$pod_table" 2>/dev/null; do :; done
  ip "$ipf" route flush table "$pod_table" 2>/dev/null || true
}

pod_remove() {
  local family
  while read -r family; do pod_remove_family $family; done < <(pod_families)
}

pod_install_family() {
  local t=$1 ipf=$2 lo=$3 any=$4 own="$mark/0xfff"
  $t -t mangle -N "$pod_prerouting"
  $t -t mangle -N "$pod_output"
  $t -t nat -N "$pod_output"
  $t -t mangle -A PREROUTING -j "$pod_prerouting"
  $t -t mangle -A OUTPUT -j "$pod_output"
  $t -t nat -A OUTPUT -j "$pod_output"
  # The proxy's own connections to the pod's app (over lo): their replies must reach it.
  $t -t mangle -A "$pod_prerouting" -m mark --mark "$own" -j CONNMARK --set-xmark "$pod_tproxy_mark"
  $t -t mangle -A "$pod_prerouting" -p tcp -m tcp --dport 15008 -m mark ! --mark "$own" \
    -j TPROXY --on-port 15008 --tproxy-mark "$pod_tproxy_mark"
  $t -t mangle -A "$pod_prerouting" -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  $t -t mangle -A "$pod_prerouting" ! -d "$lo" -p tcp -m mark ! --mark "$own" \
    -j TPROXY --on-port 15006 --tproxy-mark "$pod_tproxy_mark"
  $t -t mangle -A "$pod_output" -m connmark --mark "$pod_tproxy_mark" \
    -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
  $t -t nat -A "$pod_output" -p tcp -m mark --mark "$pod_tproxy_mark" -j ACCEPT
  $t -t nat -A "$pod_output" ! -d "$lo" -p tcp -m mark ! --mark "$own" -j REDIRECT --to-ports 15001
  ip "$ipf" rule add fwmark "$pod_tproxy_mark" pref 32764 lookup "$pod_table"
  ip "$ipf" route add local "$any" dev lo table "$pod_table"
  echo "# $t (installed)"
  $t -t mangle -S "$pod_prerouting"
  $t -t mangle -S "$pod_output"
  $t -t nat -S "$pod_output"
  echo "# ip $ipf rule / table $pod_table (installed)"
  ip "$ipf" rule show | grep "lookup $pod_table"
  ip "$ipf" route show table "$pod_table"
}

pod_install() {
  pod_remove
  local family
  while read -r family; do pod_install_family $family; done < <(pod_families)
}

case "$action" in
  install)
    port=${port:-15001}
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
  node-install)
    port=${port:-15008}
    [ -n "$pod_cidr" ] || { echo "capture.sh: node-install needs --pod-cidr CIDR (the node's own pods)" >&2; exit 2; }
    node_install
    ;;
  node-remove)
    node_remove iptables -4
    if command -v ip6tables >/dev/null && ip6tables -t mangle -S >/dev/null 2>&1; then node_remove ip6tables -6; fi
    echo "# $node_chain, rule and table $node_table removed"
    ;;
  pod-install)
    pod_install
    ;;
  pod-remove)
    pod_remove
    echo "# $pod_prerouting, $pod_output, rule and table $pod_table removed"
    ;;
  *) usage ;;
esac
