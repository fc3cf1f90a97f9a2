"""gunicorn's settings for the web processes, read from the working directory: `gunicorn config.wsgi`.

Two processes per core with 4 threads each. On the booking race benchmark (bench/bench_booking_race.py, 2 cores) this
served about 95-105 attempts/s, against 62-68/s with one process per core and 16 threads, whose threads mostly
contend for the interpreter's lock. WEB_CONCURRENCY and WEB_THREADS override the counts.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 4)
bind = os.environ.get("WEB_BIND") or "0.0.0.0:8000"
