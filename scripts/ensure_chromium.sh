#!/usr/bin/env bash
# Browser tests drive Debian's chromium. Install it when missing and the machine allows it;
# otherwise say plainly that the browser tests will be skipped.
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/tmp/dealercrm-chromium.log 2>&1; then
    echo "chromium installed."
    exit 0
  fi
  echo "Could not install chromium (see /tmp/dealercrm-chromium.log)."
fi
echo "NOTE: /usr/bin/chromium is not available: the browser tests (tests/e2e) will be SKIPPED."
exit 0
