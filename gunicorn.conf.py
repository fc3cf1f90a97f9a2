"""gunicorn's settings for the web processes, read from the working directory: `gunicorn config.wsgi`.

One process per core and one more, with 3 threads each. The booking race benchmark (bench/bench_booking_race.py, on
2 cores, runs taken in turns) served 199-247 attempts/s this way, against 182-201/s with 4 processes of 4 threads;
2 x 3, 2 x 4, 3 x 2 and 4 x 2 came in between. More threads per process mostly contend for the interpreter's lock,
and every thread holds a database connection. WEB_CONCURRENCY and WEB_THREADS override the counts.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
threads = int(os.environ.get("WEB_THREADS") or 3)
bind = os.environ.get("WEB_BIND") or "0.0.0.0:8000"
