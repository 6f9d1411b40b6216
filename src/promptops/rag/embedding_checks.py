"""Does the embedding model fit the corpus? Its sequence limit and its language, as findings.

Two silent failures of dense retrieval, made loud:

- Sequence limit: a sentence-transformers model reads at most `max_seq_length` word pieces of
  its own tokenizer ([CLS] and [SEP] included) and drops the rest without a word. Chunks are
  sized in tiktoken tokens, which are not word pieces (on COVID-QA 256 tiktoken tokens are
  about 280 MiniLM pieces), so every chunk is counted in the model's tokenizer: how many are
  longer than the limit, and how many pieces the model never sees.
- Language: the corpus's and the queries' languages are detected with py3langid (an offline
  model shipped in the package) and compared with the language the model card declares
  (`language:` in the README front matter of the model folder; all-MiniLM-L6-v2 says `en`).
  A mismatch is a warning; a model card that declares none is an info finding.

Detection votes over texts: each document's first `LANGUAGE_SAMPLE_CHARS` characters, each
query; the majority language and its share are reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptops.rag.chunking import Chunk
from promptops.runs.summary import Finding

LANGUAGE_SAMPLE_CHARS = 2000
MAX_LISTED = 10
_LANGUAGE_LINE = re.compile(r"^language:\s*(.*)$")
_LIST_ITEM = re.compile(r"^\s*-\s+(\S+)\s*$")


@dataclass(frozen=True)
class SequenceOverflow:
    """Chunks measured in the embedding model's own tokenizer."""

    limit: int
    chunks: int
    over: int
    pieces_cut: int
    longest: int
    over_ids: tuple[str, ...]


def measure_sequences(chunks: Sequence[Chunk], model_path: Path) -> SequenceOverflow:
    """Word pieces per chunk's retrieval text against the model's `max_seq_length`."""
    from promptops.embeddings import load_sentence_model

    model = load_sentence_model(model_path)
    limit = int(model.max_seq_length or 0)
    texts = [c.retrieval_text for c in chunks]
    lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    over = [(c.chunk_id, n) for c, n in zip(chunks, lengths, strict=True) if n > limit]
    return SequenceOverflow(
        limit=limit,
        chunks=len(chunks),
        over=len(over),
        pieces_cut=sum(n - limit for _, n in over),
        longest=max(lengths, default=0),
        over_ids=tuple(cid for cid, _ in over),
    )


def sequence_finding(overflow: SequenceOverflow, model: str) -> Finding:
    if not overflow.over:
        return Finding(
            check="embedding_sequence_limit",
            severity="info",
            message=f"every chunk fits {model}'s {overflow.limit} word pieces (longest "
            f"{overflow.longest})",
        )
    return Finding(
        check="embedding_sequence_limit",
        severity="warning",
        message=f"{overflow.over} of {overflow.chunks} chunks are longer than {model}'s "
        f"{overflow.limit} word pieces: {overflow.pieces_cut} pieces are cut off unseen by "
        f"dense retrieval (longest chunk {overflow.longest}); use smaller chunks",
        details=list(overflow.over_ids[:MAX_LISTED]),
    )


def model_languages(model_path: Path) -> tuple[str, ...]:
    """Languages the model card declares (`language: en` or a YAML list), else ()."""
    card = model_path / "README.md"
    if not card.is_file():
        return ()
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return ()
    found: list[str] = []
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            break
        match = _LANGUAGE_LINE.match(line)
        if match is None:
            continue
        value = match.group(1).strip()
        if value:
            found += [v.strip(" '\"") for v in value.strip("[]").split(",") if v.strip()]
        for item in lines[i + 1 :]:
            item_match = _LIST_ITEM.match(item)
            if item_match is None:
                break
            found.append(item_match.group(1).strip("'\""))
    return tuple(found)


@dataclass(frozen=True)
class LanguageVote:
    language: str
    share: float
    texts: int


def detect_language(texts: Sequence[str]) -> LanguageVote | None:
    """The majority language of the texts by py3langid (None when no text has letters)."""
    import py3langid

    votes = Counter(
        str(py3langid.classify(text[:LANGUAGE_SAMPLE_CHARS])[0])
        for text in texts
        if any(ch.isalpha() for ch in text)
    )
    if not votes:
        return None
    language, count = votes.most_common(1)[0]
    return LanguageVote(language, count / sum(votes.values()), sum(votes.values()))


def language_findings(
    corpus: Sequence[str], queries: Sequence[str], model_path: Path, model: str
) -> list[Finding]:
    declared = model_languages(model_path)
    findings = []
    for what, texts in (("corpus", corpus), ("queries", queries)):
        vote = detect_language(texts)
        if vote is None:
            continue
        seen = f"{what} language: {vote.language} ({vote.share:.0%} of {vote.texts} texts)"
        if not declared:
            findings.append(
                Finding(
                    check="embedding_language",
                    severity="info",
                    message=f"{seen}; {model}'s model card declares no language to compare",
                )
            )
        elif vote.language not in declared:
            findings.append(
                Finding(
                    check="embedding_language",
                    severity="warning",
                    message=f"{seen}, but {model} is a {'/'.join(declared)} model: dense "
                    "retrieval and reranking will be weak; use a model for that language",
                )
            )
        else:
            findings.append(
                Finding(
                    check="embedding_language",
                    severity="info",
                    message=f"{seen}, a language of {model} ({'/'.join(declared)})",
                )
            )
    return findings


def embedding_findings(
    chunks: Sequence[Chunk], corpus: Sequence[str], queries: Sequence[str], model: str | None
) -> list[Finding]:
    """Both checks for the dense retriever's model (`None` = the bundled MiniLM)."""
    from promptops.embeddings import BUNDLED_MODEL_ID, resolve_model_path

    path = resolve_model_path(model)
    name = BUNDLED_MODEL_ID.split("/")[-1] if model is None else path.name
    return [
        sequence_finding(measure_sequences(chunks, path), name),
        *language_findings(corpus, queries, path, name),
    ]
