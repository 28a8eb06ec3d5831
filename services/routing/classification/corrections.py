"""Staff corrections as labelled complaints for the next training round.

    careloop classifier corrections [--since 2026-11-01] [--out corrections.jsonl]

Every complaint a person reclassified (``ComplaintReclassified``; routing's case history, action
``reclassify``) is written as one labelled complaint in the format of the training files
(``tests/routing/data/eval/tuning.jsonl``): the labels are the person's (the case's latest), the
text is the complaint's as intake received it, with personal data masked by the one detector
(phones, ID-card and bank-card numbers, e-mail addresses and the customer's registered names: see
``shared/pii_detect.py``). Beside the labels: what the classifier had said, who corrected it and
when. Review the lines, then add them to a training file and run ``careloop classifier train``.

Needs ``CARELOOP_DB_ADMIN_URL`` (it reads routing's and intake's tables).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from shared.pii_detect import mask_personal_data
from shared.settings import Settings, to_asyncpg_url

QUERY = """
SELECT DISTINCT ON (c.id)
       c.id, c.category, c.complaint_class, c.valid, c.important, c.kind, c.channel, c.project_stage,
       c.rules_fired, h.at, h.actor, f.text, cu.name, cu.company
FROM routing.case_history h
JOIN routing.cases c ON c.id = h.case_id
JOIN intake.feedback f ON f.id = c.feedback_id
LEFT JOIN intake.customers cu ON cu.id = f.customer_id
WHERE h.action = 'reclassify' AND h.at >= $1
ORDER BY c.id, h.at DESC
"""


def classifier_said(rules_fired: Sequence[str]) -> dict[str, Any] | None:
    """The model's own answer, as the case keeps it in ``rules_fired`` (a reclassification changes
    the labels, not what the classifier had found): ``model:<version>:<category>/<class>:<conf>``."""
    for entry in rules_fired:
        parts = entry.split(":")
        if len(parts) == 4 and parts[0] == "model" and "/" in parts[2]:
            category, _, klass = parts[2].partition("/")
            return {"category": category, "complaint_class": int(klass), "version": parts[1],
                    "confidence": float(parts[3])}
    return None


def labelled(row: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
    names = [n for n in (row["name"], row["company"]) if n]
    text = mask_personal_data(row["text"] or "", names=names)
    return {
        "id": f"corr-{row['id']}",
        "text": text,
        "language": "en" if text.isascii() else "zh",
        "kind": row["kind"],
        "channel": row["channel"],
        "project_stage": row["project_stage"],
        "category": row["category"],
        "complaint_class": row["complaint_class"],
        "valid": bool(row["valid"]),
        "important": bool(row["important"]),
        "source": "staff_correction",
        "corrected_by": row["actor"],
        "corrected_at": row["at"].astimezone(UTC).isoformat(),
        "classifier_said": previous,
    }


async def export(settings: Settings, *, since: date, out: TextIO) -> int:
    if not settings.db.admin_url:
        raise SystemExit("需要 CARELOOP_DB_ADMIN_URL / CARELOOP_DB_ADMIN_URL is needed (it reads routing and intake)")
    conn = await asyncpg.connect(to_asyncpg_url(settings.db.admin_url).replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(QUERY, datetime.combine(since, datetime.min.time(), UTC))
    finally:
        await conn.close()
    for row in rows:
        out.write(json.dumps(labelled(row, classifier_said(row["rules_fired"] or [])), ensure_ascii=False,
                             sort_keys=True) + "\n")
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careloop classifier corrections", description=__doc__.split("\n\n")[0])
    parser.add_argument("--since", type=date.fromisoformat, default=date(2000, 1, 1),
                        help="corrections made on or after this day (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=None, help="the file to write (default: standard output)")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.out is None:
        n = asyncio.run(export(settings, since=args.since, out=sys.stdout))
    else:
        with args.out.open("w", encoding="utf-8") as handle:
            n = asyncio.run(export(settings, since=args.since, out=handle))
    print(f"{n} 条人工改判 / corrections exported", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
