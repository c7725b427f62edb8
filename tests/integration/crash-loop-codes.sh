#!/bin/bash
# crash-loop-codes.sh - crash-loop.sh with resets that carry their codes:
# no verify first, so SIGKILLs also land between the proof being saved and
# the write intent. Every reset must still be answered ok, written once.
CRASH_CARRY_CODE=1 exec "$(dirname "$0")/crash-loop.sh" "$@"
