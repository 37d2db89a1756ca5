"""AllowGroups resolved to user ids, as slurmctld resolves them: a group's listed members and every
user whose primary group it is. Called by the background state refresh only: NSS lookups (LDAP,
sssd) can take seconds and must never run while the hook waits."""

from __future__ import annotations

import grp
import pwd


def resolve_groups(names: set[str]) -> dict[str, set[int]]:
    """group name → uids of its members; a group NSS does not know has none."""
    if not names:
        return {}
    out: dict[str, set[int]] = {}
    gids: dict[int, str] = {}
    for name in names:
        uids: set[int] = set()
        try:
            g = grp.getgrnam(name)
        except KeyError:
            out[name] = uids
            continue
        gids[g.gr_gid] = name
        for member in g.gr_mem:
            try:
                uids.add(pwd.getpwnam(member).pw_uid)
            except KeyError:
                continue
        out[name] = uids
    if gids:
        for user in pwd.getpwall():
            if user.pw_gid in gids:
                out[gids[user.pw_gid]].add(user.pw_uid)
    return out
