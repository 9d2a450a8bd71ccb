"""Benchmark live delivery: how long a dispatch takes to reach every socket that should hear it.

    .venv/bin/python bench/ws.py [--tickets 1000] [--per-unit 10] [--citizens 200]
                                 [--clients 8] [--rate N] [--api granian|uvicorn]
                                 [--api-workers N] [--no-deflate] [--shared-cores]
    .venv/bin/python bench/run.py --only ws        (the same, with the defaults)

121 units with 10 connected staff sockets each, 200 citizen tracking sockets and the
dispatch centre's socket, on loopback, against the production ASGI server (uvicorn, one
worker process, Redis channel layer, no permessage-deflate). 1,000 accepted tickets are
dispatched through the API, which runs as in production under granian (`--api uvicorn`
sends it to the sockets' own process instead). As production keeps the socket servers
apart from the API, the ASGI process gets the last core to itself and the API and this
client the others; `--shared-cores` lets them all compete for every core. A message's delay is its arrival at a socket minus the arrival of
its API response, both read on this process's monotonic clock. Target: p99 < 100 ms,
nothing lost or duplicated; the ASGI process's memory is stated.

It uses its own database (DATABASE_URL with the name replaced by minhu_bench_ws, created,
migrated and seeded when missing) and its own Redis database (12, emptied at the start:
group members and rate-limit counters left by a previous run would skew this one). Each
run adds fresh accepted tickets. It reports; it never fails on a figure.
"""

import argparse
import asyncio
import collections
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402
from tickets.sockets.sequence import GRACE_SECONDS  # noqa: E402

# Production serves collected static files; neither the API nor the sockets touch them.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DATABASE_NAME = "minhu_bench_ws"
REDIS_DB = 12
HANDLER_PREFIX = "wsbench"
TARGET_P99_MS = 100.0
# A message still missing this long after the last API response counts as lost.
LOSS_WAIT_SECONDS = 10.0
# Handshakes in flight at once: each waits for the server's one sync thread (token and
# scope queries), so opening all 1,411 together only makes them queue there.
OPENING_AT_ONCE = 32

_rule = prepare.rule


def bench_redis_url(url: str | None) -> str:
    """Return REDIS_URL (or the local default) pointed at the benchmark's own database."""
    parts = urlsplit(url or prepare.DEFAULT_REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


def _raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# -- data -------------------------------------------------------------------------------


@dataclass
class Plan:
    dispatcher_token: str
    units: list[str]
    handler_tokens: dict[str, list[str]]  # unit code -> tokens of its bench handlers
    tickets: list[tuple[str, str]]  # (number, unit code to dispatch to), in dispatch order
    citizens: dict[str, str]  # number -> access code, of the tickets a citizen tracks


def _handlers(units, per_unit: int) -> dict[str, list[str]]:
    """Make sure every unit has `per_unit` bench handlers with tokens; return their tokens."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from departments.models import Role
    from departments.services import staff_upsert

    User = get_user_model()
    wanted = {f"{HANDLER_PREFIX}-{u.code}-{i}": u for u in units for i in range(per_unit)}
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    missing = [name for name in wanted if name not in existing]
    if missing:
        started = time.perf_counter()
        # One transaction, so one commit rather than one per account.
        with transaction.atomic():
            for name in missing:
                staff_upsert(username=name, unit=wanted[name], role=Role.HANDLER)
        print(f"  {len(missing):,} handler accounts created in "
              f"{time.perf_counter() - started:.1f} s (staff_upsert)")
    users = dict(User.objects.filter(username__in=wanted).values_list("username", "id"))
    tokens = dict(Token.objects.filter(user_id__in=users.values()).values_list("user_id", "key"))
    new = [Token(user_id=uid, key=Token.generate_key())
           for uid in users.values() if uid not in tokens]
    if new:
        Token.objects.bulk_create(new)
        tokens.update((t.user_id, t.key) for t in new)
    by_unit: dict[str, list[str]] = {unit.code: [] for unit in units}
    for name, unit in wanted.items():
        by_unit[unit.code].append(tokens[users[name]])
    return by_unit


def _accepted_tickets(count: int, citizens: int, dispatcher) -> tuple[list[str], dict[str, str]]:
    """Open and accept `count` tickets; return their numbers, and the access codes of
    `citizens` of them spread evenly, the ones a citizen tracks."""
    from departments.models import Category
    from tickets import services
    from tickets.models import Channel

    category = (Category.objects.filter(is_active=True, parent__isnull=False,
                                        children__isnull=True).order_by("code").first())
    every = max(1, count // citizens) if citizens else 0
    numbers, codes = [], {}
    for i in range(count):
        ticket, code = services.ticket_create(
            category=category, description=f"WebSocket benchmark ticket {i}",
            channel=Channel.STAFF, actor=dispatcher,
        )
        services.ticket_accept(ticket_id=ticket.id, actor=dispatcher)
        numbers.append(ticket.number)
        if every and i % every == 0 and len(codes) < citizens:
            codes[ticket.number] = code
    return numbers, codes


def prepare_data(*, tickets: int, per_unit: int, citizens: int) -> Plan:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from departments.models import Unit, UnitKind

    units = list(Unit.objects.filter(is_active=True).exclude(kind=UnitKind.CENTRE)
                 .order_by("code"))
    dispatcher = get_user_model().objects.get(username="dispatcher")
    dispatcher_token, _ = Token.objects.get_or_create(user=dispatcher)
    handler_tokens = _handlers(units, per_unit)

    started = time.perf_counter()
    numbers, codes = _accepted_tickets(tickets, citizens, dispatcher)
    print(f"  {tickets:,} tickets created and accepted in {time.perf_counter() - started:.1f} s "
          f"(ticket_create + ticket_accept by the demo dispatcher)")
    codes_in_order = [u.code for u in units]
    return Plan(
        dispatcher_token=dispatcher_token.key,
        units=codes_in_order,
        handler_tokens=handler_tokens,
        # Round robin over the units, decided here and sent with each dispatch.
        tickets=[(n, codes_in_order[i % len(units)]) for i, n in enumerate(numbers)],
        citizens=codes,
    )


# -- processes --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_status(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak) of a process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces: the fields start after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def _machine_busy() -> float:
    """Return the busy CPU seconds of the whole machine, every core summed, kernel included."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[float, str]]:
    """Return {pid: (CPU seconds so far, command line)} of every process on the machine."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found[pid] = (_cpu_seconds(pid), command)
        except OSError:  # ended meanwhile
            pass
    return found


class Server:
    """A server as a subprocess, its output in a log file of its own."""

    def __init__(self, name: str, command: list[str], port: int, env: dict[str, str],
                 needed_files: int):
        self.name, self.command, self.port = name, command, port
        self.log = tempfile.NamedTemporaryFile(prefix=f"minhu-bench-ws-{name}-", suffix=".log",
                                               delete=False)
        self.process = subprocess.Popen(
            command, cwd=prepare.ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=lambda: _raise_open_files(needed_files),
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def shown(self) -> str:
        return " ".join([Path(self.command[0]).name, *self.command[1:]])

    def memory(self) -> dict[str, int]:
        return _proc_status(self.pid)

    def log_lines(self) -> list[str]:
        return Path(self.log.name).read_text(errors="replace").splitlines()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def start_servers(env: dict[str, str], needed_files: int, *, api: str,
                  api_workers: int) -> dict[str, Server]:
    """Start the ASGI server, and granian for the API unless the ASGI server serves it too;
    return them by role ("asgi", "api": the same server when it does both)."""
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    asgi = Server("asgi", [
        str(bin_dir / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--ws-max-size", "65536", "--ws-per-message-deflate", "false",
    ], port, env, needed_files)
    servers = {"asgi": asgi, "api": asgi}
    if api == "granian":
        port = _free_port()
        workers = ["--workers", str(api_workers)] if api_workers else []
        servers["api"] = Server("wsgi", [
            sys.executable, "-m", "config.http", "--host", "127.0.0.1", "--port", str(port), *workers,
        ], port, env, needed_files)
    return servers


def _distinct(servers: dict[str, Server]) -> list[Server]:
    return list(dict.fromkeys(servers.values()))


class CpuWatch:
    """CPU used between start() and stop(), by role: our servers, this client, the
    benchmark's PostgreSQL backends, Redis, and whatever else runs on the machine."""

    def __init__(self, servers: dict[str, Server]):
        self.servers = servers

    def start(self) -> None:
        self.before, self.busy_before = _processes(), _machine_busy()

    def stop(self) -> dict[str, float]:
        after, busy = _processes(), _machine_busy() - self.busy_before
        asgi, api = self.servers["asgi"], self.servers["api"]
        api_pids = {api.pid, *_children(api.pid)}
        used: dict[str, float] = collections.Counter()
        for pid, (seconds, command) in after.items():
            spent = seconds - self.before.get(pid, (0.0, ""))[0]
            if pid == asgi.pid:
                role = "asgi"
            elif pid in api_pids:
                role = "api"
            elif pid == os.getpid():
                role = "client"
            elif command.startswith("postgres:") and f" {DATABASE_NAME} " in command:
                role = "postgres"
            elif command.startswith("postgres"):
                role = "postgres other"
            elif "redis-server" in command:
                role = "redis"
            else:
                continue  # in "rest" below, with the kernel's time and ended processes'
            used[role] += spent
        used["rest"] = busy - sum(used.values())
        used["machine"] = busy
        return used


# -- the clients ------------------------------------------------------------------------


class HttpError(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise HttpError("connection closed by the server")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(chunks)
    else:
        body = await reader.read()
    return status, headers, body


class Http:
    """One HTTP/1.1 connection, kept alive when the server allows. The standard library's
    clients would each need a thread, and their clocks would then run off the loop that
    reads the sockets."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def request(self, method: str, path: str, payload: dict | None = None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = json.dumps(payload).encode() if payload is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Token {self.token}\r\nAccept: application/json\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode("latin-1") + body)
        status, headers, data = await _read_response(self.reader)
        if headers.get("connection", "").lower() == "close":  # a server that closes after each answer
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Probe:
    """One client socket and what arrived on it."""

    kind: str  # "unit", "track" or "dispatch"
    key: str  # the unit code, the tracked number, or "" for the dispatch socket
    path: str
    headers: dict[str, str]
    local_address: str = "127.0.0.1"
    connection: object = None
    failure: str | None = None
    closed: str | None = None
    # (monotonic arrival, raw text), parsed only after the run to keep the loop free.
    arrivals: list[tuple[float, str]] = field(default_factory=list)


class Tally:
    """Counts dispatch messages as they arrive, so the wait can end as soon as all are in."""

    def __init__(self):
        self.dispatches = 0
        self.changed = asyncio.Event()


async def _open(probe: Probe, port: int, gate: asyncio.Semaphore,
                compression: str | None) -> None:
    from websockets.asyncio.client import connect

    async with gate:
        try:
            probe.connection = await connect(
                f"ws://127.0.0.1:{port}{probe.path}", additional_headers=probe.headers,
                compression=compression, open_timeout=120, ping_interval=None,
                max_queue=None, local_addr=(probe.local_address, 0),
            )
            while True:
                message = json.loads(await asyncio.wait_for(probe.connection.recv(), 120))
                if message["type"] == "socket.ready":
                    return
        except Exception as error:  # noqa: BLE001 - reported per socket, the run goes on
            probe.failure = f"{type(error).__name__}: {error}"


async def _listen(probe: Probe, tally: Tally) -> None:
    from websockets.exceptions import ConnectionClosed

    connection, arrivals = probe.connection, probe.arrivals
    try:
        while True:
            raw = await connection.recv()
            arrivals.append((time.monotonic(), raw))
            if '"ticket.dispatch"' in raw:
                tally.dispatches += 1
                tally.changed.set()
    except ConnectionClosed as closed:
        probe.closed = f"closed by the server, code {closed.rcvd.code if closed.rcvd else None}"
    except asyncio.CancelledError:
        pass


@dataclass
class Call:
    index: int
    number: str
    unit: str
    sent: float = 0.0
    answered: float | None = None
    status: int | None = None
    error: str | None = None


async def _dispatcher(port: int, token: str, queue: collections.deque, calls: list[Call],
                      start: float, rate: float | None) -> None:
    http = Http(port, token)
    try:
        while queue:
            call = queue.popleft()
            if rate:
                # Paced: each request at its own time, or at once when the run is behind.
                await asyncio.sleep(max(0.0, start + call.index / rate - time.monotonic()))
            call.sent = time.monotonic()
            try:
                call.status, body = await http.request(
                    "POST", f"/api/v1/tickets/{call.number}/dispatch/", {"unit": call.unit}
                )
                call.answered = time.monotonic()
                if call.status != 200:
                    call.error = body[:200].decode(errors="replace")
            except (OSError, HttpError, asyncio.IncompleteReadError) as error:
                call.error = f"{type(error).__name__}: {error}"
                http.close()
            calls.append(call)
    finally:
        http.close()


@dataclass
class Run:
    probes: list[Probe]
    calls: list[Call]
    memory: dict[str, dict[str, int]]
    times: dict[str, float]
    cpu: dict[str, float]  # CPU seconds by role over the measured window
    waited_for_loss: bool
    log_mark: dict[str, int]  # each server's log lines before the sockets were closed


async def _wait_until_up(server: Server, token: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.shown()} exited with code {server.process.returncode}; "
                               f"see {server.log.name}")
        http = Http(server.port, token)
        try:
            # An authenticated read: Django, the database and the token path all answer.
            status, _ = await http.request("GET", "/api/v1/units/")
            if status == 200:
                return
            last = f"HTTP {status}"
        except (OSError, HttpError, asyncio.IncompleteReadError) as error:
            last = str(error)
        finally:
            http.close()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.shown()} did not answer in {timeout:.0f} s ({last})")


async def _warm_up(api: Server, plan: Plan, clients: int, rounds: int = 8) -> None:
    """Read some tickets first: each API worker loads its code on its first requests."""

    async def reader(numbers: list[str]) -> None:
        http = Http(api.port, plan.dispatcher_token)
        try:
            for number in numbers:
                await http.request("GET", f"/api/v1/tickets/{number}/")
        finally:
            http.close()

    numbers = [number for number, _ in plan.tickets[:clients * rounds]]
    await asyncio.gather(*(reader(numbers[i::clients]) for i in range(clients)))


def _probes(plan: Plan) -> list[Probe]:
    staff = {"Authorization": f"Token {plan.dispatcher_token}"}
    probes = [Probe("dispatch", "", "/ws/dispatch/", staff)]
    for code in plan.units:
        probes += [Probe("unit", code, f"/ws/units/{code}/", {"Authorization": f"Token {token}"})
                   for token in plan.handler_tokens[code]]
    # Each citizen from an address of its own, as from the Internet: the tracking socket
    # allows 20 access-code tries per client address and hour.
    for i, (number, code) in enumerate(plan.citizens.items()):
        probes.append(Probe("track", number, f"/ws/track/{number}/",
                            {"X-Minhu-Access-Code": code},
                            local_address=f"127.0.{1 + i // 250}.{1 + i % 250}"))
    return probes


def _pin(pid: int, cores: set[int]) -> None:
    """Keep every thread of a process to `cores` (an affinity is a thread's own: granian's
    threads exist before this, and a thread it starts later takes its starter's)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except ProcessLookupError:  # ended meanwhile
            pass


def _give_the_sockets_a_core(asgi: Server, api: Server) -> str:
    """Pin the ASGI process to the last core and the API's workers and this client to the
    others, as production gives the socket servers CPU of their own (PostgreSQL and
    Redis still run anywhere)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or api is asgi:
        return "not pinned (needs 2 cores and the API under granian)"
    own, rest = {cores[-1]}, set(cores[:-1])
    _pin(asgi.pid, own)
    for pid in [api.pid, *_children(api.pid), os.getpid()]:
        _pin(pid, rest)
    return f"uvicorn on core {cores[-1]}; granian and this client on {sorted(rest)}"


async def drive(servers: dict[str, Server], plan: Plan, *, clients: int, rate: float | None,
                compression: str | None, own_core: bool = False) -> Run:
    memory, times = {}, {}
    asgi, api = servers["asgi"], servers["api"]
    for server in _distinct(servers):
        await _wait_until_up(server, plan.dispatcher_token)
    if own_core:
        print(f"  pinned: {_give_the_sockets_a_core(asgi, api)}")
    await _warm_up(api, plan, clients)
    memory["before sockets"] = asgi.memory()

    probes = _probes(plan)
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    started = time.monotonic()
    # The dispatch socket first, so that it should hear every unit come online.
    await _open(probes[0], asgi.port, gate, compression)
    await asyncio.gather(*(_open(p, asgi.port, gate, compression) for p in probes[1:]))
    times["open"] = time.monotonic() - started
    opened = [p for p in probes if p.failure is None]
    tally = Tally()
    listeners = [asyncio.create_task(_listen(p, tally)) for p in opened]
    # Let the last presence announcements pass before measuring.
    await asyncio.sleep(2.0)
    memory["all sockets open"] = asgi.memory()

    expected = sum(1 + len(plan.handler_tokens[unit]) + (number in plan.citizens)
                   for number, unit in plan.tickets)
    calls: list[Call] = []
    queue = collections.deque(Call(i, n, u) for i, (n, u) in enumerate(plan.tickets))
    watch = CpuWatch(servers)
    watch.start()
    started = time.monotonic()
    await asyncio.gather(*(
        _dispatcher(api.port, plan.dispatcher_token, queue, calls, started, rate)
        for _ in range(clients)
    ))
    last_answer = time.monotonic()
    times["dispatch"] = last_answer - started
    deadline = last_answer + LOSS_WAIT_SECONDS
    while tally.dispatches < expected and time.monotonic() < deadline:
        tally.changed.clear()
        try:
            await asyncio.wait_for(tally.changed.wait(), deadline - time.monotonic())
        except TimeoutError:
            break
    times["drain"] = time.monotonic() - last_answer
    waited_for_loss = tally.dispatches < expected
    cpu = watch.stop()
    times["window"] = time.monotonic() - started
    # Late duplicates and strays would arrive now. Then every socket pings twice, as its
    # client would within 25 s: a socket that missed a message says so (socket.resync).
    await asyncio.sleep(1.0)
    for _ in range(2):
        await asyncio.gather(*(p.connection.send('{"type": "ping"}') for p in opened),
                             return_exceptions=True)
        await asyncio.sleep(GRACE_SECONDS + 0.5)
    memory["after the run, sockets open"] = asgi.memory()

    log_mark = {server.name: len(server.log_lines()) for server in _distinct(servers)}
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    await asyncio.gather(*(p.connection.close() for p in opened), return_exceptions=True)
    await asyncio.sleep(2.0)
    memory["after closing the sockets"] = asgi.memory()
    return Run(probes, calls, memory, times, cpu, waited_for_loss, log_mark)


# -- figures ----------------------------------------------------------------------------


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    # Nearest rank: the smallest value with at least p % of the values at or below it.
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Delivery:
    expected: int = 0
    received: int = 0  # distinct expected messages that arrived
    lost: int = 0
    duplicated: int = 0
    resynced: int = 0  # sockets told socket.resync
    silent: int = 0  # messages lost by sockets never told
    misdelivered: int = 0
    delays_ms: list[float] = field(default_factory=list)

    def add(self, other: "Delivery") -> None:
        for name in ("expected", "received", "lost", "duplicated", "misdelivered", "resynced", "silent"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.delays_ms += other.delays_ms


def analyse(plan: Plan, run: Run) -> tuple[dict[str, Delivery], dict]:
    unit_of = dict(plan.tickets)
    answered = {c.number: c.answered for c in run.calls if c.status == 200}
    sent = {c.number: c.sent for c in run.calls}
    numbers_of = collections.defaultdict(set)
    for number, unit in plan.tickets:
        numbers_of[unit].add(number)
    by_kind = {kind: Delivery() for kind in ("unit", "track", "dispatch")}
    others = collections.Counter()
    first_arrival: dict[str, float] = {}
    last_arrival: dict[str, float] = {}
    since_request_ms: list[float] = []
    presence: list[dict] = []
    for probe in run.probes:
        d = by_kind[probe.kind]
        if probe.kind == "unit":
            wanted = numbers_of[probe.key]
        elif probe.kind == "track":
            wanted = {probe.key}
        else:
            wanted = set(unit_of)
        d.expected += len(wanted)
        if probe.failure is not None:
            d.lost += len(wanted)
            continue
        seen_ids: set[int] = set()
        got: set[str] = set()
        for at, raw in probe.arrivals:
            message = json.loads(raw)
            kind = message.get("type", "")
            if kind != "ticket.dispatch":
                if kind != "pong":
                    others[kind] += 1
                if kind == "presence":
                    presence.append(message)
                continue
            if message["id"] in seen_ids:
                d.duplicated += 1
                continue
            seen_ids.add(message["id"])
            number = message["number"]
            if number not in wanted or message.get("unit") != unit_of[number]:
                d.misdelivered += 1
                continue
            if number in got:  # the same ticket's dispatch again, under another event id
                d.duplicated += 1
                continue
            got.add(number)
            if number in answered:
                d.delays_ms.append((at - answered[number]) * 1000)
                since_request_ms.append((at - sent[number]) * 1000)
            first_arrival[number] = min(first_arrival.get(number, at), at)
            last_arrival[number] = max(last_arrival.get(number, at), at)
        d.received += len(got)
        d.lost += len(wanted - got)
        told = any('"socket.resync"' in raw for _, raw in probe.arrivals)
        d.resynced += told
        if not told:
            d.silent += len(wanted - got)
    notes = {
        "others": others,
        "since request": since_request_ms,
        "spread": [(last_arrival[n] - first_arrival[n]) * 1000 for n in first_arrival],
        "presence": len(presence),
        "heard online": {m.get("unit") for m in presence if m.get("online")},
    }
    return by_kind, notes


def _ms(value: float) -> str:
    return f"{value:8.1f}"


def _mib(kib: int) -> str:
    return f"{kib / 1024:7.1f} MiB"


def _spread(values: list[float]) -> str:
    return f"p50 {_percentile(values, 50):.1f} ms, p99 {_percentile(values, 99):.1f} ms"


def report(plan: Plan, run: Run, servers: dict[str, Server], *, compression: str | None,
           clients: int, rate: float | None) -> None:
    by_kind, notes = analyse(plan, run)
    probes = run.probes
    failed = [p for p in probes if p.failure is not None]
    counts = collections.Counter(p.kind for p in probes)
    asgi, api = servers["asgi"], servers["api"]

    _rule("sockets")
    print(f"  {len(probes) - len(failed):,} of {len(probes):,} ready in {run.times['open']:.1f} s "
          f"({counts['unit']:,} unit, {counts['track']:,} tracking, {counts['dispatch']} dispatch; "
          f"{OPENING_AT_ONCE} handshakes at a time; permessage-deflate "
          f"{'on' if compression else 'off'})")
    for p in failed[:5]:
        print(f"    not opened: {p.path} from {p.local_address}: {p.failure}")
    for p in [p for p in probes if p.closed is not None][:5]:
        print(f"    {p.path}: {p.closed} during the run")

    calls = run.calls
    good = [c for c in calls if c.status == 200]
    _rule(f"API ({'the same uvicorn process' if api is asgi else api.shown()})")
    print(f"  {len(good):,} of {len(plan.tickets):,} dispatches answered 200 in "
          f"{run.times['dispatch']:.1f} s ({len(good) / run.times['dispatch']:.0f}/s) from "
          f"{clients} clients" + (f" paced at {rate:g}/s" if rate else
                                  ", each sending again as soon as answered"))
    print(f"  response time {_spread([(c.answered - c.sent) * 1000 for c in good])}")
    for c in [c for c in calls if c.status != 200][:5]:
        print(f"    {c.number} -> {c.unit}: {c.status or ''} {c.error}")

    _rule(f"figures (targets: delivery p99 < {TARGET_P99_MS:.0f} ms, nothing lost or duplicated)")
    print(f"  {'sockets':<16} {'expected':>8} {'received':>8} {'lost':>5} {'dup':>4} "
          f"{'misdel':>6} {'resync':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    labels = {"unit": f"unit ({counts['unit']:,})", "track": f"tracking ({counts['track']:,})",
              "dispatch": f"dispatch ({counts['dispatch']})"}
    total = Delivery()
    for d in by_kind.values():
        total.add(d)
    for label, d in [*((labels[k], d) for k, d in by_kind.items()), ("all", total)]:
        delays = d.delays_ms
        print(f"  {label:<16} {d.expected:>8,} {d.received:>8,} {d.lost:>5,} {d.duplicated:>4,} "
              f"{d.misdelivered:>6,} {d.resynced:>6,} {_ms(_percentile(delays, 50))} "
              f"{_ms(_percentile(delays, 95))} {_ms(_percentile(delays, 99))} "
              f"{_ms(max(delays, default=float('nan')))}")
    early = sum(1 for delay in total.delays_ms if delay < 0)
    print(f"  delay = arrival at the socket - arrival of the API response; {early:,} of "
          f"{len(total.delays_ms):,} arrived before their response (negative, kept as is)")
    print(f"  counted from the request's sending instead: {_spread(notes['since request'])}")
    print(f"  first to last socket of one ticket: {_spread(notes['spread'])}")
    if run.waited_for_loss:
        print(f"  waited the full {LOSS_WAIT_SECONDS:.0f} s after the last response for the "
              f"missing messages")
    else:
        print(f"  every message in {run.times['drain'] * 1000:.0f} ms after the last response")
    online = {p.key for p in probes if p.kind == "unit" and p.failure is None}
    heard = notes["heard online"] & online
    print(f"  presence (not counted above): the dispatch socket heard {len(heard):,} of the "
          f"{len(online):,} units come online, in {notes['presence']:,} messages"
          + (f"; never: {', '.join(sorted(online - heard)[:4])}"
             + (" ..." if len(online - heard) > 4 else "") if online - heard else ""))
    print("  resync: sockets told socket.resync (a message lost on the way; the page reads "
          "its view again)")
    others = {k: n for k, n in notes["others"].items() if k not in ("presence", "socket.resync")}
    if others:
        print("  other messages (not counted): "
              + ", ".join(f"{k} {n:,}" for k, n in sorted(others.items())))
    p99 = _percentile(total.delays_ms, 99)
    verdict = "PASS" if p99 < TARGET_P99_MS else "MISS"
    print(f"\n  delivery p99 {p99:.1f} ms < {TARGET_P99_MS:.0f} ms: {verdict}")
    clean = total.lost == total.duplicated == total.misdelivered == 0
    print(f"  lost {total.lost:,}, duplicated {total.duplicated:,}, misdelivered "
          f"{total.misdelivered:,}: {'PASS' if clean else 'MISS'}")
    print(f"  lost without the socket being told to resync: {total.silent:,}: "
          f"{'PASS' if total.silent == 0 else 'MISS'}")

    _rule(f"memory of the ASGI process (pid {asgi.pid}, one uvicorn worker, VmRSS)")
    base = run.memory["before sockets"]["VmRSS"]
    opened = len(probes) - len(failed)
    for what, values in run.memory.items():
        per_socket = ""
        if what == "all sockets open" and opened:
            per_socket = f"  (+{(values['VmRSS'] - base) / opened:.0f} KiB a socket)"
        print(f"  {what:<30} {_mib(values['VmRSS'])}{per_socket}")
    print(f"  {'peak (VmHWM)':<30} {_mib(max(v['VmHWM'] for v in run.memory.values()))}")

    _rule("where the time went")
    window, cpu = run.times["window"], run.cpu
    print(f"  CPU over the {window:.1f} s from the first request to the last message "
          f"(% of one core):")
    shares = [("uvicorn (sockets" + (")" if api is not asgi else " and API)"), cpu["asgi"])]
    if api is not asgi:
        workers = len(_children(api.pid))
        shares.append((f"granian (API, {workers} workers)", cpu["api"]))
    shares += [
        ("this client (every socket and API client)", cpu["client"]),
        (f"PostgreSQL backends of {DATABASE_NAME}", cpu["postgres"]),
        ("PostgreSQL, the rest", cpu["postgres other"]),
        ("Redis", cpu["redis"]),
        ("the rest: kernel, ended and other processes", cpu["rest"]),
        (f"the whole machine ({os.cpu_count()} cores)", cpu["machine"]),
    ]
    for what, seconds in shares:
        print(f"    {what:<46} {seconds:6.1f} s {100 * seconds / window:5.0f} %")
    print(f"  this client shares the machine's {os.cpu_count()} cores with the servers, "
          f"PostgreSQL and Redis: its load is in these figures")
    for server in _distinct(servers):
        lines = server.log_lines()
        mark = run.log_mark[server.name]
        for when, part in (("until the sockets were closed", lines[:mark]),
                           ("while closing them all at once", lines[mark:])):
            over = [line for line in part if "over capacity" in line]
            errors = [line for line in part if line.startswith(("ERROR", "WARNING", "[ERROR]"))]
            # The last line of each traceback names the exception.
            heads = [line.split(":", 1)[0] for line in part if not line.startswith(" ")]
            causes = collections.Counter(h for h in heads if h.endswith(("Error", "Exception")))
            if over:
                print(f"  {server.name}, {when}: the channel layer refused a message "
                      f"{len(over):,} times (over capacity), e.g. \"{over[0]}\"")
            if errors:
                print(f"  {server.name}, {when}: {len(errors):,} ERROR/WARNING entries"
                      + (": " + ", ".join(f"{n:,} {c}" for c, n in causes.most_common(3))
                         if causes else f", e.g. {errors[0][:100]}"))
        print(f"  {server.name} log: {server.log.name}")


# -- main -------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000,
                        help="tickets to dispatch (default 1,000)")
    parser.add_argument("--per-unit", type=int, default=10,
                        help="staff sockets per unit (default 10)")
    parser.add_argument("--citizens", type=int, default=200,
                        help="citizen tracking sockets (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients (default 8)")
    parser.add_argument("--rate", type=float,
                        help="dispatches a second in all (default: as fast as the clients go)")
    parser.add_argument("--api", choices=["granian", "uvicorn"], default="granian",
                        help="serve the API under granian as in production (default), or from "
                             "the sockets' uvicorn process")
    parser.add_argument("--api-workers", type=int,
                        help="granian's worker processes (default: config.http's, one per core)")
    parser.add_argument("--shared-cores", action="store_true",
                        help="let every process run on any core; by default the ASGI process has "
                             "the last core to itself and the API and this client the others, as "
                             "production keeps them apart")
    parser.add_argument("--no-deflate", action="store_true",
                        help="offer no permessage-deflate (browsers offer it, so by default it is)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    # The servers get the environment as given, not the one this process sets up for itself.
    environment = dict(os.environ)

    _rule("setup")
    database_url = prepare.bench_database_url(os.environ.get("DATABASE_URL"), DATABASE_NAME)
    redis_url = bench_redis_url(os.environ.get("REDIS_URL"))
    created = prepare.ensure_database(database_url)
    print(f"database {database_url} ({'created' if created else 'exists'}), "
          f"Redis {redis_url} (emptied)")
    import redis

    redis.from_url(redis_url).flushdb()
    os.environ["REDIS_URL"] = redis_url
    prepare.configure_django(database_url)
    started = time.perf_counter()
    seeded = prepare.migrate_and_seed()
    print(f"migrate + seed_demo: {time.perf_counter() - started:.1f} s, {seeded}")
    plan = prepare_data(tickets=args.tickets, per_unit=args.per_unit, citizens=args.citizens)

    sockets = 1 + len(plan.units) * args.per_unit + len(plan.citizens)
    needed_files = sockets + args.clients + 512
    _raise_open_files(needed_files)
    env = {**environment, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "SECRET_KEY": "bench-only", "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1"}
    servers = start_servers(env, needed_files, api=args.api, api_workers=args.api_workers)
    asgi, api = servers["asgi"], servers["api"]
    print(f"sockets: {asgi.shown()}\n  (pid {asgi.pid}: one worker process"
          + (", which serves the API too)" if api is asgi else ")"))
    if api is not asgi:
        print(f"API: {api.shown()}")

    _rule(f"run: {args.tickets:,} dispatches, {sockets:,} sockets")
    compression = None if args.no_deflate else "deflate"
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        run = runner(drive(servers, plan, clients=args.clients, rate=args.rate,
                           compression=compression, own_core=not args.shared_cores))
        report(plan, run, servers, compression=compression, clients=args.clients,
               rate=args.rate)
    finally:
        for server in _distinct(servers):
            server.stop()
    print(f"\nwhole benchmark: {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
