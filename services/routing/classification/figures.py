"""The figures a quality department asks of the classifier, and ``careloop classifier evaluate``.

    careloop classifier evaluate [--data FILE] [--rules-only] [--model FILE]

Measured on the held-out labelled complaints (``tests/routing/data/eval/heldout.jsonl``), which no
rule and no model was tuned on (``train.py`` refuses to read them). Printed: each figure beside its
target, the confusion matrix of the subject, the figures per language and per writing style, the
triage queue against the complaints a labeller marked ambiguous, the time per complaint, and
every complaint the classifier got wrong. Exits 1 when a target is missed.

The figures (docs/domain.md, "Labelling complaints"):

* subject (category), class and valid flag: share right of all complaints;
* important: recall (important ones found) and precision (of those flagged, truly important);
* wrong lead department: complaints sent on without triage to a lead department other than the one
  their true subject and class call for (the routing table, class 2 to engineering quality), as a
  share of all complaints; a complaint sent to triage is routed by a person;
* sent to triage: share of all complaints; and how many of those the labeller marked ambiguous.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from services.routing.classification.classifier import Classification, Rules, classify, load_rules, route_for_class
from services.routing.classification.evaluate import _ABBREVIATION, LabelledComplaint, load_examples
from services.routing.classification.model import ComplaintModel, load_model
from shared.events.vocabulary import ComplaintCategory as Cat

HELDOUT = Path(__file__).resolve().parents[3] / "tests" / "routing" / "data" / "eval" / "heldout.jsonl"

#: figure -> (target, True when higher is better)
TARGETS: dict[str, tuple[float, bool]] = {
    "category": (0.90, True),
    "class": (0.95, True),
    "valid": (0.95, True),
    "important_recall": (0.95, True),
    "important_precision": (0.70, True),
    "wrong_lead": (0.05, False),
    "triage": (0.15, False),
}
_NAMES = {
    "category": "投诉主题 subject", "class": "投诉类别 class 1/2/3", "valid": "有效投诉 valid",
    "important_recall": "重要投诉查全 important recall", "important_precision": "重要投诉查准 important precision",
    "wrong_lead": "牵头部门错误 wrong lead department", "triage": "转人工 sent to triage",
}
_SHORT = _ABBREVIATION


@dataclass
class Figures:
    count: int
    values: dict[str, float]
    confusion: Counter[tuple[Cat, Cat]] = field(default_factory=Counter)
    triaged: int = 0
    triaged_ambiguous: int = 0
    ambiguous: int = 0

    def missed(self) -> list[str]:
        out = []
        for name, (target, higher) in TARGETS.items():
            value = self.values[name]
            if (value < target) if higher else (value > target):
                out.append(f"{name} {value:.1%} {'<' if higher else '>'} {target:.0%}")
        return out


def figures(pairs: Sequence[tuple[LabelledComplaint, Classification]], rules: Rules) -> Figures:
    n = len(pairs) or 1

    def lead(category: Cat, complaint_class: int, org_path: str | None) -> str:
        route, _ = rules.route(category, org_path)
        return route_for_class(complaint_class, route.lead, route.assisting)[0].value

    flagged = [(e, r) for e, r in pairs if r.important]
    important = [(e, r) for e, r in pairs if e.important]
    wrong_lead = sum(not r.needs_triage and lead(r.category, r.complaint_class, e.org_path)
                     != lead(e.category, e.complaint_class, e.org_path) for e, r in pairs)
    triaged = [(e, r) for e, r in pairs if r.needs_triage]
    return Figures(
        count=len(pairs),
        values={
            "category": sum(r.category is e.category for e, r in pairs) / n,
            "class": sum(r.complaint_class == e.complaint_class for e, r in pairs) / n,
            "valid": sum(r.valid == e.valid for e, r in pairs) / n,
            "important_recall": sum(r.important for e, r in important) / len(important) if important else 1.0,
            "important_precision": sum(e.important for e, r in flagged) / len(flagged) if flagged else 1.0,
            "wrong_lead": wrong_lead / n,
            "triage": len(triaged) / n,
        },
        confusion=Counter((e.category, r.category) for e, r in pairs),
        triaged=len(triaged),
        triaged_ambiguous=sum(e.ambiguous for e, r in triaged),
        ambiguous=sum(e.ambiguous for e, r in pairs),
    )


def classify_all(examples: Sequence[LabelledComplaint], rules: Rules, model: ComplaintModel | None,
                 ) -> tuple[list[tuple[LabelledComplaint, Classification]], list[float]]:
    """Each complaint classified, with the time each took (ms), after one warm-up pass."""
    def one(e: LabelledComplaint) -> Classification:
        return classify(e.text, kind=e.kind, channel=e.channel, project_stage=e.project_stage,
                        org_path=e.org_path, rules=rules, model=model)

    for e in examples[:20]:
        one(e)  # the segmenter's dictionary is loaded once, before timing
    pairs, times = [], []
    for e in examples:
        start = time.perf_counter()
        result = one(e)
        times.append((time.perf_counter() - start) * 1000)
        pairs.append((e, result))
    return pairs, times


def print_report(pairs: Sequence[tuple[LabelledComplaint, Classification]], times: Sequence[float], rules: Rules,
                 model: ComplaintModel | None, *, source: str, out: TextIO = sys.stdout,
                 misses: bool = True) -> Figures:
    total = figures(pairs, rules)
    p = print
    p(f"评估 evaluation: {len(pairs)} held-out complaints from {source}", file=out)
    p(f"规则 rules {rules.version}; 模型 model {model.version if model else '— (rules only)'}", file=out)
    p(f"\n{'figure':<44}{'value':>8}{'target':>10}", file=out)
    for name, (target, higher) in TARGETS.items():
        value = total.values[name]
        ok = value >= target if higher else value <= target
        p(f"{_NAMES[name]:<44}{value:>8.1%}{('≥' if higher else '≤') + format(target, '.0%'):>10}  "
          f"{'ok' if ok else 'MISSED'}", file=out)
    p(f"\n转人工 triage: {total.triaged} complaints, {total.triaged_ambiguous} of them marked ambiguous "
      f"(ambiguous in the set: {total.ambiguous})", file=out)
    if times:
        ordered = sorted(times)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        p(f"耗时 time per complaint: median {statistics.median(times):.2f} ms, p99 {p99:.2f} ms (target p99 < 5 ms)",
          file=out)

    p("\n混淆矩阵 confusion matrix (rows: label, columns: classifier)", file=out)
    cats = list(Cat)
    p(" " * 10 + "".join(f"{_SHORT[c]:>10}" for c in cats), file=out)
    for gold in cats:
        p(f"{_SHORT[gold]:<10}" + "".join(f"{total.confusion[(gold, got)]:>10}" for got in cats), file=out)
    classes = Counter((e.complaint_class, r.complaint_class) for e, r in pairs)
    p("\nclass (label -> classifier): " + ", ".join(f"{a}->{b}: {n}" for (a, b), n in sorted(classes.items())),
      file=out)

    def group(title: str, key: Callable[[LabelledComplaint], Sequence[str]]) -> None:
        p(f"\n{title}", file=out)
        names = sorted({k for e, _ in pairs for k in key(e)})
        for name in names:
            part = [(e, r) for e, r in pairs if name in key(e)]
            f = figures(part, rules)
            p(f"  {name:<16}{len(part):>5}  subject {f.values['category']:6.1%}  class {f.values['class']:6.1%}  "
              f"valid {f.values['valid']:6.1%}  triage {f.values['triage']:6.1%}", file=out)

    group("按语言 by language", lambda e: (e.language,))
    group("按写法 by style", lambda e: e.style)

    if not misses:
        return total
    wrong = [(e, r) for e, r in pairs if r.category is not e.category or r.complaint_class != e.complaint_class
             or r.valid != e.valid or r.important != e.important]
    p(f"\n判错 wrong somewhere ({len(wrong)}):", file=out)
    for e, r in wrong:
        p(f"  [{e.id}] {_SHORT[e.category]}/{e.complaint_class}/{'V' if e.valid else '-'}/{'I' if e.important else '-'}"
          f" -> {_SHORT[r.category]}/{r.complaint_class}/{'V' if r.valid else '-'}/{'I' if r.important else '-'}"
          f" conf {r.confidence:.2f}{' triage' if r.needs_triage else ''}: {e.text[:70]}", file=out)
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careloop classifier evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HELDOUT, help="labelled complaints (JSON lines)")
    parser.add_argument("--rules", type=Path, default=None, help="rule file (default: the shipped rules.toml)")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the shipped model.json)")
    parser.add_argument("--rules-only", action="store_true", help="the rules alone, without the model")
    parser.add_argument("--quiet", action="store_true", help="figures only, not every wrong complaint")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules)
    model = None if args.rules_only else load_model(args.model)
    examples = load_examples(args.data)
    pairs, times = classify_all(examples, rules, model)
    total = print_report(pairs, times, rules, model, source=str(args.data), misses=not args.quiet)
    missed = total.missed()
    for line in missed:
        print(f"MISSED: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
