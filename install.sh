#!/usr/bin/env bash
# Installs everything OmniPilot needs on Debian 12 or 13, as root: Slurm + munge + Lua 5.1 with
# luasocket/cjson (the hook), MariaDB + slurmdbd (accounting tests), the system libraries the Python
# wheels load, and a Python virtualenv in .venv on Debian's own /usr/bin/python3 with the project
# (editable: code changes take effect at once) and its test tools. Idempotent: a second run only
# checks. What and why: docs/install.md.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd -P)
# Every user of the cluster runs `omnipilot` from this venv: what we create must be readable by
# all, whatever umask root's shell has (pip writes files with the umask's mode).
umask 022

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages and runs a local Slurm cluster)" >&2
  exit 1
fi

APT_PKGS=(
  slurmctld slurmd slurm-client munge          # the local mini cluster
  lua5.1 lua-socket lua-cjson                  # the job_submit hook (slurmctld embeds Lua 5.1)
  mariadb-server mariadb-client slurmdbd       # accounting (sacct, the harvest tests)
  python3 python3-venv                         # the venv is built on Debian's interpreter
  libgomp1                                     # LightGBM's wheel links OpenMP; minimal installs lack it
  ca-certificates curl                         # pip over HTTPS; fetching data and models
  procps hostname                              # ps/pgrep and `hostname -s` (the vLLM stand-in)
  chromium                                     # the report's browser test (headless; Playwright drives it, no browser download)
)
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
  aptlog=$(mktemp)
  # quiet when it works; when it fails, what apt and the packages' scripts said
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
    tail -n 40 "$aptlog" >&2
    echo "install.sh: apt-get failed (whole output: $aptlog)" >&2
    exit 1
  fi
  rm -f "$aptlog"
fi

# Debian's interpreter, never the first python3 on PATH: a pyenv or conda python in root's home
# is unreadable by other users, and every `omnipilot` command would fail for them.
PY=/usr/bin/python3
PY_VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

venv_problem() {  # prints why the existing .venv cannot be kept; nothing if it can
  local cfg=.venv/pyvenv.cfg home ver
  [ -f "$cfg" ] || { echo "it has no pyvenv.cfg"; return; }
  home=$(sed -n 's/^home *= *//p' "$cfg")
  ver=$(sed -n 's/^version\(_info\)\? *= *//p' "$cfg" | head -n1 | cut -d. -f1,2)
  if [ "$home" != /usr/bin ]; then
    echo "it was built on ${home:-an unknown interpreter}, not Debian's $PY"
  elif [ "$ver" != "$PY_VER" ]; then
    echo "it was built on Python $ver and $PY is now $PY_VER (an upgrade of Debian?)"
  elif ! .venv/bin/python -c 'pass' 2>/dev/null; then
    echo "its interpreter does not run"
  elif [ -e .venv/bin/pip ] && [[ "$(head -n1 .venv/bin/pip)" != "#!$ROOT/.venv/bin/python"* ]]; then
    # scripts and the editable install name the checkout's absolute path
    echo "it was made for a checkout at another path ($(head -n1 .venv/bin/pip | sed 's/^#!//;s,/.venv/bin/python.*$,,'))"
  fi
}

if [ -e .venv ]; then
  why=$(venv_problem)
  if [ -n "$why" ]; then
    echo "install.sh: rebuilding .venv: $why"
    rm -rf .venv
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.omnipilot-installed
# The project is installed editable (code changes need no reinstall); pip runs again only when
# pyproject.toml (dependencies, entry points) changed since the last install.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev,nvml]'
  touch "$stamp"
fi

# Ordinary users need to reach the checkout as well as the venv: say so when they cannot.
unreadable=$(find . -path ./.venv -prune -o -path ./var -prune -o -path ./.git -prune -o \
  \( ! -perm -o=r -o \( -type d ! -perm -o=x \) \) -print -quit 2>/dev/null || true)
blocked=""
d=$ROOT
while [ "$d" != / ]; do
  (( 8#$(stat -c %a "$d") & 1 )) || blocked=$d  # others may not pass through it
  d=$(dirname "$d")
done
if [ -n "$unreadable" ] || [ -n "$blocked" ]; then
  echo "install.sh: note: ordinary users cannot run omnipilot from here (${blocked:+$blocked is closed to others}${unreadable:+${blocked:+; }$unreadable is unreadable to others})." \
       "Put the checkout where they can read it (e.g. /opt/omnipilot) or: chmod -R o+rX $ROOT" >&2
fi
echo "install.sh: ready ($(.venv/bin/python --version) from $PY, $(dpkg-query -W -f="slurm \${Version}" slurmctld))"
