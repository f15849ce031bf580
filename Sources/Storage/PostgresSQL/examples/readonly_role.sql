-- The read-only role for dashboards, as a DBA sets it up. Run as a superuser in the relay's
-- database after `keyrelay migrate` (or: the CREATE ROLE parts as a role with CREATEROLE, the
-- GRANT as the relay's role, which owns the views):
--
--   psql "$ADMIN_URL" -v password="$GRAFANA_PASSWORD" -f SQL/postgres/examples/readonly_role.sql
--
-- Migration 0010 creates keyrelay_readonly itself when the relay's role may, and grants it the
-- views either way; this file is for databases where it may not, and adds a login user.

-- The group role: SELECT on the dashboard views alone, never on api_keys or another table.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyrelay_readonly') THEN
        CREATE ROLE keyrelay_readonly NOLOGIN;
    END IF;
END
$$;
GRANT SELECT ON key_headroom, requests_per_minute, rate_limited_share, tokens_per_day,
    instance_liveness, recent_requests TO keyrelay_readonly;

-- A login for the dashboard tool, a member of the group role and nothing more.
CREATE ROLE keyrelay_dashboard LOGIN PASSWORD :'password' IN ROLE keyrelay_readonly;

-- Check: this must fail with "permission denied for table api_keys".
--   SET ROLE keyrelay_readonly; SELECT secret FROM api_keys; RESET ROLE;
