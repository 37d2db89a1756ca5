#!/usr/bin/env bash
# Runs the README's two commands on a fresh Debian 13 (trixie: Slurm 24.11, Python 3.13) from any
# Debian machine, as root: builds a minimal trixie chroot with debootstrap, copies this checkout's
# working tree into it (tracked files and untracked ones git does not ignore; no .venv), runs
#   bash install.sh && .venv/bin/omnipilot demo
#   bash install.sh && .venv/bin/pytest
# inside it, prints a summary, then stops every process started in the chroot and removes its
# mounts and files, also when a step fails or it is interrupted. Not part of the test suite: it
# takes a while (the whole suite runs inside) and needs network access to Debian and PyPI.
#
#   tests/distro/debian13.sh [--keep] [--dir PARENT] [--logs DIR] [--mirror URL] [--suite NAME]
#                            [--no-shared] [--no-cgroup] [--pytest-args 'ARGS']
#
# --keep leaves the chroot (stopped, unmounted) for a look; --dir is where it is built (default
# /var/tmp; about 4 GB); --logs where the logs are kept (default PARENT/omnipilot-debian13-logs-DATE).
# The checkout's sibling ../shared (public data the data tests read), where it exists, is copied
# beside it as on these machines; --no-shared leaves it out (those tests then skip). --no-cgroup does
# not bind /sys/fs/cgroup, as in a bare chroot: the mini cluster must then write CgroupPlugin=disabled.
# --pytest-args runs part of the suite (e.g. 'tests/integration/test_enforce.py -x') to chase one failure.
# What a chroot on these machines needs and why: docs/install.md and ../shared/SLURM_NOTES.md.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd -P)
SUITE=trixie
MIRROR=http://deb.debian.org/debian
PARENT=/var/tmp
LOGS=""
KEEP=0
NEED_GB=6
SHARED=1
CGROUP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --dir) PARENT=$2; shift ;;
    --logs) LOGS=$2; shift ;;
    --mirror) MIRROR=$2; shift ;;
    --suite) SUITE=$2; shift ;;
    --no-shared) SHARED=0 ;;
    --no-cgroup) CGROUP=0 ;;
    --pytest-args) PYTEST_ARGS=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "debian13.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

exec 3>&2  # the terminal: messages reach it even from a trap that fires inside a redirected step
say() { printf '[debian13 %(%H:%M:%S)T] %s\n' -1 "$*" >&3; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mounts need it)"
PARENT=$(cd "$PARENT" && pwd -P)
avail_gb=$(df -P -BG "$PARENT" | awk 'NR==2 {sub("G","",$4); print $4}')
[ "$avail_gb" -ge "$NEED_GB" ] || die "$PARENT has ${avail_gb} GB free; the chroot needs about $NEED_GB GB (use --dir)"
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

CHROOT=$(mktemp -d "$PARENT/omnipilot-$SUITE.XXXXXX")
CHROOT=$(cd "$CHROOT" && pwd -P)
chmod 755 "$CHROOT"  # it is the chroot's /: mktemp's 0700 would shut out _apt, munge, mysql, nobody
LOGS=${LOGS:-$PARENT/omnipilot-debian13-logs-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOGS"
CHECKOUT=/opt/omnipilot   # where a site would put it; ordinary users can read it there

# --- cleanup: processes, then mounts, then files; runs on every exit --------------------------
chroot_pids() {  # processes whose root is the chroot: they share this machine's process list
  local p root
  for p in /proc/[0-9]*; do
    root=$(readlink "$p/root" 2>/dev/null) || continue
    if [ "$root" = "$CHROOT" ]; then echo "${p#/proc/}"; fi
  done
}
chroot_mounts() {  # mount points at or under the chroot, deepest first
  awk -v c="$CHROOT" '$5 == c || index($5, c "/") == 1 {print $5}' /proc/self/mountinfo | sort -r
}
cleanup() {
  local rc=$? pids m i
  trap - EXIT INT TERM
  set +e
  exec >&3 2>&3
  if [ -x "$CHROOT$CHECKOUT/.venv/bin/omnipilot" ] && [ -d "$CHROOT/proc/self" ]; then
    TMO=120 in_chroot "cd $CHECKOUT && .venv/bin/omnipilot cluster down" >>"$LOGS/cleanup.log" 2>&1
  fi
  for sig in TERM KILL; do
    pids=$(chroot_pids)
    [ -z "$pids" ] && break
    say "stopping processes left in the chroot ($sig): $(for i in $pids; do printf '%s(%s) ' "$i" "$(cat "/proc/$i/comm" 2>/dev/null)"; done)"
    # shellcheck disable=SC2086  # one argument per pid
    kill -s "$sig" $pids 2>/dev/null
    for i in $(seq 50); do [ -z "$(chroot_pids)" ] && break; sleep 0.2; done
  done
  for m in $(chroot_mounts); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
  if [ -n "$(chroot_mounts)" ]; then
    # never delete through a mount: /dev and /sys/fs/cgroup are this machine's own
    say "mounts remain under $CHROOT, files kept: $(chroot_mounts | tr '\n' ' ')"
    rc=1
  elif [ "$KEEP" -eq 1 ]; then
    say "chroot kept (stopped, unmounted) in $CHROOT"
  else
    rm -rf --one-file-system "$CHROOT"
  fi
  say "logs in $LOGS"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A clean environment, as on a fresh machine: nothing of this machine's shell (pip settings that
# point at local wheel folders, pyenv on PATH, a virtualenv) leaks in.
in_chroot() {  # TMO=seconds in the caller's environment bounds it (0: no bound)
  # in the background + wait: a signal to this script runs its traps (the cleanup) at once,
  # instead of after the step in the chroot has finished
  timeout "${TMO:-0}" chroot "$CHROOT" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
    /bin/bash -c "$1" &
  wait "$!"
}
timed() {  # timed NAME SECONDS LOGFILE CMD: runs CMD in the chroot, records wall time and exit status
  local name=$1 tmo=$2 log=$3 t0 rc
  t0=$(date +%s.%N)
  set +e
  TMO=$tmo in_chroot "$4" >"$log" 2>&1
  rc=$?
  set -e
  WALL[$name]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
  RC[$name]=$rc
  say "$name: exit $rc after ${WALL[$name]} s (log $log)"
}
declare -A WALL RC

# --- the chroot -----------------------------------------------------------------------------
START=$(date +%s)
t0=$(date +%s.%N)
say "debootstrap --variant=minbase $SUITE into $CHROOT"
debootstrap --variant=minbase "$SUITE" "$CHROOT" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 \
  || die "debootstrap failed: $(tail -n 3 "$LOGS/debootstrap.log")"
WALL[debootstrap]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')

# What these machines (not Debian) need inside any chroot, else pip and slurmd fail:
# the egress proxy's CA certificates
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$CHROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$CHROOT/usr/local/share/ca-certificates/"
fi
cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf"
host=$(hostname -s)
printf '127.0.0.1 localhost %s\n::1 localhost ip6-localhost ip6-loopback\n' "$host" >"$CHROOT/etc/hosts"
# no package's service starts inside the chroot (the mini cluster runs its own daemons)
printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
chmod +x "$CHROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$CHROOT/proc"
mount -t sysfs sysfs "$CHROOT/sys"
# slurmd 24.11 stops with "No filesystem mounted on /sys/fs/cgroup" without it; rslave: unmounting
# the copies never reaches this machine's own cgroup mounts
if [ "$CGROUP" -eq 1 ]; then
  mount --rbind /sys/fs/cgroup "$CHROOT/sys/fs/cgroup"
  mount --make-rslave "$CHROOT/sys/fs/cgroup"
fi
mount --rbind /dev "$CHROOT/dev"   # with /dev/pts and /dev/shm
mount --make-rslave "$CHROOT/dev"
# pip trusts the proxy's CA through Debian's store; update-ca-certificates comes with ca-certificates
in_chroot "apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
  && update-ca-certificates >/dev/null" >"$LOGS/ca-certificates.log" 2>&1 \
  || die "could not install ca-certificates in the chroot: $(tail -n 3 "$LOGS/ca-certificates.log")"
if grep -qs '^cert *=' /etc/pip.conf; then  # this machine tells pip where its CA store is: so does the chroot
  grep '^\[global\]\|^cert *=' /etc/pip.conf >"$CHROOT/etc/pip.conf"
fi

# --- the checkout: the working tree as it is now, without .venv or ignored files ---------------
say "copying the working tree of $REPO to $CHECKOUT"
mkdir -p "$CHROOT$CHECKOUT"
git -C "$REPO" ls-files -z -co --exclude-standard \
  | (cd "$REPO" && while IFS= read -r -d '' f; do
       if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi  # tracked but deleted: skipped
     done) \
  | tar -C "$REPO" --null -T - -cf - | tar -C "$CHROOT$CHECKOUT" -xf -
shared_note="no ../shared"
if [ "$SHARED" -eq 1 ] && [ -d "$REPO/../shared" ]; then
  cp -aL "$REPO/../shared" "$CHROOT$(dirname "$CHECKOUT")/shared"  # -L: ../shared may be a symlink
  shared_note="../shared copied beside it"
fi

# --- the README's two commands ---------------------------------------------------------------
timed install 3600 "$LOGS/install.log" "cd $CHECKOUT && bash install.sh"
if [ "${RC[install]}" -eq 0 ]; then
  timed demo 1800 "$LOGS/demo.log" "cd $CHECKOUT && .venv/bin/omnipilot demo"
  timed install2 600 "$LOGS/install2.log" "cd $CHECKOUT && bash install.sh"
  timed pytest 5400 "$LOGS/pytest.log" "cd $CHECKOUT && .venv/bin/pytest ${PYTEST_ARGS:-}"  # CI allows 90 minutes
fi

# --- summary ---------------------------------------------------------------------------------
debian=$(cat "$CHROOT/etc/debian_version")
slurm=$(in_chroot "dpkg-query -W -f='\${Version}' slurmctld 2>/dev/null" || echo "not installed")
python=$(in_chroot "/usr/bin/python3 --version 2>&1" || echo "none")
pytest_line=$(grep -E '^=+ .*(passed|failed|error).* =+$' "$LOGS/pytest.log" 2>/dev/null | tail -n 1 | sed 's/^=* //; s/ =*$//' || true)
{
  echo "=== Debian 13 chroot: the README's two commands ==="
  echo "Debian $debian ($SUITE, debootstrap minbase), Slurm $slurm, $python (/usr/bin/python3)"
  echo "checkout: working tree of $REPO at $CHECKOUT ($shared_note); /sys/fs/cgroup $( [ "$CGROUP" -eq 1 ] && echo bound from the host || echo not mounted)"
  cg="$CHROOT$CHECKOUT/var/cluster/etc/cgroup.conf"
  echo "demo cluster's cgroup.conf: $( [ -f "$cg" ] && grep -v '^#' "$cg" | tr '\n' ' ' || echo none)"
  echo "debootstrap: ${WALL[debootstrap]} s"
  echo "bash install.sh (fresh):  exit ${RC[install]} in ${WALL[install]} s"
  if [ "${RC[install]}" -ne 0 ]; then
    tail -n 15 "$LOGS/install.log" | sed 's/^/  | /'
  else
    echo "omnipilot demo:           exit ${RC[demo]} in ${WALL[demo]} s"
    { grep -E '^-- .*expect|comment:|NOT AS EXPECTED|unavailable|^omnipilot demo:' "$LOGS/demo.log" || true; } | head -n 30 | sed 's/^/  | /'
    [ "${RC[demo]}" -eq 0 ] || tail -n 10 "$LOGS/demo.log" | sed 's/^/  | /'
    echo "bash install.sh (again):  exit ${RC[install2]} in ${WALL[install2]} s"
    echo "pytest:                   exit ${RC[pytest]} in ${WALL[pytest]} s: ${pytest_line:-no summary line}"
    { grep -E '^(FAILED|ERROR) ' "$LOGS/pytest.log" || true; } | head -n 20 | sed 's/^/  | /'
  fi
  echo "total: $(( $(date +%s) - START )) s; logs: $LOGS"
} | tee "$LOGS/summary.txt"
[ "${RC[install]}" -eq 0 ] && [ "${RC[demo]:-1}" -eq 0 ] && [ "${RC[install2]:-1}" -eq 0 ] && [ "${RC[pytest]:-1}" -eq 0 ]
