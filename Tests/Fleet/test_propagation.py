"""A change made in SQL or through one instance reaches every instance in under a second.

Each instance is polled every 10 ms; the latency printed per instance runs from the moment the
change is known to be committed (psql returned, or the admin call answered) to the first answer
that shows it."""

import threading

from fleet_support import SPARE_KEYS, admin, fingerprint, poll_until, psql

LIMIT_S = 1.0


def latencies(instances, predicate, timeout=5.0):
    """Polls every instance concurrently until predicate(instance) holds; name → seconds or None."""
    found = {}

    def watch(instance):
        found[instance.name] = poll_until(lambda: predicate(instance), timeout)

    threads = [threading.Thread(target=watch, args=(i,)) for i in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def effective(instance, name):
    answer = admin(instance.url, "GET", "/admin/settings", timeout=2)
    assert answer.status == 200, answer.body
    return answer.json()["settings"].get(name)


def key_ids(instance):
    answer = admin(instance.url, "GET", "/admin/keys", timeout=2)
    assert answer.status == 200, answer.body
    return {key["id"] for key in answer.json()["keys"]}


def report(what, found):
    shown = ", ".join(f"{name} {'never' if s is None else f'{s * 1000:.0f} ms'}" for name, s in found.items())
    print(f"{what}: {shown}")
    slow = {name: s for name, s in found.items() if s is None or s >= LIMIT_S}
    assert not slow, f"{what}: not seen within {LIMIT_S} s on {slow}"


def test_propagation(fleet, database_url):
    fleet.start_simulator()
    relays = fleet.start_relays(3)
    assert all(effective(r, "max_retries") == 3 for r in relays)

    # A setting changed in SQL: the settings table is the truth once seeded.
    psql(database_url, "UPDATE settings SET value = '7' WHERE name = 'max_retries'")
    report("UPDATE settings max_retries=7 (SQL)", latencies(relays, lambda r: effective(r, "max_retries") == 7))

    psql(database_url, """UPDATE settings SET value = '"reject"' WHERE name = 'exhausted_policy'""")
    report("UPDATE settings exhausted_policy=reject (SQL)",
           latencies(relays, lambda r: effective(r, "exhausted_policy") == "reject"))

    # A key added through instance 1 reaches instances 2 and 3.
    added = admin(relays[0].url, "POST", "/admin/keys", body={"keys": [SPARE_KEYS[0]], "kind": "gemini"})
    assert added.status == 200, added.body
    entries = added.json()["keys"]
    assert len(entries) == 1 and entries[0]["fingerprint"] == fingerprint(SPARE_KEYS[0])
    assert SPARE_KEYS[0] not in added.body.decode(), "the admin API echoed a secret"
    key_id = entries[0]["id"]
    assert key_id in key_ids(relays[0]), "instance 1 does not list the key it added"
    report(f"POST /admin/keys on relay1 (id {key_id})", latencies(relays[1:], lambda r: key_id in key_ids(r)))

    # ...and a key removed through instance 3 leaves every instance.
    removed = admin(relays[2].url, "DELETE", f"/admin/keys/{key_id}")
    assert removed.status == 200, removed.body
    report(f"DELETE /admin/keys/{key_id} on relay3", latencies(relays, lambda r: key_id not in key_ids(r)))

    assert not fleet.exited()
