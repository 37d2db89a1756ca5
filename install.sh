#!/usr/bin/env bash
# Installs everything OmniPilot needs on Debian 12 or 13, as root: Slurm + munge + Lua 5.1 with
# luasocket/cjson (the hook), MariaDB + slurmdbd (accounting tests), and a Python virtualenv in
# .venv with the project and its test tools. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages and runs a local Slurm cluster)" >&2
  exit 1
fi

APT_PKGS=(slurmctld slurmd slurm-client munge lua5.1 lua-socket lua-cjson
          mariadb-server slurmdbd python3 python3-venv python3-pip procps)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' own services are not started: the mini cluster runs its own daemons.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${OMNIPILOT_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.omnipilot-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev,nvml]'
  touch "$stamp"
fi
echo "install.sh: ready ($(.venv/bin/python --version), $(dpkg-query -W -f="slurm \${Version}" slurmctld))"
