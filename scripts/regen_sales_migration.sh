#!/bin/sh
# While issue 4 is built in parallel: regenerate the sales app's initial migration after a model
# change, under a lock so two sessions never write it at once. (Removed once the app lands.)
set -e
cd "$(dirname "$0")/.."
exec 9>/tmp/sales-migrations.lock
flock 9
rm -f dealercrm/sales/migrations/0001_initial.py
uv run python manage.py makemigrations sales --name initial
