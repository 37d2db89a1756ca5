"""How well OmniPilot reads the names of real checkpoints people serve with vLLM.

For every line of tests/fixtures/served_model_names.txt (`name | truth`) it asks what the daemon
would know from the name alone — `know_model(Catalog.load(), name)`: a catalog entry (matched as
entry, variant, checkpoint or prefix), a shape read from the name (same family or stand-in), or
nothing — and scores it against the size a careful reader expects (total parameters within
+-15 %, `unknown`, or `embed` for an embedding/reranking model, which the job parser must set aside).
The dangerous case is a confident wrong size (high or medium confidence, e.g. an 8B distill read as
its 671B teacher): the shipped catalog must have none.

    .venv/bin/python benchmarks/model_names.py [--fixture PATH] [--show wrong,missed,all]

Prints one line per non-right name (or as asked), the shares, and the shares as one JSON object.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.model_names import know_model, resolve
from omnipilot.daemon.jobscript.parse import _POOLING_NAME

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "served_model_names.txt"
TOLERANCE = 0.15
# what the job parser itself reads as an embedding or reranking model (it sets the job aside)
POOLING_NAME = _POOLING_NAME


@dataclass(frozen=True)
class Scored:
    name: str
    truth: str  # a number of billions, 'unknown' or 'embed'
    got: float | None
    how: str  # entry / variant / checkpoint / prefix / same-family / stand-in / unknown / embed
    confidence: str | None
    verdict: str  # right / wrong / missed / embed-missed

    def line(self) -> str:
        got = "-" if self.got is None else f"{self.got:g}B"
        return f"{self.verdict:12} {self.name:60} truth {self.truth:8} got {got:9} {self.how} ({self.confidence or '-'})"


def read_fixture(path: Path = FIXTURE) -> list[tuple[str, str]]:
    rows = []
    for raw in path.read_text().splitlines():
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        name, truth = (p.strip() for p in text.split("|", 1))
        rows.append((name, truth))
    return rows


def score_one(catalog: Catalog, name: str, truth: str) -> Scored:
    if POOLING_NAME.search(name):
        verdict = "right" if truth == "embed" else "wrong"
        return Scored(name, truth, None, "embed", None, verdict)
    known = know_model(catalog, name)
    got = known.params_b if known.spec is not None else None
    if got is None:
        how = "unknown"
    elif known.name is not None:
        found = resolve(catalog, name)
        how = found.how if found is not None else "catalog"
    else:
        how = "same-family" if known.sources.get("family") == "name" and known.family != "unknown" else "stand-in"
        if known.notes and "stand-in" in known.notes[-1]:
            how = "stand-in"
    if truth == "embed":
        verdict = "embed-missed"
    elif got is None:
        verdict = "right" if truth == "unknown" else "missed"
    elif truth == "unknown":
        verdict = "wrong"  # a size the fixture says nothing can tell: a guess
    else:
        verdict = "right" if abs(got - float(truth)) <= TOLERANCE * float(truth) else "wrong"
    return Scored(name, truth, got, how, known.confidence, verdict)


def score(catalog: Catalog, rows: list[tuple[str, str]]) -> list[Scored]:
    return [score_one(catalog, n, t) for n, t in rows]


def summary(scored: list[Scored]) -> dict[str, float | int]:
    n = len(scored)

    def share(k: int) -> float:
        return round(100.0 * k / n, 1)

    resolved = sum(s.got is not None for s in scored)
    wrong = [s for s in scored if s.verdict == "wrong"]
    confident_wrong = [s for s in wrong if s.confidence in ("high", "medium")]
    return {
        "names": n,
        "resolved_pct": share(resolved),
        "right_pct": share(sum(s.verdict == "right" for s in scored)),
        "wrong_pct": share(len(wrong)),
        "confident_wrong": len(confident_wrong),
        "honest_unknown_pct": share(sum(s.verdict == "right" and s.truth == "unknown" for s in scored)),
        "missed_pct": share(sum(s.verdict == "missed" for s in scored)),
        "embed_missed": sum(s.verdict == "embed-missed" for s in scored),
        "catalog_pct": share(sum(s.how in ("entry", "variant", "checkpoint", "prefix") for s in scored)),
        "name_shape_pct": share(sum(s.how in ("same-family", "stand-in") for s in scored)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixture", type=Path, default=FIXTURE)
    ap.add_argument("--show", default="wrong,missed,embed-missed", help="verdicts to list, or 'all'")
    args = ap.parse_args()
    scored = score(Catalog.load(), read_fixture(args.fixture))
    show = set(args.show.split(","))
    for s in scored:
        if "all" in show or s.verdict in show:
            print(s.line())
    result = summary(scored)
    print(
        f"{result['names']} names: resolved {result['resolved_pct']} %, right {result['right_pct']} %, "
        f"wrong {result['wrong_pct']} % ({result['confident_wrong']} at high/medium confidence), "
        f"honestly unknown {result['honest_unknown_pct']} %, missed {result['missed_pct']} %, "
        f"embedding models not recognised {result['embed_missed']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
