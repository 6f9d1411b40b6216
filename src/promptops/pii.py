"""The one PII detector: Microsoft Presidio's recognisers, fully offline. Serving redacts
logged inputs and refuses inputs with it; the evalset scan flags cases with it.

Presidio normally wants a downloaded spaCy model; a blank English pipeline saved to a cache
folder and passed by path stops it from downloading anything (it only downloads a model given
by name). Without a trained pipeline there is no named-entity recognition, so only the
pattern-and-checksum recognisers run: email, phone numbers (libphonenumber), credit cards
(Luhn), IBAN (mod-97), IP addresses and US social security numbers. **Names, places and
organisations are not detected**, nor is free-text PII (addresses, dates of birth). tldextract's
public-suffix download (used by the email recogniser) is switched off: offline it hangs or logs
connection errors.

spaCy's thinc imports torch, and Presidio imports transformers, whenever they are installed,
though a blank pipeline and pattern recognisers use neither; the detector is built with both
refused to the building thread, so a PII scan costs no model stack (`promptops.extras`).
This module imports none of it until `load_redactor` is called.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
)
NOT_DETECTED = "person names, locations, organisations, postal addresses and dates of birth"
SCORE_THRESHOLD = 0.4  # Presidio's default of 0 would keep every weak pattern hit
_UNUSED_STACK = ("torch", "transformers")


def _cache_dir() -> Path:
    root = os.environ.get("PROMPTOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "promptops"
    )
    return Path(root)


def blank_pipeline_path() -> Path:
    """A blank English spaCy pipeline on disk (written once): the path Presidio loads."""
    from importlib.metadata import version

    import spacy

    path = _cache_dir() / f"spacy-blank-en-{version('spacy')}"
    if not (path / "config.cfg").is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        spacy.blank("en").to_disk(tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process wrote it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _offline_tldextract() -> None:
    """The email recogniser calls `tldextract.extract`; make it use the bundled suffix
    snapshot only, never the network."""
    import tldextract

    setattr(tldextract, "extract", tldextract.TLDExtract(suffix_list_urls=()))  # noqa: B010


class _RefuseInThisThread:
    """A meta-path finder that makes `names` look uninstalled to one thread only, so another
    thread that imports torch meanwhile (a model loading) is not affected."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if threading.get_ident() == self.thread and name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextmanager
def _without(names: Sequence[str]) -> Iterator[None]:
    finder = _RefuseInThisThread([n for n in names if n not in sys.modules])
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def _may_hold_pii(text: str) -> bool:
    """Every entity of `ENTITIES` holds a digit, an `@` or (IPv6, `abcd::ef`) a `:`: a text
    with none of them skips the analyzer (most of a typical evalset), at no change to what
    is found."""
    return "@" in text or ":" in text or any(ch.isdigit() for ch in text)


@dataclass(frozen=True)
class Span:
    """One detected entity: `text[start:end]` is a `kind` (a Presidio entity type)."""

    start: int
    end: int
    kind: str
    score: float


@dataclass
class Redactor:
    """Finds PII (`spans`, `find`) and replaces it with `<ENTITY_TYPE>` (`redact`)."""

    analyzer: Any
    anonymizer: Any

    def _analyze(self, text: str, entities: Sequence[str]) -> list[Any]:
        if not _may_hold_pii(text) and set(entities) <= set(ENTITIES):
            return []
        found: list[Any] = self.analyzer.analyze(
            text=text, language="en", entities=list(entities), score_threshold=SCORE_THRESHOLD
        )
        return found

    def spans(self, text: str, entities: Sequence[str] = ENTITIES) -> list[Span]:
        """Non-overlapping entities in text order; where two overlap, the higher score (then
        the longer span) keeps the text."""
        if not text:
            return []
        found = sorted(
            self._analyze(text, entities), key=lambda r: (-r.score, r.start - r.end, r.start)
        )
        kept: list[Span] = []
        for r in found:
            if all(r.end <= k.start or r.start >= k.end for k in kept):
                kept.append(Span(r.start, r.end, r.entity_type, float(r.score)))
        return sorted(kept, key=lambda span: span.start)

    def find(self, text: str, entities: Sequence[str] = ENTITIES) -> list[str]:
        """The entity types found in `text`, sorted, each once."""
        if not text:
            return []
        return sorted({r.entity_type for r in self._analyze(text, entities)})

    def redact(self, text: str) -> str:
        if not text:
            return text
        found = self._analyze(text, ENTITIES)
        if not found:
            return text
        return str(self.anonymizer.anonymize(text=text, analyzer_results=found).text)


def load_redactor() -> Redactor:
    """Build the analyzer on the blank pipeline and warm it up (the first call is slow)."""
    with _without(_UNUSED_STACK):
        _offline_tldextract()
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine

        config = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": str(blank_pipeline_path())}],
        }
        nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=["en"])
        analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=["en"],
            default_score_threshold=SCORE_THRESHOLD,
        )
        anonymizer: Any = AnonymizerEngine
        redactor = Redactor(analyzer, anonymizer())
        redactor.redact("warm-up: write to a@example.com, call +1 415 555 0100")
    return redactor


@functools.cache
def shared_redactor() -> Redactor:
    """One redactor per process for scans (built on first use, about two seconds)."""
    return load_redactor()
