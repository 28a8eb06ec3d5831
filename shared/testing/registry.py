"""Org units in intake's registry, written straight into its table (no events): for suites whose
inbound records need a registered org unit (intake dead-letters those of an unregistered one) but
that are not about the registry."""

from __future__ import annotations

import asyncpg

from shared.settings import Settings


async def register_org_units(settings: Settings, *paths: str) -> None:
    """Each path ('hx', 'hx/east', 'hx/east/lakeside'), its parents first; already there is fine."""
    conn = await asyncpg.connect(settings.db.admin_url)
    try:
        for path in sorted(set(paths), key=lambda p: p.count("/")):
            level = ("group", "subsidiary", "project")[path.count("/")]
            await conn.execute(
                "INSERT INTO intake.org_units (path, level, name, unit_type, parent_path) VALUES ($1, $2, $1, $3, $4)"
                " ON CONFLICT (path) DO NOTHING",
                path, level, "project_department" if level == "project" else level, path.rpartition("/")[0] or None)
    finally:
        await conn.close()


def with_parents(*paths: str) -> list[str]:
    """'hx/east/lakeside' → 'hx', 'hx/east', 'hx/east/lakeside'."""
    parts = {"/".join(p.split("/")[: i + 1]) for p in paths for i in range(p.count("/") + 1)}
    return sorted(parts, key=lambda p: (p.count("/"), p))


__all__ = ["register_org_units", "with_parents"]
