"""`keyrelay import-v1` and `keyrelay keys`, run as the built binary (KEYRELAY_BINARY) against
gemini-balance databases these tests write themselves and a throwaway KeyRelay store. No output
may contain a key or a token: only fingerprints."""

import datetime
import os
import sqlite3
import subprocess
import time
import uuid
from zoneinfo import ZoneInfo

import pytest

BINARY = os.environ.get("KEYRELAY_BINARY", ".build/debug/keyrelay")
KEYS = ["AIzaSyCLITEST00000000000000000000000001", "AIzaSyCLITEST00000000000000000000000002"]
VERTEX = "AQ.CLITESTvertex000000000000000000000000001"
MALFORMED = "AIzaSy CLI Malformed Key 0000000000000"
TOKENS = ["cli-client-token-one", "cli-client-token-two"]
SECRETS = KEYS + [VERTEX, MALFORMED] + TOKENS
HEADER = ["ID", "KIND", "FINGERPRINT", "LABEL", "STATE", "FAILURES", "LAST ERROR", "MODEL",
          "REQUESTS TODAY", "TOKENS TODAY", "RESETS IN"]
SETTINGS = [
    ("API_KEYS", f'["{KEYS[0]}", "{KEYS[1]}", "{MALFORMED}"]'),
    ("VERTEX_API_KEYS", VERTEX),
    ("ALLOWED_TOKENS", ",".join(TOKENS)),
    ("MAX_FAILURES", "7"),
]
MATRIX = [
    (KEYS[0], "gemini-2.5-flash", 12, 3400, 0, "2025-06-01 20:00:00"),
    (KEYS[1], "gemini-2.5-pro-preview-06-05", 3, 900, 0, "2025-06-02 08:00:00"),
    (VERTEX, "gemini-2.5-flash", 2, 200, 1, "2025-06-02 09:00:00"),
]


def run(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYRELAY_")}
    full_env.update(env or {})
    result = subprocess.run([BINARY, *args], capture_output=True, text=True, env=full_env, timeout=60)
    return result.returncode, result.stdout, result.stderr


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def write_gemini_balance(path):
    """A v2 gemini-balance database (t_settings, t_usage_matrix), schema from the reference."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE t_settings (id INTEGER PRIMARY KEY, key VARCHAR(100) NOT NULL UNIQUE, value TEXT,
            description VARCHAR(255), created_at DATETIME, updated_at DATETIME);
        CREATE TABLE t_usage_matrix (id INTEGER PRIMARY KEY, api_key VARCHAR(100), model_name VARCHAR(100),
            rpm INTEGER DEFAULT 0, tpm INTEGER DEFAULT 0, rpd INTEGER DEFAULT 0,
            total_token_count INTEGER DEFAULT 0, minute_reset_time DATETIME, day_reset_time DATETIME,
            vertex_key BOOLEAN NOT NULL, is_active BOOLEAN DEFAULT 1, is_exhausted BOOLEAN DEFAULT 0,
            last_used DATETIME, UNIQUE (api_key, model_name, vertex_key));
    """)
    db.executemany("INSERT INTO t_settings (key, value) VALUES (?, ?)", SETTINGS)
    db.executemany(
        "INSERT INTO t_usage_matrix (api_key, model_name, rpd, total_token_count, vertex_key, last_used) "
        "VALUES (?, ?, ?, ?, ?, ?)", MATRIX)
    db.commit()
    db.close()


def write_csv(directory):
    def quote(value):
        return '"' + str(value).replace('"', '""') + '"'
    with open(os.path.join(directory, "t_settings.csv"), "w") as f:
        f.write("id,key,value\n")
        for n, (key, value) in enumerate(SETTINGS, 1):
            f.write(f"{n},{quote(key)},{quote(value)}\n")
    with open(os.path.join(directory, "t_usage_matrix.csv"), "w") as f:
        f.write("id,api_key,model_name,rpd,total_token_count,vertex_key,last_used,minute_reset_time\n")
        for n, row in enumerate(MATRIX, 1):
            f.write(f"{n}," + ",".join(quote(v) for v in row) + ",\\N\n")


def history(store):
    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT u.day, u.model, k.kind, u.requests, u.input_tokens, u.total_tokens FROM usage_daily u "
        "JOIN api_keys k ON k.id = u.key_id ORDER BY u.day, u.model, k.kind").fetchall()
    db.close()
    return rows


EXPECTED_HISTORY = [
    ("2025-06-01", "gemini-2.5-flash", "gemini", 12, 0, 3400),
    ("2025-06-02", "gemini-2.5-flash", "vertex", 2, 0, 200),
    ("2025-06-02", "gemini-2.5-pro", "gemini", 3, 0, 900),
]


def test_import_v1_imports_once_and_reports_skips_without_secrets(tmp_path):
    source, store = str(tmp_path / "default_db"), str(tmp_path / "keyrelay.sqlite")
    write_gemini_balance(source)

    code, out, err = run("import-v1", "--from", source, "--database-url", store)
    assert code == 0, err
    assert_no_secret(out, err)
    assert "keys: 3 added, 0 already stored" in out
    assert "allowed tokens: 2 added as hashes" in out
    assert "API_KEYS entry 3" in out and "malformed key" in out
    assert history(store) == EXPECTED_HISTORY
    db = sqlite3.connect(store)
    stored_tokens = db.execute("SELECT value FROM settings WHERE name = 'allowed_tokens'").fetchone()[0]
    db.close()
    assert "sha256:" in stored_tokens and not any(t in stored_tokens for t in TOKENS)

    code, out, err = run("import-v1", "--from", source, "--database-url", store)
    assert code == 0, err
    assert "keys: 0 added, 3 already stored" in out
    assert "0 usage_daily rows written (+0 requests, +0 tokens)" in out
    assert history(store) == EXPECTED_HISTORY


def test_import_v1_dry_run_writes_nothing(tmp_path):
    source, store = str(tmp_path / "default_db"), str(tmp_path / "keyrelay.sqlite")
    write_gemini_balance(source)
    assert run("migrate", "--database-url", store)[0] == 0
    code, out, err = run("import-v1", "--from", source, "--database-url", store, "--dry-run")
    assert code == 0, err
    assert "keys: 3 added" in out and "dry run: nothing was written" in out
    assert history(store) == []


def test_import_v1_reads_csv_exports(tmp_path):
    csv_dir, store = tmp_path / "csv", str(tmp_path / "keyrelay.sqlite")
    csv_dir.mkdir()
    write_csv(str(csv_dir))
    code, out, err = run("import-v1", "--csv-dir", str(csv_dir), "--database-url", store)
    assert code == 0, err
    assert_no_secret(out, err)
    assert history(store) == EXPECTED_HISTORY


def test_import_v1_refuses_a_missing_source(tmp_path):
    code, out, err = run("import-v1", "--from", str(tmp_path / "nope"), "--database-url",
                         str(tmp_path / "k.sqlite"))
    assert code != 0 and "cannot open the source" in err


def today_pacific():
    return datetime.datetime.now(ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%d")


def test_keys_prints_state_usage_and_reset_without_secrets(tmp_path):
    source, store = str(tmp_path / "default_db"), str(tmp_path / "keyrelay.sqlite")
    write_gemini_balance(source)
    assert run("import-v1", "--from", source, "--database-url", store)[0] == 0
    now_ms = int(time.time() * 1000)
    db = sqlite3.connect(store)
    ids = dict(db.execute("SELECT secret, id FROM api_keys").fetchall())
    # Key 2 died, and its last error quotes it (the table must still show only a fingerprint).
    db.execute("UPDATE api_keys SET is_active = 0, failure_count = 3, deactivation_reason = 'max_failures', "
               "last_error = ? WHERE id = ?", (f"API key not valid: {KEYS[1]}", ids[KEYS[1]]))
    # Key 1 used today and rate limited on one model for an hour.
    db.execute("INSERT INTO usage_daily (day, model, key_id, requests, input_tokens, total_tokens) "
               "VALUES (?, 'gemini-2.5-flash', ?, 4, 100, 250)", (today_pacific(), ids[KEYS[0]]))
    db.execute("INSERT INTO key_usage (model, key_id, rpm, tpm, rpd, minute_start, day_start, exhausted_until) "
               "VALUES ('gemini-2.5-pro', ?, 0, 0, 1, ?, ?, ?)",
               (ids[KEYS[0]], now_ms - 1000, now_ms - 1000, now_ms + 3_600_000))
    db.commit()
    db.close()

    code, out, err = run("keys", "--database-url", store)
    assert code == 0, err
    assert_no_secret(out, err)
    lines = out.splitlines()
    for column in HEADER:
        assert column in lines[0]
    by_id = {}
    current = None
    for line in lines[1:]:
        first = line.split()[0] if line.strip() else ""
        if first.isdigit() and line.startswith(first):
            current = int(first)
        by_id.setdefault(current, []).append(line)
    assert set(by_id) == set(ids.values())

    key1 = "\n".join(by_id[ids[KEYS[0]]])
    assert "AIza…0001" in key1 and "exhausted: gemini-2.5-pro" in key1
    assert "gemini-2.5-flash" in key1 and " 4 " in key1 and " 250 " in key1
    assert "59m" in key1 or "1h00m" in key1  # the pro row resets in about an hour

    key2 = by_id[ids[KEYS[1]]][0]
    assert "inactive (max_failures)" in key2 and "AIza…0002" in key2
    assert "API key not valid: AIza…0002" in key2

    vertex = by_id[ids[VERTEX]][0]
    assert "vertex" in vertex and "active" in vertex


def test_keys_refuses_a_missing_database(tmp_path):
    code, out, err = run("keys", "--database-url", str(tmp_path / "none.sqlite"))
    assert code != 0 and "no database" in err
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.skipif("KEYRELAY_TEST_DATABASE_URL" not in os.environ, reason="needs a PostgreSQL test server")
def test_import_and_keys_on_postgres(tmp_path):
    url = os.environ["KEYRELAY_TEST_DATABASE_URL"]
    # The test server's database may hold other rows: use keys of this run only.
    suffix = uuid.uuid4().hex[:12].upper()
    key = f"AIzaSyCLIPG{suffix}000000000000001"
    source = str(tmp_path / "default_db")
    db = sqlite3.connect(source)
    db.executescript("CREATE TABLE t_settings (id INTEGER PRIMARY KEY, key TEXT UNIQUE, value TEXT);")
    db.execute("INSERT INTO t_settings (key, value) VALUES ('API_KEYS', ?)", (key,))
    db.commit()
    db.close()
    code, out, err = run("import-v1", "--from", source, "--database-url", url)
    assert code == 0, err
    assert key not in out + err and "keys: 1 added" in out
    code, out, err = run("keys", "--database-url", url)
    assert code == 0, err
    assert key not in out + err
    assert f"AIza…{key[-4:]}" in out
