"""Benchmark intake: signed SMS webhook deliveries and Open311 POSTs becoming tickets.

    .venv/bin/python bench/intake.py [--server uvicorn|granian|both] [--asgi-db per-request|pool]
                                     [--connections 32] [--requests 6000] [--seconds 20]
                                     [--rounds 2] [--warmup 320] [--duplicates 0.2]
                                     [--dup-requests 2000] [--only sms|open311] [--py-spy]
    .venv/bin/python bench/intake.py --profile N
    .venv/bin/python bench/run.py --only intake       (the same, with the defaults)

32 gateway connections on loopback, each sending its next delivery as soon as the last
is answered, against the production servers started here as subprocesses: the ASGI
application under uvicorn (`--workers 2`, uvloop and httptools, no access log), and
the README's server for webhooks, `python -m config.http` (granian serving WSGI with
its production defaults: connections kept alive, threads with persistent database
connections). `--server both` (the default) measures one after the other.
Under uvicorn every request's sync code runs in a thread of its own and a persistent
database connection stays with its thread, so DB_CONN_MAX_AGE=600 leaks one connection
a request until PostgreSQL refuses everyone ("too many clients"): uvicorn gets a new
connection per request (DB_CONN_MAX_AGE=0), or with `--asgi-db pool` psycopg's pool,
which the settings do not offer yet (needs `psycopg[pool]`).

As in production: DEBUG off, each SMS signed afresh (X-Minhu-Timestamp and the HMAC of
MINHU_INTAKE_SECRET_SMS), unique message ids, Chinese reports from valid mainland mobile
numbers; each ticket's acknowledgement SMS joins the broker's list of waiting receipts
after the commit, the first one publishing the drain task (no worker runs: the list and
the task wait in Redis and are counted) and its event is broadcast on the
Redis channel layer (nobody listens: the groups are looked up, nothing is delivered).
Open311 POSTs are form-encoded with one client's api_key (its rate limit raised for the
run, the limiter's Redis counting kept) over five services, two of which ask questions.

Per server and round: the SMS phase (`--requests` deliveries or `--seconds`, whichever
ends first, after `--warmup` unmeasured ones), then the same for Open311 POST; then a
duplicates phase where a `--duplicates` share of the deliveries repeat a message sent
just before on another connection (in flight at the same time) or in an earlier phase.
`--py-spy` adds an SMS phase sampled by py-spy (`pip install py-spy`), unjudged.
Printed: tickets/s, latency p50/p90/p99/max, answers by status, the CPU by process
(others' load shows as "pg other" and "rest"); then exactly-once: every accepted
message kept once with its one ticket, no ticket of the channel without its message,
as many tickets as 201 answers, each repeated message answered 201 once and 200
otherwise with one number, one report event, acknowledgement, waiting receipt and live
message per ticket, and one drain task. Target: at least 400 tickets/s with p99 < 150 ms (MET/MISSED); it
never fails on a figure.

`--profile N` measures N SMS deliveries in this process instead (Django's test client,
the same database and Redis): the SQL statements of one delivery, wall and CPU time by
stage (signature, JSON, queries, COMMIT, broadcast, Celery publish), the hottest functions.

It uses its own database (DATABASE_URL with the name replaced by minhu_bench_intake,
created, migrated and seeded when missing; each run adds its tickets, and the tables
intake writes are vacuumed and analysed before each server's run and before --profile,
and analysed before each phase where autovacuum would, as it keeps them on a production
server) and its own Redis database (13, emptied at the start).
"""

import argparse
import asyncio
import collections
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402
from bench.ws import (  # noqa: E402
    Http,
    HttpError,
    Server,
    _children,
    _free_port,
    _machine_busy,
    _percentile,
    _processes,
    _read_response,
    _wait_until_up,
)

# Production serves collected static files; the webhooks never touch them.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DATABASE_NAME = "minhu_bench_intake"
REDIS_DB = 13
TARGET_PER_SECOND = 400.0
TARGET_P99_MS = 150.0
SMS_SECRET = "bench-intake-sms-secret-0123456789"
OPEN311_CLIENT = "bench"
SMS_PATH = "/intake/sms/"
OPEN311_PATH = "/open311/v2/requests.json"
REQUEST_TIMEOUT = 30.0
# Connections of each uvicorn worker's pool with `--asgi-db pool`.
POOL_SIZE = 8
# Redis keys counted after each server's run: Celery's default queue, and the number of
# live messages reserved for the dispatch centre's group (one per ticket event).
CELERY_QUEUE = "celery"
DISPATCH_SEQUENCE = "minhu:ws:seq:dispatch"

_rule = prepare.rule


# -- what the gateways send -----------------------------------------------------------------

_DISTRICTS = ["江岸区", "江汉区", "硚口区", "汉阳区", "武昌区", "青山区", "洪山区", "东湖高新区"]
_ROADS = ["解放大道", "中山大道", "建设大道", "光谷大道", "珞喻路", "武珞路", "雄楚大道", "和平大道",
          "沿江大道", "民主路", "中南路", "徐东大街", "鹦鹉大道", "友谊大道"]
_PLACES = ["小区", "菜市场门口", "公交站", "地铁站B出口", "小学门口", "十字路口", "社区卫生服务站旁"]
_PROBLEMS = [
    "停水已经{h}个小时了，家里老人孩子没法做饭，请尽快派人处理",
    "路灯不亮{d}天了，晚上行人看不清路，很不安全",
    "井盖破损缺失，车辆和行人都有掉进去的危险",
    "夜间施工噪音扰民，已经连续{d}个晚上施工到凌晨",
    "垃圾桶满了{d}天没人清运，气味很大，苍蝇很多",
    "水管爆裂，路面积水很深，车辆无法通行",
    "自来水发黄有异味，烧开后有沉淀",
    "占道经营严重，人行道被摊位堵死了",
    "下水道堵塞，污水漫到路面上",
    "电梯故障停运{d}天，物业一直不修",
    "共享单车乱停乱放，堵住了小区出入口",
    "红绿灯坏了{h}个小时，路口车辆乱成一团",
]
_ENDINGS = ["", "谢谢！", "麻烦尽快处理。", "已经反映过好几次了，一直没人管。", "希望相关部门重视。"]
_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                    "153", "155", "156", "157", "158", "159", "166", "170", "173", "176", "177", "178",
                    "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199"]
# (service_code, its questions' answers as form fields) of the seeded services.
_SERVICES = [
    ("water-outage", {}),
    ("pipe-burst", {}),
    ("water-quality", {}),
    ("street-light", {"attribute[fault_kind]": ["dark", "flickering", "on_by_day"]}),
    ("road-damage", {"attribute[area_m2]": ["0.5", "2", "3.5", "12"]}),
]


def report_text(rng: random.Random) -> str:
    """A citizen's report as typed: district, road, house number, place, the problem."""
    problem = rng.choice(_PROBLEMS).format(h=rng.randint(2, 30), d=rng.randint(2, 9))
    return (f"{rng.choice(_DISTRICTS)}{rng.choice(_ROADS)}{rng.randint(1, 888)}号"
            f"{rng.choice(_PLACES)}{problem}。{rng.choice(_ENDINGS)}")


def mobile(rng: random.Random) -> str:
    """A valid mainland mobile number, now and then written the way phones show it."""
    number = rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    shape = rng.random()
    if shape < 0.05:
        return "+86" + number
    if shape < 0.08:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number


@dataclasses.dataclass
class Delivery:
    """One POST as a gateway makes it, and what came back."""

    kind: str  # "sms" or "open311"
    key: str  # the SMS message_id, or the Open311 request's own label
    body: bytes
    repeat: bool = False  # an SMS delivered before (a gateway's retry)
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    data: bytes = b""
    error: str | None = None

    def request(self) -> tuple[str, str, dict[str, str]]:
        """Return (path, content type, headers), signed now as the gateway signs."""
        if self.kind == "sms":
            from tickets.intake.common import sign

            stamp = str(int(time.time()))
            return SMS_PATH, "application/json", {
                "X-Minhu-Timestamp": stamp, "X-Minhu-Signature": sign(SMS_SECRET, stamp, self.body),
            }
        return OPEN311_PATH, "application/x-www-form-urlencoded", {}

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.sent) * 1000

    @property
    def number(self) -> str | None:
        """The ticket number answered, or None."""
        try:
            answer = json.loads(self.data)
        except ValueError:
            return None
        if self.kind == "sms":
            return answer.get("number") if isinstance(answer, dict) else None
        return answer[0].get("service_request_id") if isinstance(answer, list) and answer else None

    @property
    def token(self) -> str | None:
        answer = json.loads(self.data)
        return answer[0].get("token")

    @property
    def is_new(self) -> bool:
        """Whether the answer says a ticket was opened."""
        return self.status == (201 if self.kind == "sms" else 200)


def sms_deliveries(tag: str, count: int, rng: random.Random) -> list[Delivery]:
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 8 * 3600))
    return [Delivery("sms", f"{tag}-{i:06d}", json.dumps({
        "message_id": f"{tag}-{i:06d}", "from": mobile(rng), "text": report_text(rng),
        "received_at": sent_at,
    }, ensure_ascii=False).encode()) for i in range(count)]


def open311_deliveries(tag: str, count: int, rng: random.Random, api_key: str) -> list[Delivery]:
    deliveries = []
    for i in range(count):
        code, questions = _SERVICES[i % len(_SERVICES)]
        form = {"api_key": api_key, "service_code": code, "description": report_text(rng)}
        if rng.random() < 0.7:
            form["lat"] = f"{rng.uniform(30.45, 30.65):.6f}"
            form["long"] = f"{rng.uniform(114.20, 114.45):.6f}"
        else:
            form["address_string"] = (f"{rng.choice(_DISTRICTS)}{rng.choice(_ROADS)}"
                                      f"{rng.randint(1, 888)}号")
        if rng.random() < 0.7:
            form["phone"] = mobile(rng)
        form |= {name: rng.choice(values) for name, values in questions.items()}
        body = urllib.parse.urlencode(form).encode()
        deliveries.append(Delivery("open311", f"{tag}-{i:06d}", body))
    return deliveries


def with_repeats(deliveries: list[Delivery], earlier: list[Delivery], share: float,
                 rng: random.Random) -> list[Delivery]:
    """Return the deliveries with a `share` of repeats among them, as a gateway that retried:
    three in four of a message a few places before (another connection has it in flight),
    the rest of one delivered in an earlier phase (long committed)."""
    out: list[Delivery] = []
    originals: list[Delivery] = []
    for delivery in deliveries:
        if originals and rng.random() < share:
            if earlier and rng.random() < 0.25:
                source = rng.choice(earlier)
            else:
                source = originals[-rng.randint(1, min(8, len(originals)))]
            out.append(Delivery("sms", source.key, source.body, repeat=True))
        out.append(delivery)
        originals.append(delivery)
    return out


# -- the servers --------------------------------------------------------------------------


def start_server(kind: str, env: dict[str, str], asgi_db: str) -> Server:
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    if kind == "uvicorn":
        application = (["bench.intake:pooled_asgi", "--factory"] if asgi_db == "pool"
                       else ["config.asgi:application"])
        command = [str(bin_dir / "uvicorn"), *application, "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "2", "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        # Under ASGI each request's sync code runs in a thread of its own, and a persistent
        # connection stays with its thread: DB_CONN_MAX_AGE=600 leaks one per request until
        # PostgreSQL refuses more ("too many clients"), for every user of that server.
        env = {**env, "DB_CONN_MAX_AGE": "0"}
    else:
        # As production runs it: config.http's workers, threads and keep-alive.
        command = [sys.executable, "-m", "config.http", "--host", "127.0.0.1", "--port", str(port)]
    return Server(f"intake-{kind}", command, port, env, 4096)


def pooled_asgi():
    """The ASGI application with psycopg's connection pool (`uvicorn --factory
    bench.intake:pooled_asgi`): what enabling the pool in the settings would give, measured."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    database = settings.DATABASES["default"]
    database["CONN_MAX_AGE"] = 0
    database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": POOL_SIZE, "max_size": POOL_SIZE, "timeout": 10,
    }
    from config.asgi import application

    return application


def _tree(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo += _children(current)
    return found


def _role(pid: int, command: str, server: set[int]) -> str | None:
    """Which of the roles CpuWatch counts a process has, or None (it counts in "rest")."""
    if pid in server:
        return "server"
    if pid == os.getpid():
        return "client"
    if command.startswith("postgres"):
        return "postgres" if f" {DATABASE_NAME} " in command else "postgres other"
    return "redis" if "redis-server" in command else None


class CpuWatch:
    """CPU used between start() and stop(): the server's processes, this client, the
    benchmark's PostgreSQL backends, the rest of PostgreSQL, Redis, and everything else
    (the kernel's own work, other processes, processes that ended meanwhile)."""

    def __init__(self, server: Server):
        self.server = server

    def start(self) -> None:
        self.before, self.busy_before, self.at = _processes(), _machine_busy(), time.monotonic()

    def stop(self) -> dict[str, float]:
        after, busy = _processes(), _machine_busy() - self.busy_before
        server = _tree(self.server.pid)
        used: dict[str, float] = collections.Counter()
        for pid, (seconds, command) in after.items():
            role = _role(pid, command, server)
            if role is not None:
                used[role] += seconds - self.before.get(pid, (0.0, ""))[0]
        used["rest"] = busy - sum(used.values())
        return {**used, "machine": busy, "window": time.monotonic() - self.at}


# -- the gateways -----------------------------------------------------------------------------


class Connection(Http):
    """bench/ws.py's HTTP/1.1 connection, kept alive while the server allows, sending a
    gateway's body and headers; it counts its dials (a server that closes the
    connection after each answer makes the next request dial again)."""

    def __init__(self, port: int):
        super().__init__(port, token="")
        self.dials = 0

    async def send(self, method: str, path: str, content_type: str = "", body: bytes = b"",
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.dials += 1
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                 "Accept: application/json", f"Content-Length: {len(body)}",
                 *([f"Content-Type: {content_type}"] if content_type else []),
                 *(f"{name}: {value}" for name, value in (headers or {}).items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status, answer_headers, data = await _read_response(self.reader)
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return status, data


async def _gateway(connection: Connection, queue: collections.deque, done: list[Delivery],
                   stop_at: float) -> None:
    try:
        while queue and time.monotonic() < stop_at:
            delivery = queue.popleft()
            path, content_type, headers = delivery.request()
            delivery.sent = time.monotonic()
            try:
                sending = connection.send("POST", path, content_type, delivery.body, headers)
                delivery.status, delivery.data = await asyncio.wait_for(sending, REQUEST_TIMEOUT)
                delivery.answered = time.monotonic()
            except (OSError, HttpError, asyncio.IncompleteReadError, TimeoutError) as error:
                delivery.error = f"{type(error).__name__}: {error}"
                connection.close()
            done.append(delivery)
    finally:
        connection.close()


@dataclasses.dataclass
class Phase:
    name: str
    done: list[Delivery]
    seconds: float  # from the first request sent to the last answer
    dials: int
    cpu: dict[str, float] | None = None
    measured: bool = True  # one of the rounds judged against the target

    @property
    def answered(self) -> list[Delivery]:
        return [d for d in self.done if d.answered is not None]

    @property
    def new_tickets(self) -> int:
        return sum(d.is_new for d in self.done)

    @property
    def per_second(self) -> float:
        return self.new_tickets / self.seconds if self.seconds else 0.0

    def latency(self, p: float) -> float:
        return _percentile([d.latency_ms for d in self.answered], p)

    @property
    def statuses(self) -> collections.Counter:
        return collections.Counter(d.status if d.error is None else d.error.split(":")[0]
                                   for d in self.done)

    @property
    def verdict(self) -> str:
        met = self.per_second >= TARGET_PER_SECOND and self.latency(99) < TARGET_P99_MS
        return "MET" if met else "MISSED"


async def _deliver(port: int, deliveries: list[Delivery], connections: int,
                   seconds: float | None) -> Phase:
    queue = collections.deque(deliveries)
    done: list[Delivery] = []
    started = time.monotonic()
    stop_at = started + seconds if seconds else float("inf")
    gateways = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(_gateway(c, queue, done, stop_at) for c in gateways))
    last = max((d.answered for d in done if d.answered is not None), default=time.monotonic())
    return Phase("", done, last - started, sum(c.dials for c in gateways))


def _run(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def deliver(server: Server, name: str, deliveries: list[Delivery], *, connections: int,
            seconds: float | None = None, watch: bool = True) -> Phase:
    cpu = CpuWatch(server)
    if watch:
        cpu.start()
    phase = _run(_deliver(server.port, deliveries, connections, seconds))
    phase.name = name
    if watch:
        phase.cpu = cpu.stop()
    return phase


class Sampler:
    """py-spy sampling the server's processes (every thread) while a phase runs."""

    def __init__(self, server: Server):
        handle, self.output = tempfile.mkstemp(prefix=f"minhu-bench-intake-{server.name}-",
                                               suffix=".stacks")
        os.close(handle)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid),
             "--subprocesses", "--format", "raw", "--rate", "100", "--output", self.output],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # it attaches to each process first

    def stop(self) -> list[tuple[list[str], int]]:
        """Stop sampling; return the stacks (outermost frame first) and their sample counts."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)
        stacks = []
        for line in Path(self.output).read_text(errors="replace").splitlines():
            frames, _, count = line.rpartition(" ")
            if frames and count.isdigit():
                stacks.append((frames.split(";"), int(count)))
        return stacks


# (label, function, file it is in): shares of the samples whose stack holds that frame.
_VIEW = ("view", "tickets/intake/views.py")
_SENDER_THREAD = ("_serve", "tickets/broadcast.py")
_PARTS = [
    ("  signature", "verify_signature", "tickets/intake/common.py"),
    ("  JSON", "read_object", "tickets/intake/common.py"),
    ("  already_received (SELECT under the lock)", "already_received", "tickets/intake/common.py"),
    ("  advisory lock", "lock", "tickets/intake/common.py"),
    ("  intake category (remembered)", "intake_category", "tickets/intake/common.py"),
    ("  ticket_create", "ticket_create", "tickets/services.py"),
    ("  leaving the transaction: COMMIT, then the on-commit work", "__exit__",
     "django/db/transaction.py"),
    ("    acknowledgement handed to the workers (list push)", "queue_events", "tickets/notifications.py"),
    ("      Celery publish", "apply_async", "celery/app/task.py"),
    ("    broadcast: waiting for the sender thread", "send", "tickets/broadcast.py"),
    ("across the view: compiling SQL (Django ORM)", "as_sql", "django/db/models/sql/compiler.py"),
    ("across the view: connection health check (SELECT 1)", "close_if_health_check_failed",
     "django/db/backends/base/base.py"),
]
# Leaf frames where a thread waits for a socket (PostgreSQL, Redis, the next connection):
# py-spy counts them while the thread is runnable, on a machine short of CPU most of all.
_WAITS = {("wait", "psycopg/connection.py"), ("_execute_send", "psycopg/client_cursor.py"),
          ("select", "selectors.py"), ("_read_from_socket", "redis/_parsers/socket.py"),
          ("wait", "threading.py"), ("accept", "socket.py"), ("wait_for", "asyncio/tasks.py")}


def _frame(text: str) -> tuple[str, str]:
    """("Class.function (path:line)") -> (function, path)."""
    name, _, where = text.rpartition(" (")
    return name.rsplit(".", 1)[-1], where.rsplit(":", 1)[0]


def sample_shares(stacks: list[tuple[list[str], int]]) -> tuple[float, list[tuple[str, float]]]:
    """Return the share of samples waiting on a socket, and (what, share of the other samples):
    the split of the server's CPU, as far as sampling tells."""
    total = sum(n for _, n in stacks) or 1
    waiting = 0
    shares: dict[str, int] = collections.Counter()
    for frames, n in stacks:
        parsed = [_frame(f) for f in frames]
        if parsed[-1] in _WAITS:
            waiting += n
            continue
        held = set(parsed)
        if _SENDER_THREAD in held:
            shares["the broadcast thread (channel layer, Redis)"] += n
        elif _VIEW in held:
            shares["the view"] += n
            for label, function, path in _PARTS:
                shares[label] += n * ((function, path) in held)
        elif any("django/" in path for _, path in parsed):
            shares["Django outside the view (handler, middleware)"] += n
        else:
            shares["the server outside Django (HTTP, workers, event loop)"] += n
    active = max(total - waiting, 1)
    order = ["the server outside Django (HTTP, workers, event loop)",
             "Django outside the view (handler, middleware)", "the view",
             *(label for label, _, _ in _PARTS), "the broadcast thread (channel layer, Redis)"]
    return waiting / total, [(label, shares[label] / active) for label in order]


# -- what the database and Redis hold afterwards ------------------------------------------


@dataclasses.dataclass
class Mark:
    """Where the database and Redis stood before a server's run."""

    ticket_id: int
    celery: int
    waiting: int
    dispatch: int


def mark(redis_client) -> Mark:
    from django.db.models import Max

    from tickets.models import Ticket

    from tickets.notifications import WAITING_EVENTS

    return Mark(Ticket.objects.aggregate(m=Max("id"))["m"] or 0, redis_client.llen(CELERY_QUEUE),
                redis_client.llen(WAITING_EVENTS), int(redis_client.get(DISPATCH_SEQUENCE) or 0))


def verify(kind: str, deliveries: list[Delivery], since: Mark) -> list[tuple[str, int, int]]:
    """Return (check, found, expected) rows for the deliveries of one channel."""
    from django.db.models import Count

    from tickets.models import Channel, InboundMessage, Notification, Ticket, TicketEvent

    channel = Channel.SMS if kind == "sms" else Channel.OPEN311
    answered = [d for d in deliveries if d.status in (200, 201)]
    if kind == "sms":
        # message_id -> every number answered for it
        accepted = collections.defaultdict(set)
        for d in answered:
            accepted[d.key].add(d.number)
    else:
        accepted = {d.token: {d.number} for d in answered}
    kept = collections.defaultdict(list)
    for chunk in range(0, len(accepted), 5000):
        keys = list(accepted)[chunk:chunk + 5000]
        for external_id, number in (InboundMessage.objects.filter(channel=channel, external_id__in=keys)
                                    .values_list("external_id", "ticket__number")):
            kept[external_id].append(number)
    tickets = Ticket.objects.filter(channel=channel, id__gt=since.ticket_id)
    new = tickets.count()
    rows = [
        ("accepted messages kept", sum(1 for k in accepted if k in kept), len(accepted)),
        ("  kept more than once", sum(1 for k in accepted if len(kept.get(k, [])) > 1), 0),
        ("  answered with another ticket than kept",
         sum(1 for k, numbers in accepted.items() if k in kept and numbers != set(kept[k])), 0),
        (f"new {channel} tickets (= {'201' if kind == 'sms' else '200'} answers)", new,
         sum(d.is_new for d in deliveries)),
        ("  without their message", tickets.filter(inbound_messages__isnull=True).count(), 0),
        ("  with more than one message",
         tickets.annotate(n=Count("inbound_messages")).filter(n__gt=1).count(), 0),
        ("  report events", TicketEvent.objects.filter(ticket__in=tickets, kind="report").count(), new),
        ("  acknowledgements written", Notification.objects.filter(
            ticket__in=tickets, kind=Notification.Kind.ACKNOWLEDGEMENT).count(),
         tickets.exclude(reporter_phone="").count()),
    ]
    if kind == "sms":
        by_key = collections.defaultdict(list)
        for d in deliveries:
            by_key[d.key].append(d)
        repeated = {key: ds for key, ds in by_key.items() if len(ds) > 1}
        once = sum(1 for ds in repeated.values()
                   if sorted(d.status or 0 for d in ds) == [200] * (len(ds) - 1) + [201])
        one_number = sum(1 for key in repeated if len(accepted.get(key, ())) == 1)
        rows += [
            ("messages delivered more than once: 201 once, 200 otherwise", once, len(repeated)),
            ("  every answer with the same number", one_number, len(repeated)),
        ]
    return rows


def overlapping(deliveries: list[Delivery]) -> int:
    """How many repeats were sent while another delivery of their message awaited its answer."""
    by_key = collections.defaultdict(list)
    for d in deliveries:
        if d.answered is not None:
            by_key[d.key].append(d)
    count = 0
    for d in deliveries:
        if d.repeat and d.answered is not None:
            count += any(o is not d and o.sent <= d.sent < o.answered for o in by_key[d.key])
    return count


# -- one server's run --------------------------------------------------------------------


@dataclasses.dataclass
class ServerRun:
    kind: str
    shown: str
    phases: list[Phase]
    checks: dict[str, list[tuple[str, int, int]]]
    notes: list[str]
    log: str
    log_counts: collections.Counter
    stacks: list[tuple[list[str], int]]


def _probe_open311(server: Server, api_key: str, tag: str) -> tuple[str | None, Delivery]:
    """Send one Open311 POST; return why Open311 does not take requests yet (None when it
    does), and the delivery."""
    probe = open311_deliveries(tag, 1, random.Random(0), api_key)
    d = deliver(server, "probe", probe, connections=1, watch=False).done[0]
    if d.status == 200 and d.number:
        return None, d
    return f"{d.status or d.error}: {d.data[:200].decode(errors='replace')}", d


# The tables intake writes: analysed before each server's run, as autovacuum would have done
# on a production server (a development server may run without it: the notices' backlog
# then makes PostgreSQL look up a notice by scanning every outstanding one).
INTAKE_TABLES = ["tickets_ticket", "tickets_inboundmessage", "tickets_ticketevent",
                 "tickets_notification"]


def vacuum_analyze() -> float:
    """VACUUM (ANALYZE) the tables intake writes; return the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(INTAKE_TABLES)}")
    return time.perf_counter() - started


def analyze_as_autovacuum_would() -> list[str]:
    """ANALYZE the intake tables autovacuum would analyse now; return their names.

    Autovacuum analyses a table once more rows changed than its threshold (50 rows and
    10 % of the table, by default). Each ANALYZE makes the servers' connections plan their
    statements afresh: a plan made while a table was nearly empty (a new database) reads
    the whole table where an index would find one row, and the foreign key checks at every
    COMMIT would then slow down with each ticket (PostgreSQL's CPU a ticket rose from 2.2
    to 6.8 ms over the first 23,000 tickets of a database this benchmark created).
    A machine that runs PostgreSQL without autovacuum gets it here, between phases.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
            " WHERE s.relname = ANY(%s) AND s.n_mod_since_analyze >"
            " current_setting('autovacuum_analyze_threshold')::float"
            " + current_setting('autovacuum_analyze_scale_factor')::float * greatest(c.reltuples, 0)",
            [INTAKE_TABLES],
        )
        due = sorted(row[0] for row in cursor.fetchall())
        if due:
            cursor.execute(f"ANALYZE {', '.join(due)}")
    return due


def others_busy(seconds: float = 3.0) -> float:
    """Return the share of one core the machine's processes used over `seconds`, idle here."""
    before = _machine_busy()
    time.sleep(seconds)
    return (_machine_busy() - before) / seconds


def run_server(server_kind: str, env: dict[str, str], args, api_key: str, staff_token: str,
               redis_client, tag: str) -> ServerRun:
    print(f"  before starting: VACUUM (ANALYZE) of the intake tables in {vacuum_analyze():.1f} s; "
          f"the machine busy at {100 * others_busy():.0f} % of one core without this benchmark",
          flush=True)
    server = start_server(server_kind, env, args.asgi_db)
    notes: list[str] = []
    phases: list[Phase] = []
    stacks: list[tuple[list[str], int]] = []
    rng = random.Random(f"{tag}-{server_kind}")
    try:
        _run(_wait_until_up(server, staff_token))
        since = mark(redis_client)
        sms: list[Delivery] = []
        open311: list[Delivery] = []
        open311_pending = None
        if args.only in (None, "open311"):
            open311_pending, probe = _probe_open311(server, api_key, f"{tag}-{server_kind}-probe")
            open311.append(probe)
            if open311_pending:
                notes.append(f"Open311 POST pending: {open311_pending}")
        kinds = [k for k in ("sms", "open311")
                 if args.only in (None, k) and not (k == "open311" and open311_pending)]

        def make(k: str, name: str, count: int) -> list[Delivery]:
            label = f"{tag}-{server_kind}-{name}"
            return (sms_deliveries(label, count, rng) if k == "sms"
                    else open311_deliveries(label, count, rng, api_key))

        for k in kinds:
            warm = deliver(server, "warm-up", make(k, "w", args.warmup),
                           connections=args.connections, watch=False)
            (sms if k == "sms" else open311).extend(warm.done)
        for round_ in range(1, args.rounds + 1):
            for k in kinds:
                analyze_as_autovacuum_would()
                phase = deliver(server, f"{'SMS' if k == 'sms' else 'Open311 POST'} #{round_}",
                                make(k, f"r{round_}", args.requests),
                                connections=args.connections, seconds=args.seconds)
                (sms if k == "sms" else open311).extend(phase.done)
                phases.append(phase)
                print(f"  {server_kind:<8} {phase.name:<17} {phase.per_second:6.0f} tickets/s  "
                      f"p50 {phase.latency(50):6.1f} ms  p99 {phase.latency(99):6.1f} ms  {phase.verdict}",
                      flush=True)
        if "sms" in kinds and args.py_spy:
            analyze_as_autovacuum_would()
            sampler = Sampler(server)
            phase = deliver(server, "SMS, sampled", make("sms", "s", args.requests),
                            connections=args.connections, seconds=args.seconds)
            stacks = sampler.stop()
            phase.measured = False
            sms.extend(phase.done)
            phases.append(phase)
            print(f"  {server_kind:<8} {phase.name:<17} {phase.per_second:6.0f} tickets/s under py-spy "
                  f"({sum(n for _, n in stacks):,} samples in {sampler.output})", flush=True)
        if "sms" in kinds and args.duplicates > 0:
            analyze_as_autovacuum_would()
            fresh = make("sms", "d", round(args.dup_requests * (1 - args.duplicates)))
            mixed = with_repeats(fresh, [d for d in sms if d.status in (200, 201)], args.duplicates, rng)
            phase = deliver(server, f"SMS, {args.duplicates:.0%} repeats", mixed,
                            connections=args.connections, seconds=args.seconds)
            phase.measured = False
            sms.extend(phase.done)
            phases.append(phase)
            repeats = [d for d in phase.done if d.repeat]
            notes.append(f"duplicates phase: {len(repeats):,} repeats among {len(phase.done):,} deliveries, "
                         f"{overlapping(phase.done):,} of them sent while another delivery of the same "
                         f"message awaited its answer")
            print(f"  {server_kind:<8} {phase.name:<17} {len(phase.answered) / phase.seconds:6.0f} deliveries/s "
                  f"p50 {phase.latency(50):6.1f} ms  p99 {phase.latency(99):6.1f} ms", flush=True)
        checks = {k: verify(k, sms if k == "sms" else open311, since) for k in kinds}
        after = mark(redis_client)
        tickets = sum(row[1] for k in kinds for row in checks[k] if row[0].startswith("new "))
        with_phone = sum(row[2] for k in kinds for row in checks[k]
                         if row[0] == "  acknowledgements written")
        checks["redis"] = [
            ("receipts waiting for a worker (one per ticket with a phone)",
             after.waiting - since.waiting, with_phone),
            ("Celery tasks queued (one drain, by the first receipt to an empty list)",
             after.celery - since.celery, int(with_phone > 0 and since.waiting == 0)),
            ("live messages to the dispatch group (one per ticket)",
             after.dispatch - since.dispatch, tickets),
        ]
    finally:
        server.stop()
    lines = server.log_lines()
    heads = collections.Counter(
        line.split(":", 1)[0][:80] for line in lines
        if line.startswith(("ERROR", "WARNING", "[ERROR]", "Traceback", "Live update"))
        or "Error" in line.split(":", 1)[0]
    )
    return ServerRun(server_kind, server.shown(), phases, checks, notes, server.log.name, heads, stacks)


# -- the in-process profile -------------------------------------------------------------


def profile(count: int) -> None:
    """Measure `count` SMS deliveries in this process: SQL per delivery, time by stage, hot spots."""
    import cProfile
    import pstats

    from celery.app.task import Task
    from django.db import connection
    from django.test import Client

    from tickets import broadcast, notifications, services, writes
    from tickets.intake import common
    from tickets.models import Ticket

    client = Client()
    rng = random.Random("profile")
    tag = f"profile-{int(time.time())}"

    def post(d: Delivery):
        path, content_type, headers = d.request()
        return client.post(path, d.body, content_type=content_type, headers=headers)

    for d in sms_deliveries(f"{tag}-w", 50, rng):
        post(d)

    first = sms_deliveries(f"{tag}-q", 1, rng)[0]
    for label in ("a new message", "a repeat of it"):
        statements: list[tuple[float, str]] = []

        def timer(execute, sql, params, many, context, statements=statements):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append((time.perf_counter() - started, sql))

        with connection.execute_wrapper(timer):
            response = post(first)
        print(f"  {label} (HTTP {response.status_code}): {len(statements)} SQL statements"
              + (" and the COMMIT" if label == "a new message" else "") + ", each timed round trip:")
        for seconds, sql in statements:
            print(f"    {seconds * 1000:5.2f} ms  {sql[:110]}")

    # Wall and CPU (every thread of this process, the broadcast thread included) by stage.
    stages: dict[str, list] = {}
    patched = []

    def timed(owner, name: str, label: str):
        original = getattr(owner, name, None)
        if original is None:  # not in this version of the code
            return

        def wrapper(*a, **kw):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*a, **kw)
            finally:
                stage = stages[label]
                stage[0] += time.perf_counter() - wall
                stage[1] += time.process_time() - cpu
                stage[2] += 1

        setattr(owner, name, wrapper)
        patched.append((owner, name, original))
        stages[label] = [0.0, 0.0, 0]

    timed(common, "verify_signature", "signature (headers, HMAC)")
    timed(common, "read_object", "JSON parse")
    timed(common, "receive", "receive: the transaction, then its on-commit work")
    timed(common, "already_received", "  already_received: SELECT under the lock")
    timed(common, "lock", "  advisory lock")
    timed(common, "intake_category", "  intake category (remembered)")
    timed(services, "ticket_create", "  ticket_create (checks, the four rows)")
    timed(services, "_check_leaf", "    the category takes tickets (SELECT)")
    timed(services, "_next_ids", "    ticket and event ids (nextval)")
    timed(Ticket, "start_clock", "    deadlines (start_clock)")
    timed(notifications, "build", "    acknowledgement (body)")
    timed(writes, "insert_together", "    ticket, message, event, receipt (one INSERT)")
    timed(broadcast, "announce", "    live messages built")
    timed(connection, "commit", "  COMMIT")
    timed(broadcast, "send", "  broadcast to the channel layer (on commit)")
    timed(notifications, "queue_events", "  receipt handed to the workers (a list push)")
    timed(Task, "apply_async", "  Celery publish (apply_async)")
    deliveries = sms_deliveries(f"{tag}-m", 2 * count, rng)
    totals: list[tuple[float, float]] = []
    try:
        for d in deliveries[:count]:
            wall, cpu = time.perf_counter(), time.process_time()
            response = post(d)
            totals.append((time.perf_counter() - wall, time.process_time() - cpu))
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}: {response.content[:200]}")
    finally:
        for owner, name, original in reversed(patched):
            if owner is connection:
                del connection.commit
            else:
                setattr(owner, name, original)
    walls = [w * 1000 for w, _ in totals]
    print(f"\n  {count} new SMS tickets one after another (WSGI test client, no network, no server): "
          f"wall mean {sum(walls) / count:.2f} ms (p50 {_percentile(walls, 50):.2f}), "
          f"CPU {sum(c for _, c in totals) / count * 1000:.2f} ms a delivery")
    print(f"    {'stage':<58} {'wall ms':>8} {'CPU ms':>7} calls")
    for label, (wall, cpu, calls) in stages.items():
        print(f"    {label:<58} {wall / count * 1000:>8.2f} {cpu / count * 1000:>7.2f} "
              f"{calls / count:>4.0f}x")

    profiler = cProfile.Profile()
    for d in deliveries[count:]:
        profiler.enable()
        post(d)
        profiler.disable()
    stats = pstats.Stats(profiler).stats
    print(f"\n  inclusive time of chosen functions (cProfile, this thread only, {count} more deliveries; "
          f"cProfile slows Python about 2x):")
    buckets = [
        ("the whole request (test client)", "django/test/client.py", "request"),
        ("middleware before/after the view", "django/utils/deprecation.py", "__call__"),
        ("the view", "tickets/intake/views.py", "view"),
        ("ORM: compiling SQL", "django/db/models/sql/compiler.py", "as_sql"),
        ("ORM: Model.__init__", "django/db/models/base.py", "__init__"),
        ("psycopg execute (round trip included)", "psycopg/cursor.py", "execute"),
        ("psycopg: waiting for PostgreSQL", "psycopg/connection.py", "wait"),
        ("Celery apply_async", "celery/app/task.py", "apply_async"),
        ("kombu publish", "kombu/messaging.py", "_publish"),
        ("waiting on the broadcast thread", "concurrent/futures/_base.py", "result"),
        ("notification bodies (templates, links)", "tickets/notifications.py", "build"),
        ("access code hashing", "tickets/models.py", "set_access_code"),
        ("the report's rows in one INSERT", "tickets/writes.py", "insert_together"),
        ("translation activate/deactivate", "django/utils/translation/__init__.py", "activate"),
    ]
    for label, path, name in buckets:
        found = [(nc, ct) for (file, _line, fn), (_cc, nc, _tt, ct, _callers) in stats.items()
                 if file.endswith(path) and fn == name]
        if found:
            calls, seconds = sum(f[0] for f in found), max(f[1] for f in found)
            print(f"    {label:<48} {seconds / count * 1000:6.2f} ms {calls / count:5.1f}x")
    print("\n  hottest functions by own time (cProfile):")
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in rows:
        where = filename.split("site-packages/")[-1].replace(str(prepare.ROOT) + "/", "")
        print(f"    {own / count * 1000:6.3f} ms own {cumulative / count * 1000:6.3f} ms cum "
              f"{calls / count:5.1f}x  {name} ({where}:{line})")


# -- figures ------------------------------------------------------------------------------


def _best(phases: list[Phase]) -> str:
    rates = [p.per_second for p in phases]
    p99s = [p.latency(99) for p in phases]
    return (f"best {max(rates):.0f} tickets/s (spread {min(rates):.0f}–{max(rates):.0f}), "
            f"p99 {min(p99s):.1f}–{max(p99s):.1f} ms over {len(phases)} rounds")


def report(runs: list[ServerRun], args) -> None:
    _rule(f"figures (target: >= {TARGET_PER_SECOND:.0f} tickets/s, p99 < {TARGET_P99_MS:.0f} ms; "
          f"{args.connections} connections)")
    print(f"  {'server':<8} {'phase':<17} {'sent':>6} {'tickets':>7} {'t/s':>5} {'p50':>6} {'p90':>6} "
          f"{'p99':>6} {'max':>7} {'dials':>6}  answers                 result")
    for run in runs:
        for p in run.phases:
            answers = ", ".join(f"{s} {n:,}" for s, n in sorted(p.statuses.items(), key=str))
            verdict = p.verdict if p.measured else ""
            slowest = max((d.latency_ms for d in p.answered), default=float("nan"))
            print(f"  {run.kind:<8} {p.name:<17} {len(p.done):>6,} {p.new_tickets:>7,} "
                  f"{p.per_second:>5.0f} {p.latency(50):>6.1f} {p.latency(90):>6.1f} "
                  f"{p.latency(99):>6.1f} {slowest:>7.1f} "
                  f"{p.dials:>6,}  {answers:<23} {verdict}")
    print("  (ms; t/s: new tickets a second, from the first request to the last answer; dials: TCP "
          "connections opened)")
    for run in runs:
        for kind in ("SMS", "Open311"):
            measured = [p for p in run.phases if p.name.startswith(kind) and p.measured]
            if measured:
                print(f"  {run.kind} {kind}: {_best(measured)}")

    for run in runs:
        _rule(f"{run.kind}: {run.shown}")
        for note in run.notes:
            print(f"  {note}")
        print(f"  {'exactly once':<62} {'found':>7} {'expected':>8}")
        clean = True
        for section, rows in run.checks.items():
            for check, found, expected in rows:
                ok = found == expected
                clean &= ok
                print(f"  {section:<7} {check:<54} {found:>7,} {expected:>8,}  {'ok' if ok else 'WRONG'}")
        print(f"  exactly-once: {'every check holds' if clean else 'SOME CHECK FAILED'}")
        measured = [p for p in run.phases if p.cpu]
        if measured:
            print(f"  CPU by phase (% of one core; the machine has {os.cpu_count()} cores; processes "
                  f"that ended during a phase, such as per-request PostgreSQL backends, count in rest):")
            print(f"    {'phase':<17} {'server':>7} {'client':>7} {'pg':>5} {'pg other':>8} {'redis':>6} "
                  f"{'rest':>5} {'machine':>8}  per ticket: server, pg")
            for p in measured:
                c, w = p.cpu, p.cpu["window"]
                per = max(p.new_tickets, 1)
                print(f"    {p.name:<17} {100 * c['server'] / w:>6.0f}% {100 * c['client'] / w:>6.0f}% "
                      f"{100 * c['postgres'] / w:>4.0f}% {100 * c['postgres other'] / w:>7.0f}% "
                      f"{100 * c['redis'] / w:>5.0f}% {100 * c['rest'] / w:>4.0f}% "
                      f"{100 * c['machine'] / w:>7.0f}%  {1000 * c['server'] / per:.2f} ms, "
                      f"{1000 * c['postgres'] / per:.2f} ms")
        if run.stacks:
            waiting, shares = sample_shares(run.stacks)
            print(f"  py-spy, {sum(n for _, n in run.stacks):,} samples of the server's threads in the sampled "
                  f"SMS phase; {100 * waiting:.0f} % waited on a socket; the others split as below (a frame "
                  f"counts the samples whose stack holds it; wall time of running or runnable threads, not "
                  f"CPU: --profile measures CPU):")
            for label, share in shares:
                print(f"    {label:<64} {100 * share:5.1f} %")
        if run.log_counts:
            print("  server log: " + ", ".join(f"{n:,}× {head}"
                                               for head, n in run.log_counts.most_common(4)))
        print(f"  server log: {run.log}")


# -- main ----------------------------------------------------------------------------------


def _open311_key() -> str:
    """Revoke the benchmark client's working key, if any, and return a new one."""
    from tickets.intake.open311_services import open311_key_create, open311_key_revoke
    from tickets.models import Open311Key

    working = Open311Key.objects.filter(name=OPEN311_CLIENT, revoked_at__isnull=True)
    for key_id in working.values_list("id", flat=True):
        open311_key_revoke(key_id=key_id)
    return open311_key_create(name=OPEN311_CLIENT)[1]


def _staff_token() -> str:
    """The demo dispatcher's API token: the servers are up once they answer an API read."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    dispatcher = get_user_model().objects.get(username="dispatcher")
    return Token.objects.get_or_create(user=dispatcher)[0].key


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["uvicorn", "granian", "both"], default="both",
                        help="uvicorn --workers 2 (the ASGI server), granian (python -m config.http, the "
                             "README's server for webhooks), or both one after the other (default)")
    parser.add_argument("--asgi-db", choices=["per-request", "pool"], default="per-request",
                        help="uvicorn's database connections: a new one per request (DB_CONN_MAX_AGE=0, "
                             "the default: persistent ones leak under ASGI), or psycopg's pool, "
                             f"{POOL_SIZE} a worker (not in the settings yet: set up by this module)")
    parser.add_argument("--connections", type=int, default=32,
                        help="concurrent connections (default 32)")
    parser.add_argument("--requests", type=int, default=6000,
                        help="deliveries per measured phase (default 6,000)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="a phase stops sending after this long (default 20)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measured phases per channel and server (default 2)")
    parser.add_argument("--warmup", type=int, default=320,
                        help="unmeasured deliveries first (default 320)")
    parser.add_argument("--duplicates", type=float, default=0.2,
                        help="share of repeated deliveries in the duplicates phase (default 0.2; 0: none)")
    parser.add_argument("--dup-requests", type=int, default=2000,
                        help="deliveries in the duplicates phase (default 2,000)")
    parser.add_argument("--only", choices=["sms", "open311"], help="one channel only")
    parser.add_argument("--py-spy", action="store_true",
                        help="after the measured rounds, one more SMS phase sampled by py-spy "
                             "(pip install py-spy): where the server's CPU goes")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="measure N SMS deliveries in this process instead: SQL and time by stage")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    environment = dict(os.environ)

    _rule("setup")
    database_url = prepare.bench_database_url(os.environ.get("DATABASE_URL"), DATABASE_NAME)
    redis_url = urlunsplit(urlsplit(os.environ.get("REDIS_URL") or prepare.DEFAULT_REDIS_URL)
                           ._replace(path=f"/{REDIS_DB}"))
    created = prepare.ensure_database(database_url)
    print(f"database {database_url} ({'created' if created else 'exists'}), Redis {redis_url} (emptied)")
    import redis

    redis_client = redis.from_url(redis_url)
    redis_client.flushdb()
    os.environ["REDIS_URL"] = redis_url
    os.environ["MINHU_INTAKE_SECRET_SMS"] = SMS_SECRET
    prepare.configure_django(database_url)
    started = time.perf_counter()
    seeded = prepare.migrate_and_seed()
    print(f"migrate + seed_demo: {time.perf_counter() - started:.1f} s, {seeded}")
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")

    if args.profile:
        _rule(f"profile: {args.profile} SMS deliveries in this process")
        print(f"  VACUUM (ANALYZE) of the intake tables in {vacuum_analyze():.1f} s")
        profile(args.profile)
        return 0

    if args.asgi_db == "pool" and args.server != "granian":
        import importlib.util

        if importlib.util.find_spec("psycopg_pool") is None:
            print("--asgi-db pool needs psycopg's pool: pip install 'psycopg[pool]' "
                  "(or put it on PYTHONPATH)")
            return 0
    api_key = _open311_key()
    staff_token = _staff_token()
    env = {**environment, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "SECRET_KEY": "bench-only", "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1",
           "MINHU_INTAKE_SECRET_SMS": SMS_SECRET, "MINHU_OPEN311_RATE": "1000000/m"}
    tag = f"bench-{int(time.time())}"
    servers = ["uvicorn", "granian"] if args.server == "both" else [args.server]
    runs = []
    for kind in servers:
        _rule(f"run: {kind}, {args.connections} connections, {args.rounds} rounds of "
              f"{args.requests:,} deliveries (at most {args.seconds:g} s each)")
        runs.append(run_server(kind, env, args, api_key, staff_token, redis_client, tag))
    report(runs, args)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"whole benchmark: {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
