"""The embedding model's sequence limit and language as findings, with the real MiniLM
tokenizer (counted again with the `tokenizers` library) and the real py3langid model."""

from __future__ import annotations

from pathlib import Path

from promptops.embeddings import bundled_model_path
from promptops.rag import DENSE_CHUNK_SIZE, ChunkingConfig, chunk_corpus, load_corpus
from promptops.rag.embedding_checks import (
    detect_language,
    language_findings,
    measure_sequences,
    model_languages,
    sequence_finding,
)

ROOT = Path(__file__).resolve().parent.parent
COVID_CORPUS = ROOT / "evalsets" / "covid_qa" / "corpus.jsonl"


def _pieces_over(texts: list[str], limit: int) -> tuple[int, int]:
    """Counted again with the `tokenizers` library straight from the model's tokenizer.json."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    lengths = [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]
    return sum(n > limit for n in lengths), sum(max(0, n - limit) for n in lengths)


def test_chunks_over_minilms_limit_are_counted_and_the_dense_default_fits() -> None:
    docs = load_corpus(COVID_CORPUS)[:6]
    wide = chunk_corpus(docs, ChunkingConfig(size=256, overlap=0))
    overflow = measure_sequences(wide, bundled_model_path())
    assert overflow.limit == 256 and overflow.chunks == len(wide)
    expected = _pieces_over([c.retrieval_text for c in wide], 256)
    assert (overflow.over, overflow.pieces_cut) == expected
    assert overflow.over > len(wide) // 2 and overflow.pieces_cut > 0
    finding = sequence_finding(overflow, "all-MiniLM-L6-v2")
    assert finding.severity == "warning"
    assert f"{overflow.over} of {len(wide)} chunks" in finding.message
    assert f"{overflow.pieces_cut} pieces are cut off" in finding.message

    narrow = chunk_corpus(docs, ChunkingConfig(size=DENSE_CHUNK_SIZE, overlap=0))
    fits = measure_sequences(narrow, bundled_model_path())
    assert fits.over == 0 and fits.longest <= 256
    assert sequence_finding(fits, "m").severity == "info"


def test_model_card_languages(tmp_path: Path) -> None:
    assert model_languages(bundled_model_path()) == ("en",)
    (tmp_path / "README.md").write_text("---\nlicense: mit\nlanguage:\n- de\n- fr\n---\n# x\n")
    assert model_languages(tmp_path) == ("de", "fr")
    (tmp_path / "README.md").write_text("# no front matter\nlanguage: en\n")
    assert model_languages(tmp_path) == ()


GERMAN = [
    "Die Inkubationszeit des Virus beträgt meistens zwischen fünf und vierzehn Tagen.",
    "Die Patienten wurden im Krankenhaus behandelt und nach zwei Wochen entlassen.",
    "Masken verringern die Übertragung in geschlossenen Räumen deutlich.",
]


def test_language_mismatch_is_a_warning() -> None:
    vote = detect_language(GERMAN)
    assert vote is not None and vote.language == "de" and vote.share == 1.0
    english = ["How long is the incubation period of the virus?"]
    findings = language_findings(GERMAN, english, bundled_model_path(), "all-MiniLM-L6-v2")
    corpus, queries = findings
    assert corpus.severity == "warning" and "corpus language: de" in corpus.message
    assert "all-MiniLM-L6-v2 is a en model" in corpus.message
    assert queries.severity == "info" and "queries language: en" in queries.message
    assert detect_language(["1234", ""]) is None
