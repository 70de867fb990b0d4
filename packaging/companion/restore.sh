#!/bin/sh
# posdesk-restore: put a dump made by backup.sh back into the companion's PostgreSQL database.
#
#   DATABASE_URL=postgresql+psycopg://posdesk:...@db:5432/posdesk packaging/companion/restore.sh DUMP
#
# Stop the companions first (docker compose stop companion). Everything the dump holds replaces what
# the database has, in one transaction: a failed restore changes nothing. Then start the companions;
# an older release refuses a dump made by a newer one, with a message (migrations only add).
set -eu

dump=${1:?usage: restore.sh DUMP}
[ -f "$dump" ] || { echo "posdesk-restore: no such file: $dump" >&2; exit 2; }
url=${PGURL:-${DATABASE_URL:?set DATABASE_URL or PGURL}}
url=$(printf '%s' "$url" | sed -E 's#^postgresql\+[a-z0-9]+://#postgresql://#')

pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
    --dbname="$url" "$dump"
echo "posdesk-restore: restored $dump"
