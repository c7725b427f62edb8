#!/bin/bash
# web-browser-ad.sh - web-browser.sh's reset flows against Samba AD, so the
# portal's resets meet a real unicodePwd.
WEB_ON=ad exec "$(dirname "$0")/web-browser.sh"
