#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian (or Ubuntu) machine, then the npm
# dependencies from package-lock.json. Idempotent: only missing Debian packages are installed
# (apt-get needs root), and a second run changes nothing.
#
#   scripts/install-test-deps.sh && npm test
#
# Options: --no-npm skips `npm ci` (or set ICS_SKIP_NPM_CI=1), e.g. when node_modules is
# already in use; --check only lists what is missing and exits 1 if anything is.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_ci=1
check_only=0
[ "${ICS_SKIP_NPM_CI:-0}" = 1 ] && npm_ci=0
for arg in "$@"; do
  case "$arg" in
    --no-npm) npm_ci=0 ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-test-deps: unknown option $arg" >&2
      exit 2
      ;;
  esac
done

# What the tests run, and the Debian package that brings it (test/helpers/tools.ts names the
# same package when a test finds the tool missing).
#   gpg, gpgconf  GnuPG interop tests (test/interop/gpg*.test.ts, hkp-gpg, ldap)
#   dirmngr       gpg's keyserver client: --recv-keys / --send-keys over hkp:// and ldap://
#   ldapsearch    OpenLDAP's client against our LDAP server (test/interop/ldap.test.ts)
#   openssl       throwaway certificates for HKPS, LDAPS and StartTLS tests; reads and verifies
#                 what the certificate authority makes (test/enrol/)
#   slaptest      OpenLDAP's server tools: the published LDAP schema must load (test/ldap/schema.test.ts)
#   script        a terminal for the first-run CLI test (util-linux; Essential on Debian)
#   curl          a device's HTTP client against the EST listener (test/est/)
#   mosquitto     the MQTT broker that admits enrolled devices and refuses revoked ones, with
#                 its dynamic-security plugin; mosquitto_pub/_sub as devices and gateways
#                 run them (test/broker/)
#   softhsm2-util SoftHSM 2, the PKCS#11 token that holds CA keys in the tests (test/enrol/pkcs11,
#                 test/est/pkcs11); the node's binding to it is the optional npm dependency
#                 node-webcrypto-p11, which npm ci builds with the machine's C++ compiler
#   chromium      a real browser for the web console's tests (test/console/), driven by the
#                 npm dev dependency playwright-core (which downloads no browser of its own)
#   initdb        PostgreSQL's server (with pg_ctl) for the PostgreSQL store's tests
#                 (test/store/postgres, test/node/postgres): deploy/throwaway-postgres.ts starts
#                 a throwaway server in a temporary directory, as the package's `postgres`
#                 user when the tests run as root (runuser, util-linux, is Essential)
tools=(
  'gpg:gnupg'
  'gpgconf:gpgconf'
  'dirmngr:dirmngr'
  'ldapsearch:ldap-utils'
  'openssl:openssl'
  '/usr/sbin/slaptest:slapd'
  'script:bsdutils'
  'curl:curl'
  '/usr/sbin/mosquitto:mosquitto'
  'mosquitto_pub:mosquitto-clients'
  'softhsm2-util:softhsm2'
  'chromium:chromium'
  'initdb:postgresql'
)

# True when the tool is there. Debian keeps PostgreSQL's server programs under
# /usr/lib/postgresql/<version>/bin, off the PATH: deploy/throwaway-postgres.ts looks there too.
has_tool() {
  case "$1" in
    initdb) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for entry in "${tools[@]}"; do
  tool=${entry%%:*}
  package=${entry#*:}
  if ! has_tool "$tool"; then
    case " ${missing[*]-} " in *" $package "*) ;; *) missing+=("$package") ;; esac
  fi
done

if [ "$check_only" = 1 ]; then
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: every tool the tests need is installed"
    exit 0
  fi
  echo "install-test-deps: missing Debian packages: ${missing[*]}"
  exit 1
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps: every tool the tests need is installed"
else
  echo "install-test-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-test-deps: installing packages needs root (or sudo)" >&2
      exit 1
    fi
  else
    sudo=()
  fi
  export DEBIAN_FRONTEND=noninteractive
  # slapd's maintainer scripts would ask for a domain and admin password (debconf) and start
  # the system service. The tests start their own slapd with their own configuration, so:
  # no questions, no initial database, and no service start (policy-rc.d refusing it, which
  # also keeps the install from failing where no init system runs, as in containers).
  if [[ " ${missing[*]} " == *" slapd "* ]]; then
    echo 'slapd slapd/no_configuration boolean true' | "${sudo[@]}" debconf-set-selections
  fi
  policy_rc=/usr/sbin/policy-rc.d
  own_policy_rc=0
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\n# install-test-deps.sh: no service starts while it installs packages\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
    "${sudo[@]}" chmod 755 "$policy_rc"
    own_policy_rc=1
  fi
  cleanup() { if [ "$own_policy_rc" = 1 ]; then "${sudo[@]}" rm -f "$policy_rc"; fi; }
  trap cleanup EXIT
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  cleanup
  trap - EXIT
  # Check the result rather than trust it: a tool still missing is a broken install.
  for entry in "${tools[@]}"; do
    has_tool "${entry%%:*}" || { echo "install-test-deps: ${entry%%:*} still missing after installing ${entry#*:}" >&2; exit 1; }
  done
fi

if [ "$npm_ci" = 1 ]; then
  npm ci --no-audit --no-fund
else
  echo "install-test-deps: npm ci skipped"
fi
