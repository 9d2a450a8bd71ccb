"""Races for tests: threads released at once, each on its own database connection."""

import threading

from django.db import connection


def race(workers: int, job) -> list:
    """Run `job(i)` in `workers` threads released at once; return results or exceptions."""
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def run(i):
        try:
            barrier.wait()
            results[i] = job(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
