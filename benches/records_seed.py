"""Seeds benches/records.sh: an account, a tenant `bench`, a collection
`notes` (title text, n integer, indexed on n) and N records, created with
8 concurrent connections. Writes TOKEN= and RECORD_ID= to the given file."""

import json
import sys
import threading
import urllib.request

BASE, N, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def call(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(BASE + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


token = call("POST", "/v1/auth/signup", {"email": "bench@example.com", "password": "correct horse battery staple"})["access_token"]
call("POST", "/v1/tenants", {"slug": "bench", "name": "Bench"}, token)
call("POST", "/v1/tenants/bench/collections", {
    "name": "notes", "visibility": "tenant", "indexes": [["n"]],
    "fields": [{"name": "title", "type": "text", "required": True}, {"name": "n", "type": "integer"}],
}, token)

first = []


def worker(start, step):
    for i in range(start, N, step):
        record = call("POST", "/v1/tenants/bench/collections/notes/records", {"title": f"note {i}", "n": i % 1000}, token)
        if i == 0:
            first.append(record["id"])


threads = [threading.Thread(target=worker, args=(k, 8)) for k in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with open(OUT, "w") as f:
    f.write(f"TOKEN={token}\nRECORD_ID={first[0]}\n")
