"""Scope conditions for queries: only rows inside the caller's org units.

A record outside them is treated as absent: lists leave it out and by-id routes answer 404, so a
caller cannot even learn that it exists.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.auth.principal import Principal, split_path


def org_path_clause(principal: Principal, path_column: Any) -> Any | None:
    """For a column holding 'G/S/P' paths: None when the caller sees everything."""
    if principal.sees_everything:
        return None
    conditions = []
    for scope in principal.scope_tuples():
        path = "/".join(scope)
        conditions.append(sa.or_(path_column == path, path_column.startswith(path + "/", autoescape=True)))
    return sa.or_(*conditions) if conditions else sa.false()


def org_columns_clause(principal: Principal, group: Any, subsidiary: Any, project: Any) -> Any | None:
    """For tables with the org path in three columns (group, subsidiary, project)."""
    if principal.sees_everything:
        return None
    conditions = []
    for scope in principal.scope_tuples():
        parts = [group == scope[0]]
        if len(scope) > 1:
            parts.append(subsidiary == scope[1])
        if len(scope) > 2:
            parts.append(project == scope[2])
        conditions.append(sa.and_(*parts))
    return sa.or_(*conditions) if conditions else sa.false()


def within_scope(principal: Principal, org_path: str) -> bool:
    return bool(split_path(org_path)) and principal.may_see(org_path)


__all__ = ["org_columns_clause", "org_path_clause", "within_scope"]
