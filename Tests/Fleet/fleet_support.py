"""Helpers for the fleet tests: the real `keyrelay` binary as one simulator and N relay instances,
each on a free port of 127.0.0.1, all on one PostgreSQL database.

The server comes from `KEYRELAY_TEST_DATABASE_URL` (set by `scripts/with-postgres.sh`); every test
module gets its own fresh database on it (`CREATE DATABASE kr_fleet_<random>`, dropped at teardown),
because pool settings seed an empty `settings` table once and are the truth afterwards. Without
that variable every module here is skipped.

Only the standard library and the `psql` client are used. Keys and tokens are made-up test values
and are never printed: output shows fingerprints (`AIza…0001`)."""

import http.client
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest

BINARY = os.environ.get("KEYRELAY_BINARY", ".build/debug/keyrelay")
SERVER_URL = os.environ.get("KEYRELAY_TEST_DATABASE_URL", "")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

KEYS = [f"AIzaSyFLEET{'0' * 24}{n:04d}" for n in range(1, 5)]
# Keys the simulator accepts but the relays are not started with: the admin tests add them. Their
# fingerprints (AIza…8001) differ from those of KEYS, so a listing by fingerprint tells them apart.
SPARE_KEYS = [f"AIzaSyFLEETSPARE{'0' * 19}{8000 + n:04d}" for n in range(1, 3)]
TOKEN = "fleet-client-token-0123456789"
ADMIN_TOKEN = "fleet-admin-token-0123456789"


def fingerprint(key):
    """How KeyRelay shows a key: its first and last four characters."""
    return f"{key[:4]}…{key[-4:]}"


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_server():
    if not SERVER_URL:
        pytest.skip("KEYRELAY_TEST_DATABASE_URL is not set (run under scripts/with-postgres.sh)",
                    allow_module_level=True)
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed", allow_module_level=True)


# --- PostgreSQL through psql -------------------------------------------------------------------

def with_database(url, name):
    """The same server URL with another database name."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def psql(url, sql, timeout=30):
    """Runs SQL with psql and returns its rows as lists of strings (unaligned, tuples only)."""
    completed = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True, text=True, timeout=timeout,
    )
    if completed.returncode != 0:
        # The URL holds the test role's password: name the statement, not the URL.
        raise RuntimeError(f"psql failed for {sql!r}: {completed.stderr.strip()}")
    return [line.split("\t") for line in completed.stdout.splitlines() if line]


def scalar(url, sql):
    rows = psql(url, sql)
    return rows[0][0] if rows else None


class Databases:
    """Creates fresh databases on the test server and drops them again."""

    def __init__(self, server_url):
        self.server_url = server_url
        self.names = []

    def create(self):
        name = f"kr_fleet_{secrets.token_hex(6)}"
        psql(self.server_url, f"CREATE DATABASE {name}")
        self.names.append(name)
        return with_database(self.server_url, name)

    def drop_all(self):
        for name in self.names:
            try:
                psql(self.server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                print(f"could not drop {name}: {error}")
        self.names.clear()


# --- HTTP --------------------------------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error_status(self):
        try:
            return self.json().get("error", {}).get("status")
        except (ValueError, AttributeError):
            return None


def call(url, method="GET", path="/", body=None, headers=None, timeout=10):
    """One HTTP exchange on a new connection. Raises OSError (timeouts included) on transport
    failures, so a hang shows up as an exception, never as a stuck test."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def generate(url, model, timeout=10):
    return call(url, "POST", f"/v1beta/models/{model}:generateContent",
                body={"contents": [{"parts": [{"text": "fleet test"}]}]},
                headers={"x-goog-api-key": TOKEN}, timeout=timeout)


def admin(url, method, path, body=None, timeout=10):
    return call(url, method, path, body=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=timeout)


def wait_until_healthy(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process on {url} exited early with {process.returncode}")
        try:
            if call(url, path="/health", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}/health not 200 after {timeout}s")


def poll_until(predicate, timeout, interval=0.01):
    """Calls predicate every `interval` seconds until it is true; returns the seconds it took,
    or None after `timeout`."""
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


# --- processes ---------------------------------------------------------------------------------

class Instance:
    def __init__(self, name, url, process, log_path):
        self.name = name
        self.url = url
        self.process = process
        self.log_path = log_path

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""


class Fleet:
    """One simulator and any number of relay instances, all stopped at teardown."""

    def __init__(self, workdir, database_url):
        self.workdir = workdir
        self.database_url = database_url
        self.simulator = None
        self.relays = []
        self._all = []

    def _spawn(self, name, args, env):
        log_path = os.path.join(self.workdir, f"{name}.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen([BINARY, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        return process, log_path

    def start_simulator(self, *extra):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = ["simulate", "--listen", f"127.0.0.1:{port}", "--keys", ",".join(KEYS + SPARE_KEYS), *extra]
        process, log_path = self._spawn("simulator", args, base_environment())
        self.simulator = Instance("simulator", url, process, log_path)
        self._all.append(self.simulator)
        wait_until_healthy_simulator(url, process)
        return self.simulator

    def relay_environment(self, port, settings):
        env = base_environment()
        env.update({
            "KEYRELAY_API_KEYS": ",".join(KEYS),
            "KEYRELAY_ALLOWED_TOKENS": f"fleet:{TOKEN}",
            "KEYRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "KEYRELAY_UPSTREAM_BASE_URL": self.simulator.url,
            "KEYRELAY_DATABASE_URL": self.database_url,
            "KEYRELAY_LISTEN": f"127.0.0.1:{port}",
            "KEYRELAY_LOG_LEVEL": "info",
        })
        for name, value in settings.items():
            env[f"KEYRELAY_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def start_relays(self, count, settings=None, args=()):
        """Starts `count` relays at the same moment (all spawned before any is waited for) and
        returns once every one answers /health with 200."""
        started = []
        for _ in range(count):
            port = free_port()
            name = f"relay{len(self.relays) + 1}"
            env = self.relay_environment(port, settings or {})
            process, log_path = self._spawn(name, ["serve", *args], env)
            instance = Instance(name, f"http://127.0.0.1:{port}", process, log_path)
            self.relays.append(instance)
            self._all.append(instance)
            started.append(instance)
        for instance in started:
            wait_until_healthy(instance.url, instance.process)
        return started

    def simulator_stats(self):
        return call(self.simulator.url, path="/simulator/stats").json()

    def admitted(self, model_prefix=""):
        """Requests the simulator admitted, per key index, for models starting with the prefix."""
        per_key = {}
        for key in self.simulator_stats()["keys"]:
            per_key[key["index"]] = sum(
                counts.get("admitted", 0) for model, counts in key.get("models", {}).items()
                if model.startswith(model_prefix)
            )
        return per_key

    def exited(self):
        return [(i.name, i.process.returncode) for i in self._all if i.process.poll() is not None]

    def stop(self):
        for instance in self._all:
            if instance.process.poll() is None:
                instance.process.terminate()
        for instance in self._all:
            try:
                instance.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()

    def log_text(self):
        text = ""
        for instance in self._all:
            with open(instance.log_path, errors="replace") as log:
                text += log.read()
        return text


def base_environment():
    """The caller's environment without KeyRelay settings, so nothing from outside leaks into an
    instance's configuration."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("KEYRELAY_") or k.startswith("KEYRELAY_TEST_")}


def wait_until_healthy_simulator(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited early with {process.returncode}")
        try:
            if call(url, path="/simulator/stats", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"simulator on {url} not ready after {timeout}s")


def run_threads(target, count):
    """Runs target(i) in `count` threads started together; returns their results in order."""
    results = [None] * count
    barrier = threading.Barrier(count)

    def worker(i):
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as error:  # reported by the caller, per request
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
