"""Fixtures that run the real `keyrelay` binary: a simulator upstream and a relay in front of it,
each on a free port of 127.0.0.1, with a throwaway SQLite file. Their logs are kept so tests can
check that no key ever appears in them."""

import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

BINARY = os.environ.get("KEYRELAY_BINARY", ".build/debug/keyrelay")
KEYS = [
    "AIzaSyINTEGRATION0000000000000000000001",
    "AIzaSyINTEGRATION0000000000000000000002",
    "AIzaSyINTEGRATION0000000000000000000003",
]
VERTEX_KEYS = [
    "AQ.INTEGRATIONvertex000000000000000000000000000000001",
    "AQ.INTEGRATIONvertex000000000000000000000000000000002",
]
TOKEN = "integration-client-token"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        self.processes = []
        self.logs = []

    def start(self, name, args, env, ready_url):
        log_path = os.path.join(self.workdir, f"{name}.log")
        log = open(log_path, "w")
        process = subprocess.Popen([BINARY, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.logs.append(log_path)
        wait_until_ready(ready_url, process)
        return process

    def log_text(self):
        return "".join(open(path).read() for path in self.logs)

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def stack():
    workdir = tempfile.mkdtemp(prefix="keyrelay-it-")
    stack = Stack(workdir)
    sim_port, relay_port = free_port(), free_port()
    stack.start(
        "simulator",
        ["simulate", "--listen", f"127.0.0.1:{sim_port}", "--keys", ",".join(KEYS),
         "--vertex-keys", ",".join(VERTEX_KEYS), "--chunks", "4", "--chunk-delay-ms", "300"],
        dict(os.environ),
        f"http://127.0.0.1:{sim_port}/simulator/stats",
    )
    env = dict(os.environ)
    env.update({
        "KEYRELAY_API_KEYS": ",".join(KEYS),
        "KEYRELAY_ALLOWED_TOKENS": f"sdk:{TOKEN}",
        "KEYRELAY_VERTEX_API_KEYS": ",".join(VERTEX_KEYS),
        "KEYRELAY_UPSTREAM_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "KEYRELAY_VERTEX_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "KEYRELAY_DATABASE_URL": os.path.join(workdir, "relay.sqlite"),
        "KEYRELAY_LISTEN": f"127.0.0.1:{relay_port}",
        "KEYRELAY_LOG_LEVEL": "debug",
    })
    stack.start("relay", ["serve"], env, f"http://127.0.0.1:{relay_port}/health")
    stack.relay_url = f"http://127.0.0.1:{relay_port}"
    stack.database = env["KEYRELAY_DATABASE_URL"]
    stack.simulator_url = f"http://127.0.0.1:{sim_port}"
    yield stack
    stack.stop()
