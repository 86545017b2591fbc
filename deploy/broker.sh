#!/usr/bin/env bash
# Runs mosquitto (Debian's mosquitto 2.0) beside an ICS node, admitting the devices that hold
# an operational certificate from the node's CA and refusing revoked ones:
#
#   deploy/broker.sh DATA_DIR [ics broker init options, e.g. --devices 0.0.0.0:8883]
#
# The first run writes the broker's configuration into DATA_DIR/broker (`ics broker init`:
# a TLS certificate from the node's CA, the node's CRL as crlfile, dynamic-security accounts)
# and the node config's `broker` section; restart the node once after it, so that it signals
# the broker after each new CRL and ends revoked devices' sessions. Run the broker as the
# node's user: the node signals it (SIGHUP) and both read DATA_DIR/broker.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:?usage: deploy/broker.sh DATA_DIR [ics broker init options]}"
shift
ics() { node "$here/bin/ics.js" "$@"; }

if [ ! -f "$data/broker/mosquitto.conf" ]; then
  # As root, mosquitto would drop to its own user, who cannot read the node's files.
  user=()
  [ "$(id -u)" -eq 0 ] && user=(--user root)
  ics broker init --data "$data" "${user[@]}" "$@"
fi
# The CRL is the node's: it writes ca/crl.pem when it starts with a CA and an enrol policy.
for _ in $(seq 1 60); do
  [ -s "$data/ca/crl.pem" ] && break
  echo "broker.sh: waiting for the node to write $data/ca/crl.pem (is ics serve running?)" >&2
  sleep 1
done
[ -s "$data/ca/crl.pem" ] || { echo "broker.sh: no CRL at $data/ca/crl.pem: start the node first" >&2; exit 1; }
exec mosquitto -c "$data/broker/mosquitto.conf"
