#!/usr/bin/env bash
# Runs once, from /docker-entrypoint-initdb.d, when the postgres container starts on an empty data
# directory. Creates one database per service, each owned by its own login role with its own password.
# Passwords come from the container environment (see docker-compose.yml); the defaults are for local
# development only. Re-running is harmless: existing roles get their password reset, nothing is dropped.
set -eo pipefail

create_service_database() {
    local name="$1" password="$2"
    # psql variables (:'name', :"name") quote the values, so passwords may hold any character.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" WITH LOGIN PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
ALTER DATABASE :"name" OWNER TO :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE :"name" TO :"name";
SQL
    echo "init-databases: database '$name' owned by role '$name' is ready"
}

create_service_database gateway "${POSTGRES_GATEWAY_PASSWORD:-gateway-dev}"
create_service_database enrollment "${POSTGRES_ENROLLMENT_PASSWORD:-enrollment-dev}"
create_service_database settlement "${POSTGRES_SETTLEMENT_PASSWORD:-settlement-dev}"
create_service_database ledger "${POSTGRES_LEDGER_PASSWORD:-ledger-dev}"
