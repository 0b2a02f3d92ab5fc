"""A fake sevDesk API answering in the documented shapes, for tests and the benchmark.

Objects are kept per resource and served with the ``objects`` envelope, ids and amounts as
strings, limit/offset pagination with ``countAll`` (``total`` as a string), ``updateAfter``
(Unix seconds) and ``depth`` for contacts (without depth=1 only organisations, as sevDesk
does). ``fail`` queues error answers (e.g. 429 with Retry-After, 503) for the next requests.
``respond`` is transport-free: tests mount it on pytest-httpserver, the benchmark on a
tiny http.server thread (``serve``).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

RESOURCES = ("Contact", "CommunicationWay", "Invoice", "Order")


class FakeSevdesk:
    def __init__(self, token: str = "0123456789abcdef0123456789abcdef"):
        self.token = token
        self.objects: dict[str, dict[str, dict]] = {r: {} for r in RESOURCES}
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()

    # building data

    def put(self, resource: str, obj: dict) -> dict:
        """Add or change an object; ``update`` (and ``create`` when new) become ``now``."""
        obj = dict(obj)
        obj["id"] = str(obj["id"])
        stamp = self.now.isoformat()
        old = self.objects[resource].get(obj["id"], {})
        obj.setdefault("create", old.get("create", stamp))
        obj["update"] = stamp
        obj.setdefault("objectName", resource)
        self.objects[resource][obj["id"]] = {**old, **obj}
        return self.objects[resource][obj["id"]]

    def contact(self, id, **fields) -> dict:
        return self.put(
            "Contact",
            {"id": id, "category": {"id": "3", "objectName": "Category"}, "status": "1000"}
            | fields,
        )

    def way(self, id, contact, type, value, *, key="2", main="0") -> dict:
        return self.put(
            "CommunicationWay",
            {
                "id": id,
                "contact": {"id": str(contact), "objectName": "Contact"},
                "type": type,
                "value": value,
                "key": {"id": key, "objectName": "CommunicationWayKey"},
                "main": main,
            },
        )

    def invoice(self, id, contact, **fields) -> dict:
        base = {
            "id": id,
            "invoiceNumber": f"RE-{id}",
            "contact": {"id": str(contact), "objectName": "Contact"},
            "invoiceDate": "2026-02-01T00:00:00+01:00",
            "timeToPay": "14",
            "status": "200",
            "invoiceType": "RE",
            "sumNet": "100",
            "sumTax": "19",
            "sumGross": "119",
            "paidAmount": "0",
            "currency": "EUR",
            "payDate": None,
            "sendDate": None,  # set with sendType when sevDesk sends it (sendBy, sendViaEmail)
            "sendType": None,
            "origin": None,
        }
        old = self.objects["Invoice"].get(str(id))
        return self.put("Invoice", (old or base) | {"id": id} | fields)

    def order(self, id, contact, **fields) -> dict:
        base = {
            "id": id,
            "orderNumber": f"AN-{id}",
            "orderType": "AN",
            "contact": {"id": str(contact), "objectName": "Contact"},
            "orderDate": "2026-02-01T00:00:00+01:00",
            "status": "200",
            "sumNet": "1000",
            "sumGross": "1190",
            "currency": "EUR",
            "sendDate": None,
            "sendType": None,
            "origin": None,
            "headText": None,
            "footText": None,
            "customerInternalNote": None,
        }
        old = self.objects["Order"].get(str(id))
        return self.put("Order", (old or base) | {"id": id} | fields)

    def delivery_note(self, id, contact, *, origin=None, **fields) -> dict:
        """A delivery note (LI), made from the order ``origin`` (its id) if given."""
        link = {"id": str(origin), "objectName": "Order"} if origin is not None else None
        defaults = {"orderType": "LI", "orderNumber": f"LI-{id}", "status": "100"}
        if str(id) not in self.objects["Order"]:
            fields = defaults | {"origin": link} | fields
        return self.order(id, contact, **fields)

    def fail(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        self.failures.extend([(status, headers or {})] * times)

    # answering

    def respond(
        self, path: str, query: dict[str, str], headers
    ) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.requests.append((path, query))
            if self.failures:
                status, extra = self.failures.pop(0)
                return status, extra, b'{"error": {"message": "try again"}}'
        if headers.get("Authorization") != self.token:
            body = {"error": {"message": "Authentication required", "exceptionUUID": "x"}}
            return 401, {}, json.dumps(body).encode()
        resource = path.rstrip("/").rsplit("/", 1)[-1]
        if resource not in self.objects:
            return 404, {}, b'{"error": {"message": "not found"}}'
        items = sorted(self.objects[resource].values(), key=lambda o: int(o["id"]))
        if resource == "Contact" and query.get("depth") != "1":
            items = [o for o in items if o.get("name")]
        if "updateAfter" in query:
            after = int(query["updateAfter"])
            items = [o for o in items if dt.datetime.fromisoformat(o["update"]).timestamp() > after]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        body: dict = {"objects": items[offset : offset + limit]}
        if query.get("countAll") == "true":
            body = {"total": str(len(items)), **body}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def count(self, resource: str) -> int:
        return sum(1 for path, _q in self.requests if path.rstrip("/").endswith("/" + resource))


def serve(fake: FakeSevdesk) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``fake`` on 127.0.0.1 in a daemon thread; returns (server, base url)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            status, headers, body = fake.respond(url.path, dict(parse_qsl(url.query)), self.headers)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/v1"
