#!/bin/sh
# Checks the Prometheus configuration and alerting rules of the reference
# deployment, and runs the rules' unit tests (prometheus/alerts_test.yml).
# Needs promtool (Debian: apt-get install prometheus). Exits non-zero on the
# first failure.
set -eu
cd "$(dirname "$0")"

if ! command -v promtool >/dev/null 2>&1; then
	echo "check.sh: promtool not found (Debian: apt-get install prometheus)" >&2
	exit 1
fi

promtool check rules prometheus/alerts.yml
promtool check config prometheus/prometheus.yml
promtool test rules prometheus/alerts_test.yml
