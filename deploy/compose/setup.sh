#!/bin/sh
# Prepare deploy/compose/ for `docker compose up`: a self-signed certificate for a first start
# (replace tls/fullchain.pem and tls/privkey.pem with the real ones) and pgbouncer's userlist
# from deploy/.env (the logins it accepts; readable by its container only).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/tls"
if [ ! -f "$here/tls/privkey.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=${GUAHAO_HOST:-localhost}" \
    -keyout "$here/tls/privkey.pem" -out "$here/tls/fullchain.pem"
fi
# shellcheck disable=SC1091
. "$here/../.env"
umask 077
printf '"guahao_app" "%s"\n"guahao_app_platform" "%s"\n"guahao" "%s"\n' \
  "$GUAHAO_APP_DB_PASSWORD" "$GUAHAO_PLATFORM_DB_PASSWORD" "$GUAHAO_OWNER_DB_PASSWORD" > "$here/userlist.txt"
chmod 0644 "$here/userlist.txt"   # pgbouncer runs as another uid in its container
echo "ready: $here/tls and $here/userlist.txt"
