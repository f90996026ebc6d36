#!/usr/bin/env python3
"""Counts the round trips Bulkhead makes to PostgreSQL per request, for
benches/roundtrips.sh.  Standard library only.

    pg_roundtrips.py proxy --upstream HOST:PORT --ready FILE
    pg_roundtrips.py count --base URL --control HOST:PORT [--creates 200 --reads 200]

`proxy` is a TCP proxy for PostgreSQL connections that reads the frontend
protocol (what the client sends) and counts, per message type, what passes
through.  A round trip is a message after which the client waits for the
server: each Sync ('S', the end of an extended-protocol batch: Parse, Bind,
Describe, Execute ... Sync) and each simple Query ('Q').  Flush ('H') also
makes the server answer; it is counted apart.  The startup packet has no type
byte; an SSLRequest or GSSENCRequest is answered 'N' by the proxy itself, so
the client goes on in plain text that can be read.  It also remembers, per
connection, the text of every prepared statement (Parse), so that a Bind of a
cached statement is logged with its text.  It writes "HOST:PORT control
HOST:PORT" to the --ready file once it listens.  Its control port takes one
command a line: `reset` (zero the counters and the log) and `snapshot` (one
line of JSON: counts by message type and the log since the last reset).

`count` signs up, creates a tenant and a collection through the HTTP API,
warms up (creates and reads, so that every statement is prepared on the
connections the pool holds), then resets the counter, makes N creates one at
a time, and N reads (GET of one record) one at a time, and prints the round
trips per create and per read, and the round trips of one create with their
statements.
"""
import argparse
import asyncio
import http.client
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
NAMES = {"S": "Sync", "Q": "Query", "P": "Parse", "B": "Bind", "E": "Execute",
         "D": "Describe", "C": "Close", "H": "Flush", "X": "Terminate"}


class Counter:
    """Messages seen since the last reset, over all connections."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.counts = {}
        self.log = []  # (connection, message type, statement text or None)

    def seen(self, conn, kind, text=None):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.log.append((conn, kind, text))

    def snapshot(self):
        return {"counts": self.counts, "log": self.log}


def cstring(buf, at):
    end = buf.index(b"\0", at)
    return buf[at:end].decode(errors="replace"), end + 1


class ClientStream:
    """Reads one client's messages, counts them, and forwards the bytes."""

    def __init__(self, conn, counter):
        self.conn = conn
        self.counter = counter
        self.statements = {}  # prepared statement name -> text, this connection's

    def message(self, kind, body):
        if kind == "P":
            name, at = cstring(body, 0)
            text, _ = cstring(body, at)
            self.statements[name] = text
            self.counter.seen(self.conn, kind, text)
        elif kind == "B":
            _portal, at = cstring(body, 0)
            name, _ = cstring(body, at)
            self.counter.seen(self.conn, kind, self.statements.get(name, f"<statement {name}>"))
        elif kind == "Q":
            self.counter.seen(self.conn, kind, cstring(body, 0)[0])
        else:
            self.counter.seen(self.conn, kind)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def client_to_server(reader, writer, server_writer, stream):
    """The startup phase (untyped packets), then typed messages."""
    try:
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                # no encryption here, or the messages could not be read
                writer.write(b"N")
                await writer.drain()
                continue
            server_writer.write(head + rest)
            await server_writer.drain()
            if code == CANCEL_REQUEST:
                return
            break  # the startup message: typed messages from here on
        while True:
            head = await reader.readexactly(5)
            kind = chr(head[0])
            (length,) = struct.unpack("!i", head[1:])
            body = await reader.readexactly(length - 4)
            stream.message(kind, body)
            server_writer.write(head + body)
            await server_writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        server_writer.close()


async def serve_proxy(args):
    counter = Counter()
    up_host, up_port = args.upstream.rsplit(":", 1)
    next_conn = [0]

    async def on_client(reader, writer):
        next_conn[0] += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(up_host, int(up_port))
        except OSError:
            writer.close()
            return
        stream = ClientStream(next_conn[0], counter)
        await asyncio.gather(client_to_server(reader, writer, s_writer, stream),
                             pipe(s_reader, writer))

    async def on_control(reader, writer):
        while line := await reader.readline():
            command = line.decode().strip()
            if command == "reset":
                counter.reset()
                writer.write(b"ok\n")
            elif command == "snapshot":
                writer.write(json.dumps(counter.snapshot()).encode() + b"\n")
            else:
                writer.write(b"unknown command\n")
            await writer.drain()
        writer.close()

    proxy = await asyncio.start_server(on_client, "127.0.0.1", 0)
    control = await asyncio.start_server(on_control, "127.0.0.1", 0)
    addr = "%s:%d" % proxy.sockets[0].getsockname()[:2]
    caddr = "%s:%d" % control.sockets[0].getsockname()[:2]
    with open(args.ready + ".tmp", "w") as f:
        f.write(f"{addr} control {caddr}\n")
    os.replace(args.ready + ".tmp", args.ready)
    async with proxy, control:
        await asyncio.gather(proxy.serve_forever(), control.serve_forever())


# --------------------------------------------------------------- count --

class Control:
    """The proxy's control port."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.file = self.sock.makefile("rwb")

    def call(self, command):
        self.file.write(command.encode() + b"\n")
        self.file.flush()
        return self.file.readline().decode()

    def reset(self):
        assert self.call("reset").strip() == "ok"

    def settled_snapshot(self, quiet_s=0.3, limit_s=10.0):
        """A snapshot once no message has come for quiet_s: what the server
        sends after its HTTP answer (a connection back into the pool) is
        counted with the request that caused it."""
        last = json.loads(self.call("snapshot"))
        t0 = time.time()
        while time.time() - t0 < limit_s:
            time.sleep(quiet_s)
            now = json.loads(self.call("snapshot"))
            if now == last:
                return now
            last = now
        return last


class Api:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.token = None

    def req(self, method, path, body=None, ok=(200, 201)):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status not in ok:
            sys.exit(f"{method} {path}: HTTP {r.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None


RECORDS = "/v1/tenants/roundtrips/collections/notes/records"


def note(i):
    return {"title": f"note {i}", "body": "round trips", "n": i % 1000}


# A Sync with nothing before it: sqlx pings a connection given back to its
# pool this way (in a task of its own), so the request does not wait for it
# but the connection is not free again until it is answered.
RELEASE_PING = "Sync"


# A statement of its own that only sends notifications: the realtime
# wake-ups Bulkhead sends after a commit, batched, from a task of its own
# (crates/store-postgres/src/notify.rs), which the request does not wait for.
WAKEUP = "SELECT pg_notify("


# A ROLLBACK of its own: Bulkhead drops a read transaction instead of
# awaiting its end, and sqlx queues the ROLLBACK (start_rollback), which goes
# out with the release ping, after the request has its answer.
DROPPED = "ROLLBACK"


def not_waited_for(kinds, texts):
    return kinds == RELEASE_PING or (
        len(texts) == 1 and (texts[0].startswith(WAKEUP) or texts[0] == DROPPED))


def round_trips(snapshot, n):
    """Round trips per request: all of them, and those the request waits for
    (all but sqlx's release pings, the ROLLBACKs they carry, and the wake-ups
    sent after the commit)."""
    counts = snapshot["counts"]
    total = counts.get("S", 0) + counts.get("Q", 0)
    apart = sum(1 for kinds, _, texts in batches(snapshot["log"])
                if not_waited_for(kinds, texts))
    return round(total / n, 2), round((total - apart) / n, 2)


def per(counts, n):
    return {NAMES.get(k, k): round(v / n, 2) for k, v in sorted(counts.items())}


def batches(log):
    """The log as round trips: a Sync (or a Flush) ends the messages sent on
    its connection since the one before, a Query is one by itself.  Each is
    (its messages' names, its connection, the statements it prepares or runs)."""
    out, kinds, texts = [], {}, {}
    for conn, kind, text in log:
        kinds.setdefault(conn, []).append(NAMES.get(kind, kind))
        if kind == "B":
            texts.setdefault(conn, []).append(text)
        elif kind == "P":
            texts.setdefault(conn, []).append("(prepare) " + text)
        elif kind == "Q":
            texts.setdefault(conn, []).append(text)
        if kind in ("S", "Q", "H"):
            out.append((" ".join(kinds.pop(conn)), conn, texts.pop(conn, [])))
    return out


def one_line(sql):
    return " ".join(sql.split())


def count(args):
    api = Api(args.base)
    control = Control(args.control)
    api.token = api.req("POST", "/v1/auth/signup", {
        "email": "roundtrips@bench.local", "password": "bench-pass-123456"})["access_token"]
    api.req("POST", "/v1/tenants", {"slug": "roundtrips", "name": "Round trips"})
    api.req("POST", "/v1/tenants/roundtrips/collections", {
        "name": "notes", "visibility": "tenant", "indexes": [["n"]],
        "fields": [{"name": "title", "type": "text"}, {"name": "body", "type": "text"},
                   {"name": "n", "type": "integer"}]})
    ids = [api.req("POST", RECORDS, note(i))["id"] for i in range(args.warmup)]
    for i in range(args.warmup):
        api.req("GET", f"{RECORDS}/{ids[i % len(ids)]}")
    control.settled_snapshot()

    control.reset()
    one = api.req("POST", RECORDS, note(-1))["id"]
    single = control.settled_snapshot()

    control.reset()
    for i in range(args.creates):
        ids.append(api.req("POST", RECORDS, note(i))["id"])
    creates = control.settled_snapshot()

    control.reset()
    for i in range(args.reads):
        api.req("GET", f"{RECORDS}/{ids[i % len(ids)]}")
    reads = control.settled_snapshot()
    control.reset()
    api.req("GET", f"{RECORDS}/{one}")
    single_read = control.settled_snapshot()

    create_trips, create_waited = round_trips(creates, args.creates)
    read_trips, read_waited = round_trips(reads, args.reads)
    result = {
        "creates": args.creates, "reads": args.reads, "warmup": args.warmup,
        "round_trips_per_create": create_trips,
        "round_trips_per_create_in_request": create_waited,
        "round_trips_per_read": read_trips,
        "round_trips_per_read_in_request": read_waited,
        "messages_per_create": per(creates["counts"], args.creates),
        "messages_per_read": per(reads["counts"], args.reads),
        "one_create": [{"messages": k, "connection": c, "statements": [one_line(s) for s in ss]}
                       for k, c, ss in batches(single["log"])],
        "one_read": [{"messages": k, "connection": c, "statements": [one_line(s) for s in ss]}
                     for k, c, ss in batches(single_read["log"])],
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"round trips to PostgreSQL per create: {create_trips}, {create_waited} of them "
          f"in the request ({args.creates} creates one at a time, after {args.warmup} "
          "creates and reads to warm up)")
    print(f"round trips to PostgreSQL per read:   {read_trips}, {read_waited} of them "
          f"in the request ({args.reads} GETs of one record)")
    print("(the others, which the request does not wait for: sqlx's ping of a connection "
          "given back to its pool, a lone Sync, the ROLLBACK of a dropped read transaction "
          "that goes with it, and the realtime wake-ups sent after commits)")
    if creates["counts"].get("P") or reads["counts"].get("P"):
        print("(statements were still prepared (Parse) in the counted requests: a larger "
              "warm-up would count the steady state)")
    print("messages per create: " + ", ".join(f"{k} {v}" for k, v in
                                              result["messages_per_create"].items()))
    print("messages per read:   " + ", ".join(f"{k} {v}" for k, v in
                                              result["messages_per_read"].items()))
    for label, trips in (("one create", result["one_create"]), ("one read", result["one_read"])):
        print(f"\n{label}: {len([t for t in trips if not t['messages'].endswith('Flush')])} "
              "round trips (and the messages of each)")
        for n, trip in enumerate(trips, 1):
            texts = " | ".join(s[:args.width] for s in trip["statements"]) or (
                "(sqlx's ping of the connection given back to its pool)"
                if trip["messages"] == RELEASE_PING else "(no statement)")
            print(f"  {n:2}. {texts}\n      [{trip['messages']}; connection {trip['connection']}]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--upstream", required=True, help="HOST:PORT of PostgreSQL")
    p.add_argument("--ready", required=True, help="file to write the addresses to")
    c = sub.add_parser("count")
    c.add_argument("--base", required=True, help="Bulkhead's http://HOST:PORT")
    c.add_argument("--control", required=True, help="the proxy's control HOST:PORT")
    c.add_argument("--creates", type=int, default=200)
    c.add_argument("--reads", type=int, default=200)
    c.add_argument("--warmup", type=int, default=50)
    c.add_argument("--width", type=int, default=110, help="characters of a statement shown")
    c.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    if args.cmd == "proxy":
        asyncio.run(serve_proxy(args))
    else:
        count(args)


if __name__ == "__main__":
    main()
