"""A change made in SQL or through one instance reaches every instance in under a second.

Each instance is polled every 10 ms, from before the change is made; the latency printed per
instance runs from the moment the change began (psql launched, or the admin request sent: an
upper bound, which includes starting psql) to the first answer that shows it."""

import threading
import time

from fleet_support import SPARE_KEYS, admin, fingerprint, psql

LIMIT_S = 1.0


class Watch:
    """Polls every instance every 10 ms, each in its own thread, until predicate(instance) holds."""

    def __init__(self, instances, predicate, timeout=5.0):
        self.names = [i.name for i in instances]
        self.seen = {}
        self.since = None
        self.threads = [threading.Thread(target=self._poll, args=(i, predicate, timeout)) for i in instances]
        for thread in self.threads:
            thread.start()

    def _poll(self, instance, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate(instance):
                    self.seen[instance.name] = time.monotonic()
                    return
            except OSError:
                pass
            time.sleep(0.01)

    def begin(self):
        """Marks the moment the change begins."""
        self.since = time.monotonic()

    def report(self, what):
        """Waits for every poller, prints the latency per instance and asserts each is < 1 s."""
        for thread in self.threads:
            thread.join()
        found = {n: (max(0.0, self.seen[n] - self.since) if n in self.seen else None) for n in self.names}
        shown = ", ".join(f"{n} {'never' if s is None else f'{s * 1000:.0f} ms'}" for n, s in found.items())
        print(f"{what}: {shown}")
        slow = {n: s for n, s in found.items() if s is None or s >= LIMIT_S}
        assert not slow, f"{what}: not seen within {LIMIT_S} s on {slow}"


def effective(instance, name):
    answer = admin(instance.url, "GET", "/admin/settings", timeout=2)
    assert answer.status == 200, answer.body
    return answer.json()["settings"].get(name)


def listed_keys(instance):
    answer = admin(instance.url, "GET", "/admin/keys", timeout=2)
    assert answer.status == 200, answer.body
    return answer.json()["keys"]


def test_propagation(fleet, database_url):
    fleet.start_simulator()
    relays = fleet.start_relays(3)
    assert all(effective(r, "max_retries") == 3 for r in relays)
    assert all(effective(r, "exhausted_policy") == "cycle" for r in relays)

    # A setting changed in SQL: the settings table is the truth once seeded. The latency includes
    # starting psql; its own share is printed for comparison.
    started = time.monotonic()
    psql(database_url, "SELECT 1")
    print(f"psql start-up and a round trip alone: {(time.monotonic() - started) * 1000:.0f} ms")
    watch = Watch(relays, lambda r: effective(r, "max_retries") == 7)
    watch.begin()
    psql(database_url, "UPDATE settings SET value = '7' WHERE name = 'max_retries'")
    watch.report("UPDATE settings max_retries=7 (SQL)")

    watch = Watch(relays, lambda r: effective(r, "exhausted_policy") == "reject")
    watch.begin()
    psql(database_url, """UPDATE settings SET value = '"reject"' WHERE name = 'exhausted_policy'""")
    watch.report("UPDATE settings exhausted_policy=reject (SQL)")

    # A key added through instance 1 reaches instances 2 and 3.
    shown = fingerprint(SPARE_KEYS[0])
    watch = Watch(relays[1:], lambda r: any(k["fingerprint"] == shown for k in listed_keys(r)))
    watch.begin()
    added = admin(relays[0].url, "POST", "/admin/keys", body={"keys": [SPARE_KEYS[0]], "kind": "gemini"})
    assert added.status == 200, added.body
    entries = added.json()["keys"]
    assert len(entries) == 1 and entries[0]["fingerprint"] == shown
    assert SPARE_KEYS[0] not in added.body.decode(), "the admin API echoed a secret"
    key_id = entries[0]["id"]
    assert key_id in {k["id"] for k in listed_keys(relays[0])}, "instance 1 does not list the key it added"
    watch.report(f"POST /admin/keys on relay1 (id {key_id})")
    assert all(key_id in {k["id"] for k in listed_keys(r)} for r in relays[1:])

    # ...and a key removed through instance 3 leaves every instance.
    watch = Watch(relays, lambda r: key_id not in {k["id"] for k in listed_keys(r)})
    watch.begin()
    removed = admin(relays[2].url, "DELETE", f"/admin/keys/{key_id}")
    assert removed.status == 200, removed.body
    watch.report(f"DELETE /admin/keys/{key_id} on relay3")

    assert not fleet.exited()
