#!/bin/sh
# crash-loop-1000.sh - crash-loop.sh at scale: 1000 verified resets queued
# at once, 20 SIGKILLs spread over the run; 0 lost, 0 written twice.
CRASH_USERS=1000 CRASH_KILLS=20 exec bash "$(dirname "$0")/crash-loop.sh"
