"""How much of a run the qrels judge: the check that catches a run in the wrong id space.

A run whose document ids do not match the qrels' (chunk ids such as ``429#0`` against
document-level judgments, another collection's ids, a different id field) scores 0 on every
measure and looks like a very bad system. trec_eval says nothing; we count instead. Only the
rankings of judged queries count (the others are ignored by the measures as well):

* ``retrieved``: (query, document) lines ranked for judged queries;
* ``judged``: those whose document has a judgment (any grade, 0 included) for that query;
* ``queries_hit``: judged queries that rank at least one judged document.

Few judged documents are normal on a sparsely judged collection (Cranfield judges about 8 of
1,400 documents per query, MS MARCO about 1 of 8.8 million), so a low fraction alone is no
alarm. A run is `suspicious` when it ranks documents but no judged one at all, or when fewer
than half of the judged queries it ranks find any judged document: on a real collection a
retriever's recall puts some judged document in most queries' rankings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CHUNK_ID = re.compile(r"^(.+)#\d+$")
SUSPICIOUS_QUERY_SHARE = 0.5
"""Below this share of ranked judged queries that find any judged document, the run warns."""


@dataclass(frozen=True)
class JudgedCoverage:
    """Counts of retrieved and judged documents over the judged queries a run ranks."""

    retrieved: int
    judged: int
    queries_ranked: int
    queries_hit: int
    chunk_like: int
    """Unjudged retrieved ids of the form ``<id>#<n>`` whose ``<id>`` is judged for the query."""

    @property
    def judged_fraction(self) -> float | None:
        return self.judged / self.retrieved if self.retrieved else None

    @property
    def suspicious(self) -> bool:
        if not self.retrieved:
            return False
        return self.judged == 0 or self.queries_hit < SUSPICIOUS_QUERY_SHARE * self.queries_ranked

    def warning(self) -> str | None:
        """The stderr line for a suspicious run, with the counts and the likely cause."""
        if not self.suspicious:
            return None
        hint = (
            "are these chunk ids? (`promptops retrieve` writes them only with --chunk-ids)"
            if self.chunk_like
            else "do the run and the qrels use the same document ids?"
        )
        return (
            f"warning: {self.judged:,} of {self.retrieved:,} retrieved documents are judged "
            f"({self.queries_hit:,} of {self.queries_ranked:,} ranked queries find any judged "
            f"document): {hint}"
        )


def judged_coverage(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> JudgedCoverage:
    """Count what the qrels judge of the run; see the module docstring."""
    retrieved = judged = ranked = hit = chunk_like = 0
    for qid, grades in qrels.items():
        ranking = run.get(qid)
        if not grades or not ranking:
            continue
        found = sum(1 for doc in ranking if doc in grades)
        ranked += 1
        hit += found > 0
        retrieved += len(ranking)
        judged += found
        for doc in ranking:
            match = _CHUNK_ID.match(doc)
            chunk_like += doc not in grades and match is not None and match[1] in grades
    return JudgedCoverage(retrieved, judged, ranked, hit, chunk_like)
