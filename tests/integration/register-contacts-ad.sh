#!/bin/bash
# register-contacts-ad.sh - register-contacts.sh against Samba AD, whose
# defaults are otherMailbox and otherMobile.
REGISTER_ON=ad exec "$(dirname "$0")/register-contacts.sh"
