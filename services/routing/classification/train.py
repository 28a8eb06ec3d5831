"""Build the complaint model (``model.json``) from the labelled complaints in the repository.

    careloop classifier train            # write services/routing/classification/model.json
    careloop classifier train --check    # rebuild it and fail unless it equals the committed file

The training data is every file of :data:`TRAINING_FILES` (JSON lines, the fields of
``tests/routing/data/eval/tuning.jsonl``); add labelled complaints there (or a new file beside
them, listed here) and train again. The held-out part (``heldout.jsonl``) is never read here:
:func:`load_training` refuses it.

How it is built, deterministically (same files, same library versions: the same bytes):

1. each complaint is read as the classifier reads it (rules first) and turned into features
   (``model.py``); features seen in fewer than :data:`MIN_COUNT` complaints are dropped;
2. four L2-regularised logistic regressions (scikit-learn, lbfgs): subject, class, importance over
   all complaints, validity over the class-1 complaints; the regularisation strength is picked by a
   5-fold cross-validation on the training data (fixed folds);
3. the subject and class are chosen together among the pairs at least :data:`MIN_PAIR` labelled
   complaints show (a building defect is class 2, the surroundings class 3, the rest class 1,
   unless the data shows otherwise often enough);
4. from the same cross-validation: a complaint is important when the rules find one of its
   reasons or the model's probability is above a threshold, the highest that still finds
   :data:`IMPORTANT_RECALL` of the important complaints labelled by the written guide; the
   triage threshold sends
   :data:`TRIAGE_SHARE` of the complaints, the least certain ones, to a person;
5. weights are rounded to 3 decimals; features whose weights are all below :data:`MIN_WEIGHT` are left
   out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.routing.classification.classifier import Rules, default_rules, model_features
from services.routing.classification.evaluate import LabelledComplaint, load_examples
from services.routing.classification.model import DEFAULT_MODEL_PATH, ComplaintModel

DATA = Path(__file__).resolve().parents[3] / "tests" / "routing" / "data"
TRAINING_FILES = (DATA / "labelled_complaints.jsonl", DATA / "eval" / "tuning.jsonl")
HELDOUT_FILE = DATA / "eval" / "heldout.jsonl"
MIN_COUNT = 2
#: a (subject, class) pair is one the model may choose when at least this many complaints show it
MIN_PAIR = 5
#: features whose weights are all smaller than this (after rounding to 3 decimals) are left out
MIN_WEIGHT = 0.01
C_GRID = (1.0, 3.0, 10.0, 30.0)
IMPORTANT_RECALL = 0.95
TRIAGE_SHARE = 0.12
FOLDS = 5


def load_training(paths: Sequence[Path] = TRAINING_FILES) -> list[LabelledComplaint]:
    examples: list[LabelledComplaint] = []
    for path in paths:
        if path.resolve() == HELDOUT_FILE.resolve():
            raise ValueError("the held-out complaints are for the evaluation only, never for training")
        if path.exists():
            examples.extend(load_examples(path))
    return examples


def features_of(example: LabelledComplaint, rules: Rules) -> set[str]:
    return model_features(example.text, kind=example.kind, channel=example.channel,
                          project_stage=example.project_stage, org_path=example.org_path, rules=rules)


def _matrix(rows: list[set[str]], vocabulary: dict[str, int]) -> Any:
    from scipy.sparse import csr_matrix

    data, indices, indptr = [], [], [0]
    for features in rows:
        value = 1.0 / len(features) ** 0.5 if features else 0.0
        known = sorted(vocabulary[f] for f in features if f in vocabulary)
        indices.extend(known)
        data.extend([value] * len(known))
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), len(vocabulary)))


def _fit(x: Any, y: list[Any], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit(x, y)


def _folds(labels: list[str]) -> list[tuple[list[int], list[int]]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=20261204)
    return [(list(a), list(b)) for a, b in splitter.split([[0]] * len(labels), labels)]


def _head(model: Any, vocabulary: dict[str, int]) -> dict[str, Any]:
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    coef = model.coef_
    weights = {}
    for j, name in enumerate(names):
        row = [round(float(coef[i][j]), 3) for i in range(coef.shape[0])]
        if max(abs(w) for w in row) >= MIN_WEIGHT:
            weights[name] = [w + 0.0 for w in row]  # no -0.0
    return {"labels": [str(c) for c in model.classes_], "intercept": [round(float(b), 4) + 0.0 for b in model.intercept_],
            "weights": dict(sorted(weights.items()))}


def train(examples: list[LabelledComplaint], rules: Rules | None = None) -> dict[str, Any]:
    import numpy as np

    rules = rules or default_rules()
    rows = [features_of(e, rules) for e in examples]
    counts: dict[str, int] = {}
    for features in rows:
        for f in features:
            counts[f] = counts.get(f, 0) + 1
    vocabulary = {f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= MIN_COUNT))}
    x = _matrix(rows, vocabulary)
    categories = [e.category.value for e in examples]
    classes = [str(e.complaint_class) for e in examples]
    important = [int(e.important) for e in examples]
    class1 = [i for i, e in enumerate(examples) if e.complaint_class == 1]
    valid = [int(examples[i].valid) for i in class1]
    folds = _folds(categories)
    pair_counts: dict[tuple[str, int], int] = {}
    for e in examples:
        pair_counts[(e.category.value, e.complaint_class)] = pair_counts.get((e.category.value, e.complaint_class), 0) + 1
    pairs = sorted(p for p, n in pair_counts.items() if n >= MIN_PAIR)

    def cv_accuracy(y: list[str], c: float) -> float:
        right = 0
        for train_idx, test_idx in folds:
            fitted = _fit(x[train_idx], [y[i] for i in train_idx], c)
            right += sum(p == y[i] for p, i in zip(fitted.predict(x[test_idx]), test_idx, strict=True))
        return right / len(y)

    c_category = max(C_GRID, key=lambda c: (cv_accuracy(categories, c), -c))
    c_class = max(C_GRID, key=lambda c: (cv_accuracy(classes, c), -c))
    c_binary = c_category

    # Cross-validated probabilities for the thresholds.
    allowed = set(pairs)
    confidences: list[float] = [0.0] * len(examples)
    p_important: list[float] = [0.0] * len(examples)
    for train_idx, test_idx in folds:
        cat = _fit(x[train_idx], [categories[i] for i in train_idx], c_category)
        cls = _fit(x[train_idx], [classes[i] for i in train_idx], c_class)
        imp = _fit(x[train_idx], [important[i] for i in train_idx], c_binary)
        pc, pk, pi = cat.predict_proba(x[test_idx]), cls.predict_proba(x[test_idx]), imp.predict_proba(x[test_idx])
        for row, i in enumerate(test_idx):
            joint = [pc[row][a] * pk[row][b] for a, c in enumerate(cat.classes_) for b, k in enumerate(cls.classes_)
                     if (c, int(k)) in allowed]
            confidences[i] = max(joint) / (sum(joint) or 1.0)
            p_important[i] = float(pi[row][list(imp.classes_).index(1)])
    triage = float(np.quantile(confidences, TRIAGE_SHARE))
    # Important: a reason the rules found, or the model's probability above the threshold. The
    # threshold: the highest that still finds IMPORTANT_RECALL of the important complaints the
    # rules miss, over the complaints labelled by the written guide (its reasons; the older set
    # was labelled more loosely).
    judged = [i for i, e in enumerate(examples) if e.by_guide] or list(range(len(examples)))
    by_rules = [any(f.startswith("rimp:") for f in rows[i]) for i in range(len(examples))]
    wanted = sum(important[i] for i in judged)
    important_threshold = 0.5
    for candidate in sorted({round(p_important[i], 4) for i in judged}, reverse=True):
        found = sum(important[i] and (by_rules[i] or p_important[i] >= candidate) for i in judged)
        important_threshold = candidate
        if found >= IMPORTANT_RECALL * wanted:
            break

    heads = {
        "category": _head(_fit(x, categories, c_category), vocabulary),
        "class": _head(_fit(x, classes, c_class), vocabulary),
        "important": _head(_fit(x, important, c_binary), vocabulary),
        "valid": _head(_fit(x[class1], valid, c_binary), vocabulary),
    }
    digest = hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()[:10]
    return {
        "version": f"m-{digest}",
        "trained_on": {"complaints": len(examples), "features": len(vocabulary),
                       "files": [str(p.relative_to(DATA.parents[2])) for p in TRAINING_FILES if p.exists()],
                       "rules_version": rules.version, "C": {"category": c_category, "class": c_class, "binary": c_binary}},
        "thresholds": {"triage": round(triage, 4), "important": round(important_threshold, 4), "valid": 0.5},
        "important_when_rules_find_a_reason": True,
        "pairs": [list(p) for p in pairs],
        "heads": heads,
    }


def dumps(model: dict[str, Any]) -> str:
    """JSON with one feature's weights per line (a retraining's diff reads feature by feature)."""
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    heads = model["heads"]
    lines = ["{"]
    for key in sorted(k for k in model if k != "heads"):
        lines.append(f"{compact(key)}:{compact(model[key])},")
    lines.append('"heads":{')
    for h, name in enumerate(sorted(heads)):
        head = heads[name]
        lines.append(f'{compact(name)}:{{"intercept":{compact(head["intercept"])},"labels":{compact(head["labels"])},')
        lines.append('"weights":{')
        items = list(head["weights"].items())
        lines += [f"{compact(f)}:{compact(w)}{',' if i < len(items) - 1 else ''}" for i, (f, w) in enumerate(items)]
        lines.append("}}" + ("," if h < len(heads) - 1 else ""))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def cross_validate(examples: list[LabelledComplaint]) -> int:
    """Train on four fifths of the training data, classify the fifth, five times; print the figures
    of ``careloop classifier evaluate`` over the five fifths (an estimate, for tuning: the held-out
    figures are the ones that count)."""
    from services.routing.classification.classifier import classify
    from services.routing.classification.figures import print_report

    rules = default_rules()
    pairs = []
    for train_idx, test_idx in _folds([e.category.value for e in examples]):
        model = ComplaintModel.from_json(train([examples[i] for i in train_idx], rules))
        for i in test_idx:
            e = examples[i]
            pairs.append((e, classify(e.text, kind=e.kind, channel=e.channel, project_stage=e.project_stage,
                                      org_path=e.org_path, rules=rules, model=model)))
    print_report(pairs, [], rules, None, source=f"{FOLDS}-fold cross-validation of the training files")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="careloop classifier train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild and compare with the committed model file")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--cross-validate", action="store_true",
                        help="estimate the figures by cross-validation on the training files (writes nothing)")
    args = parser.parse_args(argv)
    examples = load_training()
    if args.cross_validate:
        return cross_validate(examples)
    built = dumps(train(examples))
    ComplaintModel.from_json(json.loads(built))  # it loads
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != built:
            print(f"{args.out} differs from what the training files build: run careloop classifier train",
                  file=sys.stderr)
            return 1
        print(f"{args.out}: rebuilt byte for byte from {len(examples)} labelled complaints")
        return 0
    args.out.write_text(built, encoding="utf-8")
    print(f"wrote {args.out} ({len(built) // 1024} KiB) from {len(examples)} labelled complaints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
