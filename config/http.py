"""The HTTP side in production (the API, the webhooks, the pages): granian serving WSGI.

    python -m config.http [--host 0.0.0.0] [--port 8000] [any other option of granian]

Granian parses HTTP and keeps connections alive in Rust; Python threads only run
Django. Measured on intake (bench/intake.py, 32 kept-alive connections, 2 cores), the
two alternating on one machine: gunicorn's threaded workers spent 3.2-3.6 ms of CPU a
ticket and took 393-414 tickets/s, granian 2.7-3.0 ms and 414-472.

The defaults, each changed by granian's own option or its GRANIAN_* variable
(WEB_CONCURRENCY and WEB_THREADS as the common names for the first two):
- a worker process per core (WEB_CONCURRENCY);
- 3 threads running Django in each (WEB_THREADS): while one waits on PostgreSQL or
  Redis, another uses the core;
- a thread idle for 600 s ends, not after granian's 30 s: its persistent database
  connection (DB_CONN_MAX_AGE, 600 s) then lasts as long, and a lull between bursts
  does not close the connections the next burst needs;
- a worker that dies is started again (a worker dying again within seconds, as a bad
  setting makes it, stops the server instead);
- no WebSockets: /ws/ is the ASGI server's (uvicorn).
"""

import os
import sys

from granian.cli import cli


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def defaults() -> dict[str, str]:
    """Return the GRANIAN_* settings this module starts granian with, the environment's first."""
    return {
        "GRANIAN_INTERFACE": "wsgi",
        "GRANIAN_WORKERS": os.environ.get("WEB_CONCURRENCY") or str(max(_cores(), 2)),
        "GRANIAN_BLOCKING_THREADS": os.environ.get("WEB_THREADS") or "3",
        "GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT": "600",
        "GRANIAN_RESPAWN_FAILED_WORKERS": "true",
        "GRANIAN_WEBSOCKETS": "false",
    } | {name: value for name, value in os.environ.items() if name.startswith("GRANIAN_")}


def main(argv: list[str]) -> None:
    os.environ.update(defaults())
    cli(["config.wsgi:application", *argv], prog_name="python -m config.http", auto_envvar_prefix="GRANIAN")


if __name__ == "__main__":
    main(sys.argv[1:])
