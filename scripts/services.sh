# Start the services the test suite needs (as root on a fresh Debian machine).
start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1 \
      || ! command -v chromium >/dev/null 2>&1; then
    # openssl makes the self-signed certificate of the server's TLS test; Chromium runs
    # the web UI's end-to-end tests (Playwright drives it; never `playwright install`).
    echo "==> installing PostgreSQL, openssl and Chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql openssl chromium >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
  until pg_isready -h 127.0.0.1 -p 5432 -q; do sleep 0.2; done
  runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$BEGIN
 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='tane') THEN
   CREATE ROLE tane LOGIN PASSWORD 'tane' CREATEDB;
 ELSE ALTER ROLE tane LOGIN PASSWORD 'tane' CREATEDB; END IF; END$$;
SELECT 'CREATE DATABASE tane OWNER tane' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname='tane')\gexec
SQL
}
