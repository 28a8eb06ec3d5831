"""Who is calling: a person or an integrating system, their roles, and the org units they may see.

Org scopes are org paths: ``'G'`` (a group and everything in it), ``'G/S'`` (one subsidiary and its
projects), ``'G/S/P'`` (one project department or property office). ``'*'`` is every group: only for
platform operators and the test harness, never handed to a person by the dev issuer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

EVERY_GROUP = "*"


class Role(StrEnum):
    """The roles of the procedures (docs/domain.md §1), as token claims name them."""

    CUSTOMER_SERVICE = "customer_service"  # 客户服务部 / 客户服务中心: receives and answers customers
    HANDLER = "handler"  # the named handler in a receiving department
    QUALITY = "quality"  # 质量部 / 品质管理部: classifies, tracks deadlines, verifies corrective actions
    SITE_TEAM = "site_team"  # site / repair team: investigates and repairs
    CUSTOMER_MANAGER = "customer_manager"  # 客户经理: key customers, visits, surveys
    EXECUTIVE = "executive"  # executives and the management representative: reports
    ADMINISTRATOR = "administrator"  # registry and system administration
    SYSTEM = "system"  # an integrating system (machine client): call centre, ERP, property systems


PEOPLE: frozenset[Role] = frozenset(Role) - {Role.SYSTEM}
EVERYONE: frozenset[Role] = frozenset(Role)

# Who gets contact details (phone, e-mail, contact names) in clear: the people who call customers
# back (customer service, customer managers) and the repair teams who visit them (docs/domain.md §2,
# §4). Everyone else, administrators included, sees masked values.
SEES_CONTACT_DETAILS: frozenset[Role] = frozenset({Role.CUSTOMER_SERVICE, Role.CUSTOMER_MANAGER, Role.SITE_TEAM})


def split_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.strip().strip("/").split("/") if part)


def path_within(path: str, scope: str) -> bool:
    """Whether org path ``path`` lies inside ``scope`` (its own unit or below it)."""
    if scope == EVERY_GROUP:
        return True
    inner, outer = split_path(path), split_path(scope)
    return bool(outer) and inner[: len(outer)] == outer


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    scopes: tuple[str, ...]
    client: bool = False
    name: str | None = field(default=None, compare=False)

    def has_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def sees_everything(self) -> bool:
        return EVERY_GROUP in self.scopes

    def may_see(self, org_path: str | None) -> bool:
        """Whether a record at ``org_path`` is inside one of this caller's org units."""
        if self.sees_everything:
            return True
        if not org_path:
            return False
        return any(path_within(org_path, scope) for scope in self.scopes)

    def may_see_org(self, group: str, subsidiary: str | None = None, project: str | None = None) -> bool:
        return self.may_see("/".join(p for p in (group, subsidiary, project) if p))

    @property
    def sees_contact_details(self) -> bool:
        return self.has_any(SEES_CONTACT_DETAILS)

    def scope_tuples(self) -> list[tuple[str, ...]]:
        """Each scope as (group,), (group, subsidiary) or (group, subsidiary, project)."""
        return [split_path(s) for s in self.scopes if s != EVERY_GROUP and split_path(s)]


__all__ = ["EVERYONE", "EVERY_GROUP", "PEOPLE", "Principal", "Role", "SEES_CONTACT_DETAILS", "path_within",
           "split_path"]
