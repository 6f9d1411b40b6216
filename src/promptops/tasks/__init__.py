"""Task types beyond classification: binary, scoring, extraction and generation prompts."""
