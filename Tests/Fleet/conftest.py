"""Fixtures for the fleet tests (helpers in fleet_support.py): a fresh database per module on the
server of `KEYRELAY_TEST_DATABASE_URL`, and a Fleet of real `keyrelay` processes per test."""

import os
import shutil
import tempfile
import urllib.parse

import pytest

from fleet_support import (ADMIN_TOKEN, BINARY, KEYS, SERVER_URL, SPARE_KEYS, TOKEN, Databases, Fleet,
                           fingerprint, require_server)


@pytest.fixture(scope="module")
def databases():
    require_server()
    made = Databases(SERVER_URL)
    yield made
    made.drop_all()


@pytest.fixture(scope="module")
def database_url(databases):
    """A fresh, empty database for this module."""
    return databases.create()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def fleet(request, database_url):
    """A Fleet on this module's database; on failure the tail of every log is printed."""
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"no keyrelay binary at {BINARY} (build it or set KEYRELAY_BINARY)")
    workdir = tempfile.mkdtemp(prefix="keyrelay-fleet-")
    made = Fleet(workdir, database_url)
    yield made
    made.stop()
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        for instance in made._all:
            print(f"--- last lines of {instance.name}.log ---\n{instance.log_tail()}")
    # Every log, not only a failed test's: a secret must never reach one.
    text = made.log_text()
    leaked = [fingerprint(k) for k in KEYS + SPARE_KEYS + [TOKEN, ADMIN_TOKEN] if k in text]
    password = urllib.parse.urlsplit(database_url).password
    if password and password in text:
        leaked.append("the database password")
    shutil.rmtree(workdir, ignore_errors=True)
    assert not leaked, f"secrets (shown by fingerprint) appear in the logs: {leaked}"
