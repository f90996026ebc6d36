"""Latency probe for benches/identity.sh (standard library only).

Signs up accounts, then measures sequentially, one request at a time:
- 100 successful logins (median and p90, milliseconds);
- 200 failed logins, alternating an unknown email and a wrong password
  (A4: the medians should differ by less than 10 %).
Every request claims its own client address through X-Forwarded-For (the
server trusts 127.0.0.1 as a proxy in this benchmark) and every failure
uses its own account, so throttling does not enter the figures.
Writes an access token for the throughput run to the given file.
"""

import json
import statistics
import sys
import time
import urllib.error
import urllib.request

BASE, TOKEN_FILE = sys.argv[1], sys.argv[2]
PASSWORD = "correct horse battery staple"
counter = 0


def post(path, body):
    global counter
    counter += 1
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "x-forwarded-for": f"10.{counter // 65536 % 256}.{counter // 256 % 256}.{counter % 256}",
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload = error.read()
        status = error.code
    return status, payload, (time.perf_counter() - started) * 1000


def ms(values):
    return f"median {statistics.median(values):.1f} ms, p90 {statistics.quantiles(values, n=10)[-1]:.1f} ms"


status, payload, _ = post("/v1/auth/signup", {"email": "bench@example.com", "password": PASSWORD})
assert status == 201, payload
with open(TOKEN_FILE, "w") as f:
    f.write(json.loads(payload)["access_token"])

logins = []
for _ in range(100):
    status, payload, elapsed = post("/v1/auth/login", {"email": "bench@example.com", "password": PASSWORD})
    assert status == 200, payload
    logins.append(elapsed)

victims = []
for i in range(100):
    email = f"victim{i}@example.com"
    status, payload, _ = post("/v1/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, payload
    victims.append(email)

unknown, wrong, bodies = [], [], set()
for i in range(100):
    status, payload, elapsed = post("/v1/auth/login", {"email": f"nobody{i}@example.com", "password": PASSWORD})
    assert status == 401, payload
    unknown.append(elapsed)
    bodies.add(payload)
    status, payload, elapsed = post("/v1/auth/login", {"email": victims[i], "password": "not the right password"})
    assert status == 401, payload
    wrong.append(elapsed)
    bodies.add(payload)

difference = abs(statistics.median(unknown) - statistics.median(wrong)) / statistics.median(wrong) * 100
print(f"login, 100 sequential (Argon2id m=19456 KiB t=2 p=1): {ms(logins)}")
print(f"failed login, unknown email (100): {ms(unknown)}")
print(f"failed login, wrong password (100): {ms(wrong)}")
print(f"median difference {difference:.1f} % (target < 10 %); distinct response bodies: {len(bodies)} (target 1)")
