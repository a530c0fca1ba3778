#!/usr/bin/env bash
# Times `identity import-django` of N users that real Django made (bulk_create with one
# PBKDF2 hash, each user in a group and with a direct permission), into a fresh
# database: the first import, then a re-run that finds nothing changed.
# Usage: loadtest/django_import.sh sqlite|postgres N
# Environment: IDENTITY_BIN (default target/release/identity), PYTHON (a python with
# the fixture's requirements; default: the test suite's virtualenv under target/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:?sqlite or postgres}
count=${2:?number of users}
bin=${IDENTITY_BIN:-target/release/identity}
python=${PYTHON:-$(ls -d target/tmp/django-venv-*/bin/python 2>/dev/null | head -1)}
[ -x "$python" ] || { echo "no Django virtualenv: run the django_import tests once, or set PYTHON" >&2; exit 1; }
work=$(mktemp -d /tmp/identity-django-import-XXXXXX)
trap 'rm -rf "$work"' EXIT
name="bench_$(date +%s)_$$"
case "$backend" in
    sqlite)
        django_database="$work/django.sqlite3"
        from="sqlite://$django_database"
        target="sqlite://$work/identity.db?mode=rwc" ;;
    postgres)
        psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE ${name}_django" -c "CREATE DATABASE ${name}_identity"
        trap 'rm -rf "$work"; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE ${name}_django" -c "DROP DATABASE ${name}_identity"' EXIT
        django_database="postgres://postgres@127.0.0.1:5432/${name}_django"
        from="$django_database"
        target="postgres://postgres@127.0.0.1:5432/${name}_identity" ;;
    *) echo "sqlite or postgres" >&2; exit 1 ;;
esac
manage() { DJANGO_DATABASE="$django_database" "$python" tests/fixtures/django_project/manage.py "$@"; }
manage migrate -v0
echo "[{\"op\":\"group\",\"name\":\"billing\",\"permissions\":[\"accounts.view_invoice\"]},
      {\"op\":\"bulk\",\"count\":$count,\"prefix\":\"bench\",\"password\":\"bench orchard lantern 42\"}]" \
    | manage apply_fixture >/dev/null
# Every user in the group and with a direct permission: the import's link tables are full.
case "$backend" in
    sqlite) sql() { sqlite3 "$django_database" "$1"; } ;;
    postgres) sql() { psql -q -h 127.0.0.1 -U postgres -d "${name}_django" -c "$1"; } ;;
esac
sql "INSERT INTO accounts_customuser_groups (customuser_id, group_id) SELECT id, (SELECT id FROM auth_group) FROM accounts_customuser"
sql "INSERT INTO accounts_customuser_user_permissions (customuser_id, permission_id) SELECT id, (SELECT id FROM auth_permission WHERE codename = 'view_customuser') FROM accounts_customuser"

run() {
    env -u IDENTITY_CONFIG IDENTITY_DATABASE_URL="$target" IDENTITY_DATA_DIR="$work/data" \
        /usr/bin/time -o "$work/$1.time" -f "%e s wall, %M KiB max RSS" \
        "$bin" import-django --from "$from" >"$work/$1.out" 2>"$work/$1.err" \
        || { cat "$work/$1.err" >&2; exit 1; }
    echo "$1 ($backend, $count users): $(cat "$work/$1.time"); $(grep '^users:' "$work/$1.out")"
}
"$bin" --version >/dev/null
env IDENTITY_DATABASE_URL="$target" IDENTITY_DATA_DIR="$work/data" "$bin" migrate 2>/dev/null
run first
run rerun
