"""What a broadcast costs the request that makes it: `.venv/bin/python bench/broadcast.py`

A dispatch's events go to five groups (the centre, the unit, two tree levels, the
ticket). A WSGI worker sends them after the commit, synchronously, so their sending
is added to the response time. This sends the same five messages N times from a
plain thread, as a web server worker does, two ways:

- through `tickets.broadcast.send` (a blocking pipeline on the process's kept Redis connections);
- through `async_to_sync`, which runs each send on a new event loop with new Redis
  connections (how the sending was done before, without the numbering; the comparison).

Nobody listens: every group is numbered and looked up, nothing is delivered (one round
trip; groups with members add a second, which this does not measure). Redis db 12 (emptied); no database is touched.
Target: p99 under 2 ms a broadcast. Reports only; exit code 0 either way.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare  # noqa: E402

TARGET_P99_MS = 2.0
REDIS_DB = 12


def _messages(n: int) -> list[tuple[str, dict]]:
    message = {"type": "ticket.dispatch", "id": n, "number": f"2026112400{n:05d}", "state": "dispatched",
               "from_state": "accepted", "unit": "water-group", "at": "2026-11-24T09:00:00+08:00"}
    groups = ["dispatch", "unit.water-group", "tree.centre", "tree.water-group", f"ticket.{n}"]
    return [(group, {"type": "ticket.message", "message": message}) for group in groups]


def _time(send, count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        send(_messages(n))
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=500, help="broadcasts per way (default 500)")
    args = parser.parse_args(argv)
    from bench.ws import bench_redis_url

    os.environ["REDIS_URL"] = bench_redis_url(os.environ.get("REDIS_URL"))
    prepare.configure_django(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/minhu_bench")
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from tickets import broadcast

    redis.from_url(os.environ["REDIS_URL"]).flushdb()
    layer = get_channel_layer()

    def fresh_loop_each_time(messages):
        # The earlier sending, unnumbered: the loop's closing closes its connections.
        async def run():
            await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))
        async_to_sync(run)()

    ways = [("kept connections (broadcast.send)", broadcast.send), ("new loop each send (async_to_sync)", fresh_loop_each_time)]
    prepare.rule(f"{args.sends} broadcasts of 5 messages each way, Redis {os.environ['REDIS_URL']}")
    results = {}
    for name, send in ways:
        _time(send, 20)  # warm up
        results[name] = _time(send, args.sends)
    for name, samples in results.items():
        ordered = sorted(samples)
        p99 = ordered[int(0.99 * len(ordered)) - 1]
        print(f"  {name:<38} p50 {statistics.median(samples):6.2f} ms  p99 {p99:6.2f} ms  "
              f"mean {statistics.fmean(samples):6.2f} ms")
    kept = sorted(results[ways[0][0]])
    p99 = kept[int(0.99 * len(kept)) - 1]
    print(f"\n  broadcast.send p99 {p99:.2f} ms < {TARGET_P99_MS:.0f} ms: {'PASS' if p99 < TARGET_P99_MS else 'MISS'}")
    broadcast.stop_sending()
    return 0


if __name__ == "__main__":
    sys.exit(main())
