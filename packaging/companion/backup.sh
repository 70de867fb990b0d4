#!/bin/sh
# posdesk-backup: dump the companion's PostgreSQL database and keep the newest few dumps.
#
#   DATABASE_URL=postgresql+psycopg://posdesk:...@db:5432/posdesk packaging/companion/backup.sh
#   packaging/companion/backup.sh --every 86400      (the compose file's backup service: once a day)
#
# DATABASE_URL (the companion's own, SQLAlchemy form) or PGURL (libpq form) names the database;
# BACKUP_DIR (default /backups) receives posdesk-<UTC time>.dump (pg_dump's custom format, restored
# with restore.sh); BACKUP_KEEP (default 14) dumps are kept, older ones removed. A dump is written under
# a temporary name and renamed when complete, so a crash never leaves a half dump that looks whole.
set -eu

url=${PGURL:-${DATABASE_URL:?set DATABASE_URL or PGURL}}
url=$(printf '%s' "$url" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')
dir=${BACKUP_DIR:-/backups}
keep=${BACKUP_KEEP:-14}
case $keep in '' | *[!0-9]* | 0) echo "posdesk-backup: BACKUP_KEEP must be a whole number >= 1" >&2; exit 2 ;; esac

backup_once() {
    mkdir -p "$dir"
    stamp=$(date -u +%Y%m%dT%H%M%S%NZ)
    partial="$dir/.posdesk-$stamp.dump.partial"
    trap 'rm -f "$partial"' EXIT
    pg_dump --format=custom --no-owner --no-privileges --dbname="$url" --file="$partial"
    mv "$partial" "$dir/posdesk-$stamp.dump"
    trap - EXIT
    # The glob lists the dumps oldest first (the names sort by time): remove all but the last $keep.
    set -- "$dir"/posdesk-*.dump
    excess=$(($# - keep))
    for old in "$@"; do
        [ "$excess" -gt 0 ] || break
        rm -f -- "$old"
        excess=$((excess - 1))
    done
    echo "posdesk-backup: wrote $dir/posdesk-$stamp.dump, keeping the newest $keep"
}

if [ "${1:-}" = "--every" ]; then
    seconds=${2:?usage: backup.sh --every SECONDS}
    while :; do
        backup_once || echo "posdesk-backup: FAILED, trying again in $seconds s" >&2
        sleep "$seconds"
    done
fi
backup_once
