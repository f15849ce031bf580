-- instance_liveness: the fleet's instances with the seconds since each one's last heartbeat by
-- the database's clock. Instances beat every 10 s, so is_alive allows three missed beats.
CREATE OR REPLACE VIEW instance_liveness AS
SELECT i.id AS instance_id, i.host, i.version, i.started_at, i.heartbeat_at,
    GREATEST(floor(extract(EPOCH FROM now() - i.heartbeat_at)), 0)::BIGINT
        AS seconds_since_heartbeat,
    i.heartbeat_at > now() - INTERVAL '30 seconds' AS is_alive
FROM instances AS i;
