#!/bin/bash
# totp-flow-ad.sh - totp-flow.sh against Samba AD.
TOTP_ON=ad exec "$(dirname "$0")/totp-flow.sh"
