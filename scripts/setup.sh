#!/usr/bin/env bash
# Installs the Debian packages callrec builds against, only those missing,
# then builds the package. Safe to run again: it skips what is present.
set -euo pipefail

# C libraries callrec links (the -dev packages), the time zone database the
# recording rules read (tzdata), and tools the tests use to check our files the
# way users' tools read them (opusinfo from opus-tools).
# libspandsp-dev: G.711 Appendix I loss concealment, and the G.722 baseline in Benchmarks/.
# libsrtp2-dev: SRTP decryption with the SDES keys from the SDP.
# age and openssl: the reference tools the sealing tests check sealed files and
# signing keys against (callrec's own crypto is swift-crypto, built from source);
# python3 for their zlib (the age test kit) and pseudo-terminal (age -p) helpers.
# sqlite3, unzip, coreutils (sha256sum): the evidence tests tamper with a catalog
# through the sqlite3 shell, as an intruder would, and check manifests and
# evidence bundles with unzip, sha256sum and openssl, as anyone given one would.
# postgresql: the server (initdb, pg_ctl, postgres, psql) the catalog tests start a
# throw-away instance of, and the postgres user they run it as when run as root.
# chromium and chromium-driver: the browser the serve tests drive through WebDriver
# (make browser-test, with selenium from PyPI); wrk, the load of make serve-load.
packages=(libpcap-dev libopus-dev libogg-dev libopusfile-dev libsamplerate0-dev
          libfftw3-dev libsndfile1-dev libsqlite3-dev libspandsp-dev libsrtp2-dev
          tzdata opus-tools age openssl python3 sqlite3 unzip coreutils postgresql
          chromium chromium-driver wrk)

# The commands the tests run, each with the Debian package that provides it:
# a package counts as missing when its command is not on PATH either (age-keygen
# comes with age; the sealing tests run both).
tools=(age:age age-keygen:age opusinfo:opus-tools openssl:openssl python3:python3
       chromium:chromium chromedriver:chromium-driver wrk:wrk)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
for t in "${tools[@]}"; do
  command="${t%%:*}" package="${t##*:}"
  if ! command -v "$command" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
    missing+=("$package")
  fi
done

# The PostgreSQL server binaries are not on PATH in Debian: the tests look in
# /usr/lib/postgresql/<version>/bin (15 or newer), as this does.
postgres_binaries() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
if ! postgres_binaries && [[ " ${missing[*]} " != *" postgresql "* ]]; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --reinstall "${missing[@]}"
  for t in "${tools[@]}"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || { echo "setup: ${t%%:*} is still not on PATH after installing ${t##*:}" >&2; exit 1; }
  done
  postgres_binaries || { echo "setup: no initdb in /usr/lib/postgresql/*/bin after installing postgresql" >&2; exit 1; }
else
  echo "setup: all Debian packages present"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift is not on PATH (Swift 6.1 or later is needed)" >&2
  exit 1
fi
