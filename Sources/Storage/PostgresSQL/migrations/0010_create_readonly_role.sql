-- Creates keyrelay_readonly, a NOLOGIN role for dashboards and analysts, and grants it SELECT
-- on the dashboard views alone: never on api_keys or any other table (DESIGN.md §9). Views run
-- with their owner's rights on the tables, so the role reads them without reading a table.
--
-- Roles belong to the whole server and creating one needs CREATEROLE, which the relay's own
-- role usually lacks. So the role is created only when it does not exist and the migrating
-- role may; otherwise this migration grants to a role a DBA created beforehand, or does
-- nothing (SQL/postgres/examples/readonly_role.sql shows the DBA's part). A view added later
-- must be granted by its own migration in the same guarded way.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyrelay_readonly') THEN
        BEGIN
            CREATE ROLE keyrelay_readonly NOLOGIN;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'keyrelay_readonly not created: this role may not create roles';
            -- Another database of the same server created it at the same moment.
            WHEN duplicate_object OR unique_violation THEN
                NULL;
        END;
    END IF;

    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyrelay_readonly') THEN
        GRANT SELECT ON key_headroom, requests_per_minute, rate_limited_share, tokens_per_day,
            instance_liveness, recent_requests TO keyrelay_readonly;
    END IF;
END
$$;
