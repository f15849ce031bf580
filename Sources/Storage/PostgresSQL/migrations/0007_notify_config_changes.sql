-- Announces changes to settings, keys and exhaustion marks on the keyrelay_config channel, so
-- every instance follows edits made by another instance or directly in SQL (DESIGN.md §5).
-- Payloads name what changed and never carry a secret: 'setting:<name>', 'key:<id>',
-- 'row:<key_id>:<model>'; a name too long for a payload sends 'resync' (reload everything).
--
-- A transaction that changes many rows at once (the reset job) sets keyrelay.quiet = 'on' with
-- set_config(..., true) and sends one notification of its own instead.

CREATE OR REPLACE FUNCTION keyrelay_notify_setting() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT := CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END;
BEGIN
    IF current_setting('keyrelay.quiet', TRUE) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('keyrelay_config',
            CASE WHEN octet_length(changed) <= 200 THEN 'setting:' || changed ELSE 'resync' END);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION keyrelay_notify_key() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('keyrelay.quiet', TRUE) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('keyrelay_config',
            'key:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION keyrelay_notify_exhaustion() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('keyrelay.quiet', TRUE) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('keyrelay_config',
            CASE WHEN octet_length(NEW.model) <= 200
                THEN 'row:' || NEW.key_id || ':' || NEW.model ELSE 'resync' END);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER settings_notify
    AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH ROW EXECUTE FUNCTION keyrelay_notify_setting();

-- Re-syncing unchanged keys at start-up rewrites rows with equal values: not a change.
CREATE OR REPLACE TRIGGER api_keys_notify_update
    AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION keyrelay_notify_key();

CREATE OR REPLACE TRIGGER api_keys_notify_insert_delete
    AFTER INSERT OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION keyrelay_notify_key();

-- Counters change on every request and are not announced; only exhaustion marks are (429s).
CREATE OR REPLACE TRIGGER key_usage_notify_exhaustion
    AFTER UPDATE OF exhausted_until ON key_usage
    FOR EACH ROW WHEN (OLD.exhausted_until IS DISTINCT FROM NEW.exhausted_until)
    EXECUTE FUNCTION keyrelay_notify_exhaustion();

CREATE OR REPLACE TRIGGER key_usage_notify_new_exhaustion
    AFTER INSERT ON key_usage
    FOR EACH ROW WHEN (NEW.exhausted_until IS NOT NULL)
    EXECUTE FUNCTION keyrelay_notify_exhaustion();
