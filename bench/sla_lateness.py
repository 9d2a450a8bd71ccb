"""Benchmark red-card lateness with the real Celery worker and beat, under load:

    .venv/bin/python bench/sla_lateness.py [--quick] [--window 180] [--uniform 1500]
                                           [--bursts 3] [--burst-size 400] [--load 2]

Target: a red card (红牌) is visible at most 60 s after its deadline (p99). Run it
with DATABASE_URL and REDIS_URL set (e.g. REDIS_URL=redis://127.0.0.1:6379/11: the
run uses that Redis database as the broker, and deletes the keys it created there).

How: the data set is bench/sla_sweep.py's (100,000 open and 1,000,000 finished tickets
in minhu_bench, generated when missing). The run works on a copy of that database
(minhu_bench_lateness, made from it as a template in a few seconds and dropped at the
end), so minhu_bench is left exactly as it was, whatever the worker and the load do.
On the copy:
1. the marks that came due since the data were generated are swept (as production's
   sweep, every 30 s, would have done), so the measured window starts in steady state;
2. `celery -A config worker` (prefork, --concurrency 2) and `celery -A config beat`
   start as subprocesses, with the project's own beat schedule (the sweep every 30 s);
   the run waits until the worker is ready and the broker queue is empty;
3. `--load` processes (default 2) run ticket lifecycles through tickets.services as
   fast as they can (report, dispatch, claim, resolve, verify, rate: 6 transactions a
   ticket), so the database, the worker (their notices) and the CPUs stay busy;
4. the stream: open tickets (in progress, due to resolve, or dispatched, due to sign
   for) whose deadlines fall over the window: `--uniform` spread evenly, plus `--bursts`
   instants at which `--burst-size` tickets fall due within the same second. Each has
   its yellow mark 60 s before its deadline. Each must get exactly one red card;
5. a poller in this process reads the new red DeadlineAlert rows of the stream every
   `--poll` seconds (its own connection, autocommit, READ COMMITTED) and stamps each
   with its own clock when the query returns. A card's commit lies between the
   previous poll's start and this poll's end: lateness is measured as (this poll's
   end - the deadline), an upper bound; the resolution (that interval's largest width)
   is printed with the figures.
Then every process is stopped (and killed if it does not stop, on error too), the
cards are counted (expected vs raised, lost, doubled), and the copy is dropped.

Default: a 180 s window with 2,700 tickets due, about 5 minutes in all; --quick: 60 s
with 600 due, about 2 minutes (plus the data set's generation the first time, 1-2
minutes). It reports; exit code 0 whether the target is passed or missed.
"""

import argparse
import ctypes
import datetime as dt
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402

COPY_NAME = "minhu_bench_lateness"
TARGET_S = 60.0
YELLOW_BEFORE = dt.timedelta(seconds=60)  # each stream ticket's yellow mark
CLOCK = dt.timedelta(seconds=300)  # how long before its deadline the stage's clock started
DESCRIPTION = "【时限测试】路灯不亮已经一周了，请尽快处理。"
LOAD_DESCRIPTION = "【负载测试】小区门口井盖缺失，存在安全隐患，请尽快处理。"

_rule = prepare.rule


# -- the processes ------------------------------------------------------------------


def _die_with_parent() -> None:
    """In a child before exec: receive SIGTERM should this process die (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path


class Children:
    """The subprocesses this run started; each is stopped by its own id."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log_dir, self.env, self.children = log_dir, env, []

    def start(self, name: str, args: list[str]) -> Child:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args, cwd=prepare.ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def stop(self, child: Child, timeout: float = 15.0) -> None:
        """SIGTERM to the child, then SIGKILL to its process group (its pool) if needed."""
        process = child.process
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:  # the child's own group: a worker's pool processes die with it
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)


def _wait_for(predicate, timeout: float, what: str, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(step)


def _log_has(child: Child, text: str) -> bool:
    if child.process.poll() is not None:
        raise RuntimeError(f"{child.name} exited with {child.process.returncode}; "
                           f"its log: {child.log}\n" + _tail(child.log))
    return text in child.log.read_text(errors="replace")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- the copy of the benchmark database ---------------------------------------------


def _with_name(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str):
    import psycopg

    return psycopg.connect(_with_name(url, "postgres"), autocommit=True)


def copy_database(url: str) -> str:
    """Create COPY_NAME from the benchmark database as a template; return its URL."""
    from psycopg import errors, sql

    source = urlsplit(url).path.lstrip("/")
    with _admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(COPY_NAME)))
        for attempt in range(10):
            try:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(COPY_NAME), sql.Identifier(source)))
                break
            except errors.ObjectInUse:  # a session on the template: wait for it to end
                if attempt == 9:
                    raise
                time.sleep(2)
    return _with_name(url, COPY_NAME)


def drop_copy(url: str) -> None:
    from psycopg import sql

    with _admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(COPY_NAME)))


def use_database(name: str) -> None:
    """Point this process's Django connections at another database."""
    from django.db import connections

    for conn in connections.all():
        conn.close()
        conn.settings_dict["NAME"] = name


# -- the stream of tickets falling due ---------------------------------------------


@dataclass
class Due:
    ticket_id: int
    due: dt.datetime
    stage: str  # "resolve" (in progress) or "claim" (dispatched)
    burst: bool


def plan(t0: dt.datetime, window: float, uniform: int, bursts: int, burst_size: int,
         rng: random.Random) -> list[tuple[dt.datetime, bool]]:
    """Deadlines: `uniform` one per equal slot of the window (jittered), plus bursts."""
    dues = [(t0 + dt.timedelta(seconds=window * (k + rng.random()) / uniform), False)
            for k in range(uniform)]
    for _ in range(bursts):
        at = t0 + dt.timedelta(seconds=window * rng.uniform(0.1, 0.9))
        dues += [(at + dt.timedelta(seconds=rng.random()), True) for _ in range(burst_size)]
    return sorted(dues)


def make_stream(dues: list[tuple[dt.datetime, bool]], rng: random.Random) -> list[Due]:
    """Insert open tickets whose deadlines are `dues`, as the model would keep them."""
    from django.db import connection

    from departments.models import Category, Unit, UnitKind
    from tickets.models import State, Ticket
    from tickets.services import ticket_number

    leaves = list(Category.objects.filter(parent__isnull=False, is_active=True,
                                          children__isnull=True).order_by("code"))
    units = list(Unit.objects.exclude(kind=UnitKind.CENTRE).filter(is_active=True).order_by("id"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('tickets_ticket', 'id')) "
                       "FROM generate_series(1, %s)", [len(dues)])
        ids = [row[0] for row in cursor.fetchall()]
    stream, tickets = [], []
    for ticket_id, (due, burst) in zip(ids, dues):
        stage = "resolve" if rng.random() < 0.75 else "claim"
        dispatched = due - CLOCK
        reported = dispatched - dt.timedelta(minutes=2)
        ticket = Ticket(
            id=ticket_id, state=State.IN_PROGRESS if stage == "resolve" else State.DISPATCHED,
            channel="web", category=rng.choice(leaves), unit=rng.choice(units),
            description=DESCRIPTION, address="中南路88号", access_code_hash="h1$bench$lateness",
            reported_at=reported, accepted_at=reported + dt.timedelta(seconds=30),
            dispatched_at=dispatched,
            claimed_at=dispatched + dt.timedelta(seconds=30) if stage == "resolve" else None,
            accept_due_at=reported + dt.timedelta(hours=2),
            accept_warn_at=reported + dt.timedelta(minutes=96),
        )
        if stage == "resolve":
            ticket.claim_due_at = dispatched + dt.timedelta(hours=4)
            ticket.claim_warn_at = dispatched + dt.timedelta(minutes=192)
            ticket.resolve_due_at, ticket.resolve_warn_at = due, due - YELLOW_BEFORE
        else:
            ticket.claim_due_at, ticket.claim_warn_at = due, due - YELLOW_BEFORE
            ticket.resolve_due_at = due + dt.timedelta(days=5)
            ticket.resolve_warn_at = due + dt.timedelta(days=4)
        ticket.number = ticket_number(ticket_id, reported)
        ticket.refresh_sla()  # due_at, warn_at, next_check_at as every transition sets them
        tickets.append(ticket)
        stream.append(Due(ticket_id, due, stage, burst))
    Ticket.objects.bulk_create(tickets, batch_size=500)
    return stream


# -- the load -------------------------------------------------------------------------


def load_worker(seconds: float) -> int:
    """Run ticket lifecycles through tickets.services until SIGTERM; print stats as JSON."""
    prepare.configure_django(os.environ["DATABASE_URL"])

    from django.contrib.auth import get_user_model

    from departments.demo_data import STAFF
    from departments.models import Category, Unit
    from tickets import services

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # The demo staff (seed_demo): the centre's operator and dispatcher, two units' handlers.
    units = {username: unit for username, unit, _role in STAFF}
    users = {u.username: u for u in get_user_model().objects.filter(username__in=units)}
    dispatcher, operator = users["dispatcher"], users["operator"]
    handlers = [(Unit.objects.get(code=units[name]), users[name])
                for name in ("handler", "handler2")]
    leaves = list(Category.objects.filter(parent__isnull=False, is_active=True,
                                          children__isnull=True))
    rng = random.Random(os.getpid())
    samples, errors, lifecycles = [], [], 0
    print("ready", flush=True)
    started = time.monotonic()

    def timed(call, **kwargs):
        t = time.perf_counter()
        result = call(**kwargs)
        samples.append((time.perf_counter() - t) * 1000)
        return result

    while not stop and time.monotonic() - started < seconds:
        unit, handler = rng.choice(handlers)
        try:
            ticket, _code = timed(services.ticket_create, category=rng.choice(leaves),
                                  description=LOAD_DESCRIPTION, channel="web", actor=None)
            timed(services.ticket_dispatch, ticket_id=ticket.id, unit=unit, actor=dispatcher)
            timed(services.ticket_claim, ticket_id=ticket.id, actor=handler)
            timed(services.ticket_resolve, ticket_id=ticket.id, actor=handler,
                  reply="经核实，已安排处理完毕。")
            timed(services.ticket_verify, ticket_id=ticket.id, actor=dispatcher)
            timed(services.ticket_rate, ticket_id=ticket.id, actor=operator, rating="satisfied")
            lifecycles += 1
        except Exception as error:  # report, go on: the load must not stop the run
            errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.1)
    samples.sort()
    print(json.dumps({
        "seconds": time.monotonic() - started, "lifecycles": lifecycles,
        "transitions": len(samples), "errors": len(errors), "first_errors": errors[:3],
        "p50_ms": _pct(samples, 50), "p99_ms": _pct(samples, 99),
        "max_ms": samples[-1] if samples else float("nan"),
    }), flush=True)
    return 0


# -- measuring ---------------------------------------------------------------------


def _pct(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class Seen:
    upper: float  # the end of the poll that first returned the card (epoch seconds)
    lower: float  # the start of the poll before it: the commit came after this
    raised_at: dt.datetime  # the sweep's `now`
    stage: str
    alert_due: dt.datetime


def poll(url: str, stream: list[Due], *, interval: float, drain: float, progress: float
         ) -> tuple[dict[int, Seen], float]:
    """Watch for the stream's red cards until all are seen or `drain` s after the last due."""
    import psycopg

    pending = {d.ticket_id: d for d in stream}
    seen: dict[int, Seen] = {}
    last_due = max(d.due for d in stream).timestamp()
    width = 0.0
    previous_start = time.time()
    next_report = time.time() + progress
    t0 = min(d.due for d in stream).timestamp()
    with psycopg.connect(url, autocommit=True) as conn:
        while pending:
            start = time.time()
            rows = conn.execute(
                "SELECT ticket_id, stage, due_at, raised_at FROM tickets_deadlinealert "
                "WHERE level = 'red' AND ticket_id = ANY(%s)", [list(pending)],
            ).fetchall()
            end = time.time()
            for ticket_id, stage, alert_due, raised_at in rows:
                if ticket_id in pending:
                    seen[ticket_id] = Seen(end, previous_start, raised_at, stage, alert_due)
                    del pending[ticket_id]
            if rows:
                width = max(width, end - previous_start)
            previous_start = start
            if end >= next_report:
                next_report += progress
                fallen = sum(1 for d in stream if d.due.timestamp() <= end)
                worst = max((s.upper - s.alert_due.timestamp() for s in seen.values()),
                            default=0.0)
                overdue = [end - d.due.timestamp() for d in pending.values()
                           if d.due.timestamp() <= end]
                print(f"  t{end - t0:+6.0f} s: due so far {fallen:>5}, red cards seen "
                      f"{len(seen):>5}, waiting {len(overdue):>4} "
                      f"(oldest {max(overdue, default=0):4.0f} s late); "
                      f"worst lateness so far {worst:5.1f} s", flush=True)
            if end > last_due + drain:
                break
            time.sleep(max(0.0, start + interval - time.time()))
    return seen, width


def count_cards(stream: list[Due]) -> dict:
    """Every card of the stream, from the database: lost, doubled, wrong."""
    from django.db import connection

    try:
        from tickets.sla import EVENT_KINDS
        from tickets.models import AlertLevel

        red_event = EVENT_KINDS[AlertLevel.RED]
    except (ImportError, KeyError):
        red_event = "warning_red"
    ids = [d.ticket_id for d in stream]
    planned = {d.ticket_id: d for d in stream}
    with connection.cursor() as cursor:
        cursor.execute("SELECT ticket_id, stage, due_at FROM tickets_deadlinealert "
                       "WHERE level = 'red' AND ticket_id = ANY(%s)", [ids])
        reds = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM tickets_deadlinealert "
                       "WHERE level = 'yellow' AND ticket_id = ANY(%s)", [ids])
        yellows = cursor.fetchone()[0]
        cursor.execute("SELECT ticket_id, count(*) FROM tickets_ticketevent "
                       "WHERE kind = %s AND ticket_id = ANY(%s) GROUP BY ticket_id",
                       [red_event, ids])
        events = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM tickets_ticket "
                       "WHERE id = ANY(%s) AND escalation_level <> 1", [ids])
        wrong_level = cursor.fetchone()[0]
        cursor.execute(
            "SELECT n.ticket_id, n.event_id, n.status, n.sent_at FROM tickets_notification n "
            "JOIN tickets_ticketevent e ON e.id = n.event_id "
            "WHERE e.kind = %s AND n.ticket_id = ANY(%s)", [red_event, ids])
        notices = cursor.fetchall()
    sent = sorted((at - planned[ticket_id].due).total_seconds()
                  for ticket_id, _event, status, at in notices if at is not None)
    per_ticket: dict[int, int] = {}
    for ticket_id, _stage, _due in reds:
        per_ticket[ticket_id] = per_ticket.get(ticket_id, 0) + 1
    wrong = sum(1 for ticket_id, stage, due in reds
                if stage != planned[ticket_id].stage or due != planned[ticket_id].due)
    return dict(
        expected=len(stream), raised=len(per_ticket), rows=len(reds),
        lost=len(stream) - len(per_ticket),
        doubled=sum(n - 1 for n in per_ticket.values()),
        wrong=wrong, yellows=yellows,
        events=sum(events.values()), doubled_events=sum(n - 1 for n in events.values() if n > 1),
        wrong_level=wrong_level, notices=len(notices), sent=sent,
        told=len({event for _ticket, event, _status, _at in notices}),
        skipped=sum(1 for _ticket, _event, status, _at in notices if status == "skipped"),
    )


_TASK_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/[^\]]+\] "
                        r"Task ([\w.]+)\[[^\]]+\] (succeeded in ([\d.]+)s: (.*)|raised .*)$")


def worker_tasks(log: Path, since: float, until: float) -> dict[str, dict]:
    """Per task name, from the worker's log: runs, run times, sweep start times, failures."""
    tasks: dict[str, dict] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _TASK_LINE.match(line)
        if not match:
            continue
        stamp, name, ok, runtime, result = match.groups()
        ended = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if not since <= ended <= until:
            continue
        task = tasks.setdefault(name, {"runs": [], "starts": [], "results": [], "failed": 0})
        if not ok.startswith("succeeded"):
            task["failed"] += 1
            continue
        task["runs"].append(float(runtime))
        task["starts"].append(ended - float(runtime))
        task["results"].append(result)
    return tasks


# -- the run ----------------------------------------------------------------------------


def _redis(url: str):
    import redis

    return redis.Redis.from_url(url)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a 60 s window, 400 spread + one burst of 200 (about 2 minutes)")
    parser.add_argument("--window", type=float, help="seconds over which deadlines fall (180)")
    parser.add_argument("--uniform", type=int, help="tickets due spread over the window (1500)")
    parser.add_argument("--bursts", type=int, help="instants with a burst of deadlines (3)")
    parser.add_argument("--burst-size", type=int, help="tickets due in each burst's second (400)")
    parser.add_argument("--load", type=int, default=2,
                        help="load processes running ticket lifecycles (default 2; 0: none)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--poll", type=float, default=0.25, help="poll interval, s (0.25)")
    parser.add_argument("--lead", type=float, default=15.0,
                        help="seconds from the stream's creation to its first deadline (15)")
    parser.add_argument("--drain", type=float,
                        help="seconds after the last deadline to wait for missing cards (120)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--open", type=int, default=100_000, help="open tickets in the data set")
    parser.add_argument("--closed", type=int, default=1_000_000,
                        help="finished tickets in the data set")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the worker's, beat's and the load's logs")
    parser.add_argument("--load-worker", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker is not None:
        return load_worker(args.load_worker)
    quick = dict(window=60.0, uniform=400, bursts=1, burst_size=200, drain=90.0)
    full = dict(window=180.0, uniform=1500, bursts=3, burst_size=400, drain=120.0)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        print("REDIS_URL is not set: the worker needs a broker (e.g. redis://127.0.0.1:6379/11)")
        return 0
    # SIGTERM ends the run through the same clean-up as an error.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = time.monotonic()
    _rule("setup")
    url = prepare.setup()

    from bench import sla_sweep

    sla_sweep.ensure_data(args.open, args.closed)

    log_dir = Path(tempfile.mkdtemp(prefix="minhu-lateness-"))
    broker = _redis(redis_url)
    keys_before = set(broker.keys("*"))
    if keys_before:
        print(f"note: Redis {redis_url} holds {len(keys_before)} keys already; a worker of "
              f"someone else on it would take tasks too")
    copy_url = None
    children = None
    stream: list[Due] = []
    try:
        _rule(f"copy of the data set: {COPY_NAME}")
        from django.db import connections

        for conn in connections.all():
            conn.close()
        t = time.perf_counter()
        copy_url = copy_database(url)
        use_database(COPY_NAME)
        print(f"created from minhu_bench in {time.perf_counter() - t:.1f} s (dropped at the end)")

        from django.utils import timezone

        from tickets.sla import sla_sweep as sweep

        t = time.perf_counter()
        caught_up = sweep()
        print(f"catch-up: {caught_up} cards of marks that came due since generation, "
              f"{time.perf_counter() - t:.1f} s")

        _rule("processes")
        env = {**os.environ, "DATABASE_URL": copy_url, "REDIS_URL": redis_url,
               "SECRET_KEY": "bench-only", "DEBUG": "false", "ALLOWED_HOSTS": "testserver",
               "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "config.settings",
               "PYTHONPATH": str(prepare.ROOT)}
        children = Children(log_dir, env)
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        worker = children.start("worker", celery + [
            "worker", "-l", "info", "--concurrency", str(args.concurrency),
            "-n", f"lateness-{os.getpid()}@%h"])
        beat = children.start("beat", celery + [
            "beat", "-l", "info", "-s", str(log_dir / "beat-schedule")])
        t = time.perf_counter()
        _wait_for(lambda: _log_has(worker, " ready."), 90, "the worker")
        _wait_for(lambda: _log_has(beat, "beat: Starting"), 30, "beat")
        print(f"worker (prefork, concurrency {args.concurrency}) and beat up in "
              f"{time.perf_counter() - t:.1f} s; logs in {log_dir}")
        _wait_for(lambda: broker.llen("celery") == 0, 120, "the broker queue to empty")

        loads = [children.start(f"load{i + 1}", [
            sys.executable, str(Path(__file__).resolve()),
            "--load-worker", str(args.window + args.drain + args.lead + 120)])
            for i in range(args.load)]
        for load in loads:
            _wait_for(lambda: _log_has(load, "ready"), 60, load.name)
        if loads:
            time.sleep(3)  # let the load reach its pace
        print(f"{len(loads)} load processes running ticket lifecycles through tickets.services")

        rng = random.Random(args.seed)
        t0 = timezone.now() + dt.timedelta(seconds=args.lead)
        dues = plan(t0, args.window, args.uniform, args.bursts, args.burst_size, rng)
        t = time.perf_counter()
        stream = make_stream(dues, rng)
        burst_at = sorted({d.due.replace(microsecond=0) for d in stream if d.burst})
        resolving = sum(d.stage == "resolve" for d in stream)
        print(f"stream: {len(stream):,} open tickets ({resolving:,} "
              f"in progress due to resolve, {len(stream) - resolving:,} dispatched "
              f"due to sign for) inserted in {time.perf_counter() - t:.1f} s;\n"
              f"  deadlines from {(dues[0][0] - timezone.now()).total_seconds():.0f} s to "
              f"{(dues[-1][0] - timezone.now()).total_seconds():.0f} s from now: "
              f"{args.uniform:,} spread, bursts of {args.burst_size} at "
              + ", ".join(f"+{(b - t0).total_seconds():.0f} s" for b in burst_at[:args.bursts]))

        _rule(f"window: {args.window:.0f} s, polling every {args.poll} s")
        window_start = time.time()
        seen, width = poll(copy_url, stream, interval=args.poll, drain=args.drain,
                           progress=15.0 if not args.quick else 10.0)
        window_end = time.time()

        for load in loads:  # each prints its figures on SIGTERM
            children.stop(load, timeout=30)
        load_stats = []
        for load in loads:
            lines = [line for line in load.log.read_text(errors="replace").splitlines()
                     if line.startswith("{")]
            if lines:
                load_stats.append(json.loads(lines[-1]))
        # Let the worker send the last cards' notices before it stops.
        try:
            _wait_for(lambda: broker.llen("celery") == 0, 60, "the notices to be sent")
        except TimeoutError as error:
            print(f"note: {error}")
        children.stop(beat)
        children.stop(worker, timeout=20)
        tasks = worker_tasks(worker.log, window_start, window_end)
        cards = count_cards(stream)
    finally:
        if children is not None:
            children.stop_all()
        from django.db import connections

        for conn in connections.all():
            conn.close()
        if copy_url is not None:
            drop_copy(url)
        new_keys = set(broker.keys("*")) - keys_before
        if new_keys:
            broker.delete(*new_keys)
        if not args.keep_logs and log_dir.exists():
            for path in log_dir.iterdir():
                path.unlink()
            log_dir.rmdir()

    report(args, stream, seen, width, cards, load_stats, tasks, window_end - window_start,
           time.monotonic() - began, caught_up)
    return 0


def report(args, stream, seen, width, cards, load_stats, tasks, window, total, caught_up) -> None:
    dues = {d.ticket_id: d for d in stream}
    late = sorted(s.upper - dues[t].due.timestamp() for t, s in seen.items())
    waited = sorted((s.raised_at - dues[t].due).total_seconds() for t, s in seen.items())
    worked = sorted(s.upper - s.raised_at.timestamp() for s in seen.values())

    def line(values: list[float]) -> str:
        return (f"p50 {_pct(values, 50):5.1f} s  p90 {_pct(values, 90):5.1f} s  "
                f"p99 {_pct(values, 99):5.1f} s  max {_pct(values, 100):5.1f} s")

    _rule(f"figures (target: red card visible within {TARGET_S:.0f} s of its deadline, p99)")
    p99 = _pct(late, 99)
    verdict = "PASS" if late and p99 < TARGET_S and not cards["lost"] else "MISS"
    print(f"red-card lateness, {len(late):,} cards   {line(late)}   "
          f"target p99 < {TARGET_S:.0f} s  {verdict}")
    for name, keep in (("spread", False), ("in bursts", True)):
        part = sorted(s.upper - dues[t].due.timestamp() for t, s in seen.items()
                      if dues[t].burst == keep)
        if part:
            print(f"  {name:<28} {len(part):>6,}   {line(part)}")
    print(f"  waiting for the sweep's round {'':>6}   {line(waited)}   (raised_at - deadline)")
    print(f"  the sweep's work, commit, poll {'':>5}   {line(worked)}   (seen - raised_at)")
    print(f"(lateness = end of the poll that first returned the card - deadline: an upper "
          f"bound; the commit lies\n within the {width * 1000:.0f} ms before it at most: "
          f"the measurement's resolution, poll every {args.poll} s)")

    ok = cards["lost"] == cards["doubled"] == cards["wrong"] == cards["doubled_events"] == 0
    print(f"\ncards: expected {cards['expected']:,} red, raised {cards['raised']:,} "
          f"({cards['rows']:,} rows): lost {cards['lost']}, doubled {cards['doubled']}, "
          f"on the wrong stage or deadline {cards['wrong']}  {'OK' if ok else 'WRONG'}")
    print(f"  red-card events {cards['events']:,} (doubled {cards['doubled_events']}), "
          f"tickets whose escalation level is not 1: {cards['wrong_level']}; "
          f"yellow cards {cards['yellows']:,}")
    sent = cards["sent"]
    print(f"  notices of the red cards (escalation to the unit, the unit above, the centre): "
          f"{cards['notices']:,} for {cards['told']:,} cards,\n"
          f"  {len(sent):,} sent ({cards['skipped']:,} with no address), sent at "
          f"{line(sent) if sent else '-'} after the deadline")
    if len(seen) < len(stream):
        print(f"  {len(stream) - len(seen)} red cards were not seen within {args.drain:.0f} s "
              f"after the last deadline")

    print(f"\nwindow: {args.window:.0f} s of deadlines ({args.uniform:,} spread, {args.bursts} "
          f"burst{'s' if args.bursts != 1 else ''} of {args.burst_size}), measured for "
          f"{window:.0f} s; "
          f"catch-up before it: {caught_up} cards")
    if load_stats:
        transitions = sum(s["transitions"] for s in load_stats)
        seconds = max(s["seconds"] for s in load_stats)
        print(f"load: {len(load_stats)} processes, {transitions:,} transitions in {seconds:.0f} s "
              f"= {transitions / seconds:,.0f}/s ({sum(s['lifecycles'] for s in load_stats):,} "
              f"tickets reported to closed); per transition p50 "
              + "/".join(f"{s['p50_ms']:.0f}" for s in load_stats) + " ms, p99 "
              + "/".join(f"{s['p99_ms']:.0f}" for s in load_stats) + " ms; errors "
              + str(sum(s["errors"] for s in load_stats)))
        for s in load_stats:
            for error in s["first_errors"]:
                print(f"  load error: {error}")
    else:
        print("load: none")
    sweeps = tasks.get("tickets.tasks.sla_sweep_task")
    if sweeps and sweeps["runs"]:
        runs, starts = sorted(sweeps["runs"]), sorted(sweeps["starts"])
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        raised = [int(r) for r in sweeps["results"] if r.strip().isdigit()]
        print(f"worker: concurrency {args.concurrency}; sla sweeps in the window: {len(runs)}, "
              f"run time p50 {_pct(runs, 50):.2f} s, max {runs[-1]:.2f} s, cards per sweep max "
              f"{max(raised, default=0):,}; gap between sweep starts max "
              f"{max(gaps, default=float('nan')):.1f} s (beat: 30 s)")
    for name, task in sorted(tasks.items()):
        if name == "tickets.tasks.sla_sweep_task" or not task["runs"]:
            continue
        print(f"  also ran: {name} x{len(task['runs'])}, {sum(task['runs']):.1f} s in all"
              + (f", {task['failed']} failed" if task["failed"] else ""))
    failed = sum(t["failed"] for t in tasks.values())
    if failed:
        print(f"  tasks that raised: {failed}")
    print(f"\nwhole run: {total:.0f} s")


if __name__ == "__main__":
    main()
    sys.exit(0)
