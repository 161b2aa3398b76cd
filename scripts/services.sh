# The system packages and services the test suite needs (as root on a fresh Debian machine).

# Install what is missing: PostgreSQL (the store tests), openssl (the self-signed
# certificate of the server's TLS test), Chromium (the web UI's end-to-end tests;
# Playwright drives it, never `playwright install`), Node.js and npm (scripts/web).
install_system_packages() {
  local missing=()
  command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Start PostgreSQL with a `tane` role and database (installing it first if needed).
start_postgres() {
  install_system_packages
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
