"""The benchmark's own PostgreSQL database and the Django settings it runs under."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/minhu_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
BENCH_DATABASE_NAME = "minhu_bench"


def bench_database_url(url: str | None, name: str = BENCH_DATABASE_NAME) -> str:
    """Return DATABASE_URL with its database name replaced: never the developer's own database."""
    parts = urlsplit(url or DEFAULT_DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if missing (through the `postgres` database)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def configure_django(database_url: str) -> None:
    """Set the environment the way production runs (DEBUG off) and start Django."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = "bench-only"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()


def migrate_and_seed() -> dict[str, int]:
    from django.core.management import call_command

    from departments.demo import seed_demo

    call_command("migrate", interactive=False, verbosity=0)
    return seed_demo(with_passwords=False)


def setup() -> str:
    """Create, configure, migrate and seed the benchmark database; return its URL."""
    import os
    import time

    url = bench_database_url(os.environ.get("DATABASE_URL"))
    created = ensure_database(url)
    print(f"database {url} ({'created' if created else 'exists'})")
    configure_django(url)
    started = time.perf_counter()
    seeded = migrate_and_seed()
    print(f"migrate + seed_demo: {time.perf_counter() - started:.1f} s, {seeded}")
    return url


def rule(title: str) -> None:
    """Print a section heading of the benchmark's report."""
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))
