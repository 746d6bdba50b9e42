# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test setup setup-test down status lint bench evaluate

demo: setup
	PYTHONPATH=infra .venv/bin/python -m glassbox_launch demo

test: setup-test
	infra/bin/test

setup:
	infra/bin/setup

setup-test:
	infra/bin/setup --test

down:
	PYTHONPATH=infra .venv/bin/python -m glassbox_launch down

status:
	PYTHONPATH=infra .venv/bin/python -m glassbox_launch status

lint:
	.venv/bin/ruff check services web infra tests bench
	PYTHONPATH=services:web .venv/bin/lint-imports

bench: setup
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/search.py

evaluate: setup-test
	HF_HUB_OFFLINE=1 .venv-models/bin/python -m glassbox.evaluation
