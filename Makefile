# Benchmarks: `make bench` runs them all and writes BENCHMARKS.md; `make bench-NAME` runs one (the document keeps
# the others' last results). The virtual environment is made or brought up to date first, as dev.py does.
PYTHON := .venv/bin/python

.PHONY: venv bench bench-slots-engine bench-slots-api bench-booking-race bench-reminders bench-caldav-sync

venv:
	python3 -c "import dev; dev.ensure_environment()"

bench: venv
	$(PYTHON) bench/run.py

bench-slots-engine: venv
	$(PYTHON) bench/run.py --only slots_engine

bench-slots-api: venv
	$(PYTHON) bench/run.py --only slots_api

bench-booking-race: venv
	$(PYTHON) bench/run.py --only booking_race

bench-reminders: venv
	$(PYTHON) bench/run.py --only reminders

bench-caldav-sync: venv
	$(PYTHON) bench/run.py --only caldav_sync
