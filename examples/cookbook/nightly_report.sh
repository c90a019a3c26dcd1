#!/bin/sh
# Import last night's CRM export and refresh the funnel report (docs/cookbook.md, "The command
# line in a cron job").  Run from cron, e.g.:  30 6 * * 1-5  cd /srv/funnel && ./nightly_report.sh
# Settings: FUNNELKIT (the command, default funnelkit), EXPORT, FUNNEL, DB, REPORTS.
set -u
FUNNELKIT=${FUNNELKIT:-funnelkit}
EXPORT=${EXPORT:-exports/crm.csv}
FUNNEL=${FUNNEL:-funnel.toml}
DB=${DB:-funnel.db}
REPORTS=${REPORTS:-reports}

mkdir -p "$REPORTS"
$FUNNELKIT -q import "$EXPORT" --funnel "$FUNNEL" --db "$DB" \
  --column lead=contact --column stage=status --column time=changed_at --column channel=source
status=$?          # 1: some rows were refused (listed above); 2: a usage error
[ "$status" -le 1 ] || exit "$status"
$FUNNELKIT -q report --db "$DB" --funnel "$FUNNEL" -o "$REPORTS/$(date +%F).html" || exit $?
exit "$status"
