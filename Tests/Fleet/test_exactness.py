"""Three relays on one database never admit more than a key's limit in a window, together.

The limit lives only in the relays' rate-limit table (10 RPM per key for each `fleet-*` model);
the simulator has no limits, so every request a relay lets through is admitted there and counted.
Under `exhausted_policy=reject` 200 requests spread over the three instances must give exactly
4 keys × 10 = 40 upstream calls in that minute, 10 per key, and 160 answers 429 + Retry-After."""

import time

from fleet_support import KEYS, fingerprint, generate, run_threads

MODELS = ["fleet-a", "fleet-b", "fleet-c"]
RPM = 10
REQUESTS = 200
SETTINGS = {
    "exhausted_policy": "reject",
    "rate_limits": {"Free Tier": {m: {"rpm": RPM, "tpm": None, "rpd": None} for m in MODELS}},
}


def start_of_fresh_minute():
    """Waits for the next UTC minute when fewer than 20 s of this one remain (DESIGN.md §10)."""
    remaining = 60 - time.time() % 60
    if remaining < 20:
        time.sleep(remaining + 0.2)


def test_exactness(fleet):
    fleet.start_simulator()
    relays = fleet.start_relays(3, SETTINGS)

    for model in MODELS:
        start_of_fresh_minute()
        minute = int(time.time() // 60)
        started = time.monotonic()
        answers = run_threads(lambda i: generate(relays[i % len(relays)].url, model, timeout=30), REQUESTS)
        elapsed = time.monotonic() - started
        assert int(time.time() // 60) == minute, f"{model}: the run left its minute ({elapsed:.2f} s)"

        failures = [a for a in answers if isinstance(a, BaseException)]
        assert not failures, f"{model}: {len(failures)} requests failed in transport, e.g. {failures[0]!r}"
        statuses = {}
        for answer in answers:
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        per_key = fleet.admitted(model)
        print(f"{model}: statuses {statuses}, admitted per key "
              f"{ {fingerprint(KEYS[i]): n for i, n in sorted(per_key.items()) if i < len(KEYS)} }, "
              f"{elapsed:.2f} s")

        assert sum(per_key.values()) == RPM * len(KEYS), f"{model}: simulator admitted {per_key}"
        assert all(per_key[i] == RPM for i in range(len(KEYS))), f"{model}: per key {per_key}"
        assert statuses.get(200) == RPM * len(KEYS), f"{model}: statuses {statuses}"
        assert statuses.get(429) == REQUESTS - RPM * len(KEYS), f"{model}: statuses {statuses}"
        rejected = [a for a in answers if a.status == 429]
        assert all(a.error_status() == "RESOURCE_EXHAUSTED" for a in rejected)
        assert all(a.headers.get("retry-after", "").isdigit() for a in rejected), "429 without Retry-After"
        assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in rejected)

    assert not fleet.exited()
