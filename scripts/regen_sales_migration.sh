#!/bin/sh
# While issue 4 is built in parallel: regenerate the sales app's initial migration after a model
# change, under a lock so two sessions never write it at once. (Removed once the app lands.)
set -e
cd "$(dirname "$0")/.."
exec 9>/tmp/sales-migrations.lock
flock 9
# The data migration 0002 depends on 0001: set it aside while 0001 is remade.
mv dealercrm/sales/migrations/0002_purchase_tax_rules.py /tmp/0002_purchase_tax_rules.py
trap 'mv /tmp/0002_purchase_tax_rules.py dealercrm/sales/migrations/0002_purchase_tax_rules.py' EXIT
rm -f dealercrm/sales/migrations/0001_initial.py
uv run python manage.py makemigrations sales --name initial
