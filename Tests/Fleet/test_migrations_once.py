"""Instances started at the same moment on an empty database apply each migration once."""

import os

import pytest

from fleet_support import KEYS, REPO, psql

MIGRATIONS = os.path.join(REPO, "SQL", "postgres", "migrations")


def shipped_versions():
    versions = sorted(int(name.split("_", 1)[0]) for name in os.listdir(MIGRATIONS) if name.endswith(".sql"))
    assert versions, f"no migrations in {MIGRATIONS}"
    return versions


@pytest.mark.parametrize("round", [1, 2, 3])
def test_migrations_once(fleet, databases, round):
    # A fresh database per round: the race is on an empty schema each time.
    fleet.database_url = databases.create()
    fleet.start_simulator()
    relays = fleet.start_relays(3)
    assert len(relays) == 3 and not fleet.exited()

    rows = psql(fleet.database_url, "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY 1")
    counts = {int(version): int(count) for version, count in rows}
    assert counts == {version: 1 for version in shipped_versions()}

    # The three seeded the same inputs: each key once, each setting once.
    assert psql(fleet.database_url, "SELECT count(*), count(DISTINCT secret_hash) FROM api_keys") == [
        [str(len(KEYS)), str(len(KEYS))]
    ]
    names = psql(fleet.database_url, "SELECT name FROM settings")
    assert names and len(names) == len({row[0] for row in names})
