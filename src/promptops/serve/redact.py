"""PII redaction for logged inputs, with Microsoft Presidio's recognisers, fully offline.

Presidio normally wants a downloaded spaCy model; a blank English pipeline saved to a cache
folder and passed by path stops it from downloading anything (it only downloads a model given
by name). Without a trained pipeline there is no named-entity recognition, so only the
pattern-and-checksum recognisers run: email, phone numbers, credit cards (Luhn), IBAN
(mod-97), IP addresses and US social security numbers. **Names, places and organisations are
not detected**, nor is free-text PII (addresses, dates of birth): logging raw inputs with
`--log-inputs` still needs that risk accepted. tldextract's public-suffix download (used by
the email recogniser) is switched off: offline it hangs or logs connection errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass
class Redactor:
    """`redact(text)` replaces each detected entity with `<ENTITY_TYPE>`."""

    analyzer: Any
    anonymizer: Any

    def find(self, text: str, entities: tuple[str, ...] = ENTITIES) -> list[str]:
        """The entity types found in `text`, sorted, each once."""
        if not text:
            return []
        found = self.analyzer.analyze(
            text=text, language="en", entities=list(entities), score_threshold=SCORE_THRESHOLD
        )
        return sorted({r.entity_type for r in found})

    def redact(self, text: str) -> str:
        if not text:
            return text
        found = self.analyzer.analyze(
            text=text, language="en", entities=list(ENTITIES), score_threshold=SCORE_THRESHOLD
        )
        if not found:
            return text
        return str(self.anonymizer.anonymize(text=text, analyzer_results=found).text)


def load_redactor() -> Redactor:
    """Build the analyzer on the blank pipeline and warm it up (the first call is slow)."""
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
    redactor.redact("warm-up: write to a@example.com")
    return redactor
