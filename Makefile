# Minhu: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# The suite runs on PostgreSQL and Redis; these defaults match a developer machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/minhu
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install run test bench messages migrations-check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# The whole product with demo data. Without DATABASE_URL/REDIS_URL it runs embedded
# (SQLite, in-process tasks); with them, on PostgreSQL and Redis.
run: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	# Under ASGI each request runs in a thread of its own, which would keep its database
	# connection for good: the ASGI server opens one per request instead.
	DEBUG=$${DEBUG:-true} DB_CONN_MAX_AGE=0 $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --ws-max-size 65536 --ws-per-message-deflate false

migrations-check: install
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

test: install migrations-check
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	DEBUG=false SECRET_KEY=test-only-not-secret \
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	$(BIN)/python bench/run.py

# Refresh the zh-hans catalogue from the code, then compile it (needs GNU gettext);
# the compiled .mo is committed, so running the product never needs gettext.
messages: install
	DEBUG=true $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --add-location file \
		-i '.venv/*' -i 'bench/*' -i 'tests/*' -i 'staticfiles/*' -i 'media/*'
	DEBUG=true $(BIN)/python manage.py compilemessages -l zh_Hans -i '.venv/*'

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
